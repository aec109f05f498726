"""The Teams bot over real HTTP: JWT-authenticated activities in, a fake connector out."""

from __future__ import annotations

import asyncio
import copy
import functools
import itertools
import json
import logging
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from adapters.teams.names import MemberNames
from app.server import DATABASE
from bot.settings import Settings
from bot.tasks import TaskTracker
from storage import outbox as outbox_store
from storage.models import ConversationAddress, Workspace
from tests.fakes.bot_framework import MESSAGE_WRITES_BLOCKED, FakeConnector
from tests.helpers import TEST_SECRET_KEY, outbox_settled, running_bot
from tests.schema_validation import validate_adaptive_card
from tests.teams_auth import (
    TEST_APP_ID,
    TEST_APP_PASSWORD,
    TEST_TENANT_ID,
    OpenIdServer,
    StaticTokenConnections,
    StaticTokenCredentialsFactory,
    TestKeys,
    bearer,
    mint_token,
)

ADMIN_AAD = "00000000-0000-4000-8000-00000000a11c"  # Alice in the samples
# The Teams adapters: botbuilder (adapters/teams/) and the Microsoft 365 Agents SDK
# (adapters/teams_agents/). A test runs on both with @pytest.mark.parametrize("sdk", TEAMS_SDKS).
TEAMS_SDKS = ("botbuilder", "agents")  # each test that runs the bot runs on both (`sdk`)


@pytest.fixture(params=TEAMS_SDKS)
def sdk(request: pytest.FixtureRequest) -> str:
    """Every test here that runs the bot runs it on both Teams adapters (other modules that
    import the `teams` fixture get conftest.py's `sdk`: botbuilder)."""
    return str(request.param)


def outbound_credentials(sdk: str) -> Any:
    """The fixed-token outbound credentials for the `sdk` adapter (tests/teams_auth.py)."""
    return StaticTokenConnections() if sdk == "agents" else StaticTokenCredentialsFactory()


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@functools.cache
def unendorsed_keys() -> TestKeys:
    """A genuine Bot Framework key, published beside ours, but not endorsed for Teams. (Not a
    fixture: the modules that import `openid` need nothing more.)"""
    return TestKeys(endorsements=("skype",))


@pytest.fixture
def openid(keys: TestKeys) -> Iterator[OpenIdServer]:
    with OpenIdServer(keys, unendorsed_keys()) as server:
        yield server


class TeamsHarness:
    def __init__(
        self,
        client: TestClient,
        connector: FakeConnector,
        keys: TestKeys,
        tasks: TaskTracker,
        samples,
        tenant: str,
    ) -> None:
        self.client, self.connector, self.keys = client, connector, keys
        self.tasks, self.samples, self.tenant = tasks, samples, tenant

    def activity(self, sample: str, **changes: Any) -> dict[str, Any]:
        """A shared sample, moved to this test's tenant and the fake connector. A given `id`
        is made this harness's own: the bot ignores an event id it has seen on the platform,
        and tests on both SDKs share a database."""
        activity = copy.deepcopy(json.loads((self.samples / sample).read_text()))
        activity["serviceUrl"] = self.connector.service_url
        activity["conversation"]["tenantId"] = self.tenant
        activity.setdefault("channelData", {})["tenant"] = {"id": self.tenant}
        given = changes.pop("id", None)
        activity["id"] = f"{given}:{self.tenant[:8]}" if given else uuid.uuid4().hex
        activity.update(changes)
        return activity

    def token(self, **claims: Any) -> str:
        return mint_token(
            self.keys, app_id=TEST_APP_ID, service_url=self.connector.service_url, **claims
        )

    async def post(
        self, activity: dict[str, Any], headers: dict[str, str] | None = None, drain: bool = True
    ):
        if headers is None:
            headers = {**bearer(self.token()), "Content-Type": "application/json"}
        response = await self.client.post(
            "/api/messages", data=json.dumps(activity).encode(), headers=headers
        )
        if drain:
            await self.settled()
        return response

    async def settled(self) -> None:
        """Wait for the acked work and for everything it queued to reach the fake."""
        await self.tasks.drain(15)
        await outbox_settled(self.client, "teams", self.tenant)

    async def say(
        self,
        text: str,
        sample: str = "message_channel_mention.json",
        user: dict[str, Any] | None = None,
    ) -> int:
        activity = self.activity(sample)
        if sample == "message_channel_mention.json":
            activity["text"] = f"<at>FinOps</at> {text}"
        else:
            activity["text"] = text
        if user is not None:
            activity["from"] = user
        return (await self.post(activity)).status

    def texts(self) -> str:
        return json.dumps([c.json for c in self.connector.calls], ensure_ascii=False)

    def cards(self) -> list[dict[str, Any]]:
        found = []
        for call in self.connector.calls:
            body = call.json or {}
            activity = body.get("activity") or body
            for attachment in activity.get("attachments") or []:
                found.append(attachment["content"])
        return found


@asynccontextmanager
async def running_teams(
    database_url: str,
    keys: TestKeys,
    metadata_url: str,
    shared_dir: Path,
    sdk: str = "botbuilder",
    **settings: Any,
) -> AsyncIterator[TeamsHarness]:
    """The bot's app with Teams configured against the fake connector and token issuer, on
    the `sdk` adapter; `settings` adds or overrides settings (e.g. FINOPS_PUBLIC_URL)."""
    async with FakeConnector() as connector:
        configured = Settings(
            DATABASE_URL=database_url,
            FINOPS_SECRET_KEY=TEST_SECRET_KEY,
            FINOPS_ADMINS=ADMIN_AAD,
            MicrosoftAppId=TEST_APP_ID,
            MicrosoftAppPassword=TEST_APP_PASSWORD,
            MicrosoftAppTenantId=TEST_TENANT_ID,
            FINOPS_TEAMS_OPENID_METADATA_URL=metadata_url,
            FINOPS_TEAMS_SERVICE_URL_ALLOWLIST="127.0.0.1",
            FINOPS_TEAMS_SDK=sdk,
            _env_file=None,
            **settings,
        )
        credentials = outbound_credentials(sdk)
        async with running_bot(configured, teams_credentials=credentials) as (client, tasks):
            yield TeamsHarness(
                client, connector, keys, tasks, shared_dir / "samples/teams", str(uuid.uuid4())
            )


@pytest.fixture
async def teams(
    database_url: str, keys, openid, shared_dir, sdk: str
) -> AsyncIterator[TeamsHarness]:
    async with running_teams(
        database_url, keys, openid.metadata_url, shared_dir, sdk=sdk
    ) as harness:
        yield harness


async def test_win_in_a_channel_is_celebrated_there_and_confirmed_privately(
    teams: TeamsHarness, shared_dir
):
    assert await teams.say("win Rightsized 40 dev VMs $3,200/mo #usage-optimization") == 201
    celebration = [
        c for c in teams.connector.calls_to("post") if c.conversation_id.startswith("19:general")
    ]
    assert len(celebration) == 1
    card = celebration[0].json["attachments"][0]["content"]
    assert "Rightsized 40 dev VMs" in json.dumps(card)
    schema = shared_dir / "schemas/adaptive-card-1.5/adaptive-card.schema.json"
    assert validate_adaptive_card(card, schema) == []
    # Teams has no ephemeral messages: the confirmation goes to a 1:1 chat with the author.
    opened = teams.connector.calls_to("create_conversation")
    assert [c.json["members"][0]["id"] for c in opened] == ["29:1user-alice-synthetic"]
    assert re.search(r"Logged win #\d+", teams.texts())
    assert all(c.token for c in teams.connector.calls)


async def test_a_rate_limited_celebration_is_sent_again_by_the_outbox(teams: TeamsHarness):
    # The private confirmation and the celebration are the first two posts: both get a 429.
    # Which comes first is up to the event loop (the outbox may beat the in-turn reply under
    # load), so the celebration meets one or both of them.
    teams.connector.fail_next("post", status=429, retry_after=1, times=2)
    assert await teams.say("win Deleted idle disks $400/mo") == 201
    channel = [
        c for c in teams.connector.calls_to("post") if c.conversation_id.startswith("19:general")
    ]
    statuses = [c.status for c in channel]
    assert statuses in ([429, 201], [429, 429, 201]), statuses
    for earlier, later in itertools.pairwise(channel):
        assert later.at - earlier.at >= 1.0  # Retry-After honoured each time
    assert len(teams.connector.sent(channel[-1].conversation_id)) == 1


async def test_a_welcome_to_someone_who_blocked_the_bot_is_dead_not_retried(
    teams: TeamsHarness,
):
    admin = {"id": "29:1user-alice-synthetic", "aadObjectId": ADMIN_AAD, "name": "Alice"}
    await teams.say("config community-channel here", user=admin)
    before = len(teams.connector.calls_to("create_conversation"))
    teams.connector.fail_next("create_conversation", status=403, body=MESSAGE_WRITES_BLOCKED)
    added = teams.activity("conversationUpdate_membersAdded_team_member.json", id="f:join-b")
    assert (await teams.post(added)).status == 201
    assert len(teams.connector.calls_to("create_conversation")) == before + 1  # tried once
    app = teams.client.server.app
    async with app[DATABASE].session() as session:
        dead = await outbox_store.listing(session, "dead")
    mine = [row for row, workspace in dead if workspace.external_id == teams.tenant]
    assert [(row.kind, row.last_error) for row in mine] == [("dm", "the person blocked the bot")]


async def test_personal_chat_commands_are_answered_in_the_chat(teams: TeamsHarness):
    assert await teams.say("learn rightsizing", sample="message_personal.json") == 201
    replies = teams.connector.calls_to("post")
    assert len(replies) == 1 and "Usage Optimization" in json.dumps(replies[0].json)
    assert teams.connector.calls_to("create_conversation") == []


async def test_poll_votes_update_the_card_in_place(teams: TeamsHarness):
    await teams.say('poll "Adopt a tagging policy?" "Yes" "No"')
    poll_id = re.search(r"Poll #(\d+)", teams.texts())[1]
    channel = "19:general-synthetic@thread.tacv2"
    card_ids = [a["id"] for a in teams.connector.sent(channel) if a.get("attachments")]
    assert len(card_ids) == 1  # the poll card, posted in the channel
    votes = []
    for n in range(3):
        submit = teams.activity("message_adaptive_card_action_submit.json")
        submit["from"] = {"id": f"29:voter-{n}", "name": f"Voter {n}"}
        submit["value"] = {"action_id": "poll.vote", "value": f"{poll_id}:1"}
        votes.append(teams.post(submit, drain=False))
    assert [r.status for r in await asyncio.gather(*votes)] == [201, 201, 201]
    await teams.settled()
    updates = teams.connector.calls_to("update")
    assert 1 <= len(updates) <= 2  # the first vote at once, the rest of the burst coalesced
    assert {u.activity_id for u in updates} == set(card_ids)  # edited in place
    card = next(a for a in teams.connector.sent(channel) if a["id"] == card_ids[0])
    lines = [b.get("text") for b in card["attachments"][0]["content"]["body"]]
    assert "1\\. Yes: 3 votes (Voter 0, Voter 1, Voter 2)" in lines  # one line, not a list item


async def test_action_execute_is_answered_in_the_same_turn(teams: TeamsHarness):
    await teams.say('poll "Pick" "A" "B"')
    poll_id = re.search(r"Poll #(\d+)", teams.texts())[1]
    invoke = teams.activity("invoke_adaptiveCard_action_execute.json")
    invoke["value"]["action"]["data"] = {"poll_id": poll_id, "option": "2"}
    response = await teams.post(invoke)
    assert response.status == 200
    body = await response.json()
    assert body["statusCode"] == 200 and "'B'" in body["value"]


@pytest.mark.parametrize(
    "case",
    [
        "none",
        "malformed",
        "expired",
        "no-exp",
        "audience",
        "serviceurl",
        "issuer",
        "unknown-key",
        "hs256",
    ],
)
async def test_bad_tokens_are_refused_with_401_and_change_nothing(teams: TeamsHarness, case):
    headers = {"Content-Type": "application/json"}
    if case == "malformed":
        headers |= bearer("not.a.jwt")
    elif case == "expired":
        headers |= bearer(teams.token(expires_in=-3600))
    elif case == "no-exp":  # signed and genuine, but it would never expire
        headers |= bearer(teams.token(extra={"exp": None}))
    elif case == "audience":
        headers |= bearer(
            mint_token(teams.keys, app_id="someone-else", service_url=teams.connector.service_url)
        )
    elif case == "serviceurl":
        headers |= bearer(
            mint_token(
                teams.keys, app_id=TEST_APP_ID, service_url="https://smba.trafficmanager.net/amer/"
            )
        )
    elif case == "issuer":
        headers |= bearer(teams.token(issuer="https://evil.example"))
    elif case == "unknown-key":
        headers |= bearer(
            mint_token(TestKeys(), app_id=TEST_APP_ID, service_url=teams.connector.service_url)
        )
    elif case == "hs256":  # the right claims and key id, "signed" with a shared secret
        claims = jwt.decode(teams.token(), options={"verify_signature": False})
        forged = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": teams.keys.kid})
        headers |= bearer(forged)
    activity = teams.activity("message_channel_mention.json")
    assert (await teams.post(activity, headers)).status == 401
    assert teams.connector.calls == []


@pytest.mark.parametrize(
    "case", ["no serviceurl", "serviceurl without its trailing slash", "not Bearer", "unendorsed"]
)
async def test_tokens_short_of_the_channel_rules_are_refused_with_401(
    teams: TeamsHarness, case: str
):
    service_url = teams.connector.service_url
    token = {
        "no serviceurl": lambda: teams.token(extra={"serviceurl": None}),
        "serviceurl without its trailing slash": lambda: mint_token(
            teams.keys, app_id=TEST_APP_ID, service_url=service_url.rstrip("/")
        ),
        "not Bearer": teams.token,
        "unendorsed": lambda: mint_token(
            unendorsed_keys(), app_id=TEST_APP_ID, service_url=service_url
        ),
    }[case]()
    scheme = "Basic" if case == "not Bearer" else "Bearer"
    headers = {"Authorization": f"{scheme} {token}", "Content-Type": "application/json"}
    activity = teams.activity("message_personal.json", text="help")
    assert (await teams.post(activity, headers)).status == 401
    assert teams.connector.calls == []


async def test_a_token_expired_within_the_five_minute_clock_skew_is_accepted(teams: TeamsHarness):
    headers = {**bearer(teams.token(expires_in=-120)), "Content-Type": "application/json"}
    activity = teams.activity("message_personal.json", text="help")
    assert (await teams.post(activity, headers)).status == 201
    assert teams.connector.calls_to("post")


@pytest.mark.parametrize("content_type", [None, "text/plain"])
async def test_missing_or_wrong_content_type_is_400(teams: TeamsHarness, content_type):
    headers = bearer(teams.token())
    if content_type:
        headers["Content-Type"] = content_type
    activity = teams.activity("message_channel_mention.json")
    response = await teams.client.post(
        "/api/messages", data=json.dumps(activity).encode(), headers=headers
    )
    assert response.status == 400


@pytest.mark.parametrize("token", ["genuine", "none"])
async def test_an_activity_of_the_wrong_shape_is_400_and_unauthenticated_ones_are_401(
    teams: TeamsHarness, sdk: str, token: str, caplog: pytest.LogCaptureFixture
):
    activity = teams.activity("message_personal.json")
    activity["conversation"] = "not an object"
    headers = {"Content-Type": "application/json"}
    if token == "genuine":
        headers |= bearer(teams.token())
    with caplog.at_level(logging.ERROR):
        status = (await teams.post(activity, headers)).status
    if token == "genuine":
        assert status == 400
    else:  # botbuilder reads the body first; the Agents SDK's model must not see it unsigned
        assert status == (401 if sdk == "agents" else 400)
    if sdk == "agents" and token == "none":
        assert "Validation error for Activity" not in caplog.text
    assert teams.connector.calls == []


async def test_broken_json_is_400(teams: TeamsHarness):
    headers = {**bearer(teams.token()), "Content-Type": "application/json"}
    response = await teams.client.post("/api/messages", data=b"{not json", headers=headers)
    assert response.status == 400


NEWCOMER = {  # as Teams answers GET v3/conversations/{team}/members/{id} (TeamsChannelAccount)
    "id": "29:1newcomer-synthetic",
    "name": "Nadia Newcomer",
    "aadObjectId": "00000000-0000-4000-8000-00000000ee01",
    "givenName": "Nadia",
    "surname": "Newcomer",
    "email": "nadia@example.com",
    "userPrincipalName": "nadia@example.com",
    "tenantId": "00000000-0000-4000-8000-00000000a001",
    "userRole": "user",
}
TEAM = "19:general-synthetic@thread.tacv2"  # the samples' team (and its General channel)


async def test_welcome_once_for_a_member_added_to_the_community_team(teams: TeamsHarness):
    teams.connector.members[TEAM] = [NEWCOMER]
    admin = {"id": "29:1user-alice-synthetic", "aadObjectId": ADMIN_AAD, "name": "Alice"}
    await teams.say("config community-channel here", user=admin)
    added = teams.activity("conversationUpdate_membersAdded_team_member.json", id="f:join-1")
    before = len(teams.connector.calls_to("create_conversation"))
    assert (await teams.post(added)).status == 201
    again = teams.activity("conversationUpdate_membersAdded_team_member.json", id="f:join-2")
    assert (await teams.post(again)).status == 201  # Teams repeats the event
    opened = teams.connector.calls_to("create_conversation")[before:]
    assert [c.json["members"][0]["id"] for c in opened] == ["29:1newcomer-synthetic"]
    [welcome] = teams.connector.sent(teams_chat(teams, opened[0]))
    shown = json.dumps(welcome, ensure_ascii=False)
    assert "Welcome, Nadia Newcomer!" in shown and "29:1newcomer" not in shown
    # Teams was asked once, for the team's member; the repeated event found the name cached.
    [lookup] = teams.connector.calls_to("get_member")
    assert lookup.path == f"/v3/conversations/{TEAM}/members/29:1newcomer-synthetic"
    assert await teams.say("digest", user=admin) == 201  # lists the newcomers by name
    assert "Nadia Newcomer" in json.dumps(teams.connector.calls[-1].json, ensure_ascii=False)


def teams_chat(teams: TeamsHarness, opened) -> str:
    """The 1:1 chat a create_conversation call opened."""
    return next(
        conversation
        for conversation, members in teams.connector.members.items()
        if conversation.startswith("a:") and members == opened.json["members"]
    )


async def test_a_newcomer_teams_will_not_name_is_welcomed_without_their_id(teams: TeamsHarness):
    """The member lookup fails (404, not in the roster): the welcome says "newcomer"."""
    admin = {"id": "29:1user-alice-synthetic", "aadObjectId": ADMIN_AAD, "name": "Alice"}
    await teams.say("config community-channel here", user=admin)
    added = teams.activity("conversationUpdate_membersAdded_team_member.json", id="f:join-x")
    assert (await teams.post(added)).status == 201
    assert [c.status for c in teams.connector.calls_to("get_member")] == [404]
    [opened] = teams.connector.calls_to("create_conversation")[-1:]
    [welcome] = teams.connector.sent(teams_chat(teams, opened))
    shown = json.dumps(welcome, ensure_ascii=False)
    assert "Welcome, newcomer!" in shown and "29:1newcomer" not in shown


async def test_a_name_seen_on_a_message_needs_no_lookup(teams: TeamsHarness):
    admin = {"id": "29:1user-alice-synthetic", "aadObjectId": ADMIN_AAD, "name": "Alice"}
    await teams.say("config community-channel here", user=admin)
    await teams.say("help", user={"id": NEWCOMER["id"], "name": "Nadia N."})
    added = teams.activity("conversationUpdate_membersAdded_team_member.json", id="f:join-y")
    assert (await teams.post(added)).status == 201
    assert teams.connector.calls_to("get_member") == []
    assert "Welcome, Nadia N.!" in teams.texts()


async def test_installed_in_a_team_introduces_itself_once(teams: TeamsHarness):
    # A team of this test's own: the bot introduces itself once per team, ever (the database
    # is shared with the other SDK's run of this test).
    team = f"19:installed-{teams.tenant}@thread.tacv2"
    for n in range(2):
        installed = teams.activity(
            "conversationUpdate_membersAdded_bot_installed_in_team.json", id=f"f:install-{n}"
        )
        installed["conversation"]["id"] = team
        installed["channelData"]["team"]["id"] = team
        installed["channelData"]["channel"]["id"] = team
        assert (await teams.post(installed)).status == 201
    intros = [
        c for c in teams.connector.calls_to("post") if "Hello from the FinOps" in json.dumps(c.json)
    ]
    assert len(intros) == 1


async def test_rate_limited_send_is_retried(teams: TeamsHarness):
    teams.connector.fail_next("post", status=429, retry_after=1)
    assert await teams.say("help", sample="message_personal.json") == 201
    statuses = [c.status for c in teams.connector.calls_to("post")]
    assert statuses[0] == 429 and statuses[-1] in (200, 201)


async def test_a_person_who_blocked_the_bot_gets_no_more_direct_messages(teams: TeamsHarness):
    teams.connector.fail_next("create_conversation", status=403, body=MESSAGE_WRITES_BLOCKED)
    await teams.say("wins")  # the private answer needs a 1:1 chat: blocked
    await teams.say("wins")
    assert len(teams.connector.calls_to("create_conversation")) == 1


async def test_activities_from_service_urls_off_the_allow_list_are_refused(
    database_url, keys, openid, shared_dir, caplog, sdk
):
    async with FakeConnector() as connector:
        settings = Settings(
            DATABASE_URL=database_url,
            FINOPS_SECRET_KEY=TEST_SECRET_KEY,
            MicrosoftAppId=TEST_APP_ID,
            MicrosoftAppPassword=TEST_APP_PASSWORD,
            MicrosoftAppTenantId=TEST_TENANT_ID,
            FINOPS_TEAMS_OPENID_METADATA_URL=openid.metadata_url,
            FINOPS_TEAMS_SDK=sdk,
            _env_file=None,
        )  # no allow-list entry for 127.0.0.1
        credentials = outbound_credentials(sdk)
        async with running_bot(settings, teams_credentials=credentials) as (client, tasks):
            harness = TeamsHarness(
                client, connector, keys, tasks, shared_dir / "samples/teams", str(uuid.uuid4())
            )
            with caplog.at_level(logging.INFO):
                # A genuine token for this service URL: not even an in-turn reply goes there
                # (it would carry the bot's token), and no address is stored from it.
                assert await harness.say("wins") == 403
                assert await harness.say("wins", sample="message_personal.json") == 403
            async with client.server.app[DATABASE].session() as session:
                stored = await session.exec(  # this test's tenant: tests share the database,
                    select(ConversationAddress.key)  # and a later fake may reuse a port
                    .join(Workspace, col(Workspace.id) == ConversationAddress.workspace_id)
                    .where(
                        Workspace.external_id == harness.tenant,
                        col(ConversationAddress.service_url).startswith(connector.service_url),
                    )
                )
                assert stored.all() == []
        assert connector.calls == []
        assert "not on the allow-list" in caplog.text


async def test_without_an_app_id_traffic_is_refused_unless_explicitly_allowed(
    database_url, shared_dir, caplog, sdk
):
    activity = json.loads((shared_dir / "samples/teams/message_personal.json").read_text())
    activity["text"] = "help"
    for allow in (False, True):
        settings = Settings(
            DATABASE_URL=database_url,
            FINOPS_SECRET_KEY=TEST_SECRET_KEY,
            FINOPS_TEAMS_ALLOW_UNAUTHENTICATED=allow,
            FINOPS_TEAMS_SDK=sdk,
            _env_file=None,
        )
        with caplog.at_level(logging.WARNING):
            async with running_bot(settings) as (client, _tasks):
                response = await client.post("/api/messages", json=activity)
                if allow:
                    assert response.status != 401
                    assert "UNAUTHENTICATED" in caplog.text
                else:
                    assert response.status == 401
                    assert "MicrosoftAppId" in (await response.json())["error"]


async def test_a_token_from_another_issuer_is_refused_before_any_key_fetch(
    teams: TeamsHarness, openid
):
    assert await teams.say("help", sample="message_personal.json") == 201  # keys are loaded
    fetched = list(openid.requests)
    emulator = teams.token(issuer="https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/")
    headers = {**bearer(emulator), "Content-Type": "application/json"}
    response = await teams.post(teams.activity("message_personal.json"), headers)
    assert response.status == 401
    assert openid.requests == fetched  # refused without botbuilder fetching another key set


async def test_signing_keys_are_fetched_once_not_per_request_nor_per_unknown_key(
    teams: TeamsHarness, openid: OpenIdServer
):
    for _ in range(3):
        assert await teams.say("help", sample="message_personal.json") == 201
    stranger = mint_token(TestKeys(), app_id=TEST_APP_ID, service_url=teams.connector.service_url)
    headers = {**bearer(stranger), "Content-Type": "application/json"}
    assert (await teams.post(teams.activity("message_personal.json"), headers)).status == 401
    assert openid.requests == ["/.well-known/openidconfiguration", "/keys"]


async def test_while_the_signing_keys_cannot_be_fetched_junk_is_still_refused_at_once(
    database_url, keys, shared_dir, sdk
):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/.well-known/openidconfiguration"
    async with running_teams(database_url, keys, closed, shared_dir, sdk=sdk) as teams:
        headers = {**bearer("not.a.jwt"), "Content-Type": "application/json"}
        started = time.monotonic()
        assert (await teams.post(teams.activity("message_personal.json"), headers)).status == 401
        assert time.monotonic() - started < 5  # not held back waiting for the keys
        assert teams.connector.calls == []


async def test_an_audience_list_naming_the_bot_is_refused(teams: TeamsHarness):
    token = teams.token(audience=[TEST_APP_ID, "someone-else"])
    headers = {**bearer(token), "Content-Type": "application/json"}
    assert (await teams.post(teams.activity("message_personal.json"), headers)).status == 401


async def test_outbound_credentials_are_made_once_and_their_token_fetched_off_the_loop():
    import threading

    from adapters.teams.credentials import WarmCredentialsFactory
    from tests.teams_auth import StaticTokenCredentials

    threads: list[str] = []

    class CountingCredentials(StaticTokenCredentials):
        def get_access_token(self, force_refresh: bool = False) -> str:
            threads.append(threading.current_thread().name)
            return super().get_access_token(force_refresh)

    class Factory(StaticTokenCredentialsFactory):
        async def create_credentials(self, app_id, oauth_scope, login_endpoint, validate):
            self.requests.append(app_id)
            return CountingCredentials(app_id, "token")

    inner = Factory()
    factory = WarmCredentialsFactory(inner)
    first = await factory.create_credentials(TEST_APP_ID, "scope", "https://login", True)
    second = await factory.create_credentials(TEST_APP_ID, "scope", "https://login", True)
    assert first is second and len(inner.requests) == 1
    assert threads and all(name != threading.main_thread().name for name in threads)


async def test_mentions_survive_botbuilder_and_the_bots_own_is_removed(teams: TeamsHarness):
    """botbuilder's Entity keeps `mentioned` and `text` out of serialize(): they are put back,
    so a bot named anything (not only a word the grammar skips) is taken out of the command."""
    activity = teams.activity("message_channel_mention.json")
    bot = {"id": activity["recipient"]["id"], "name": "FinOps Community Bot"}
    maria = {"id": "29:maria-synthetic", "name": "Maria Example"}
    activity["text"] = "<at>FinOps Community Bot</at> committee add <at>Maria Example</at> finance"
    activity["entities"] = [
        {"type": "mention", "mentioned": person, "text": f"<at>{person['name']}</at>"}
        for person in (bot, maria)
    ]
    activity["from"] = {"id": "29:1user-alice-synthetic", "aadObjectId": ADMIN_AAD, "name": "A"}
    assert (await teams.post(activity)).status == 201
    assert "Maria Example is on the steering committee as" in teams.texts()


def test_member_names_are_cached_for_a_while_per_tenant_and_bounded():
    now = [0.0]
    names = MemberNames(ttl=10, max_entries=2, clock=lambda: now[0])
    for member, name in [("29:a", "Ann"), ("29:b", "Bo"), ("29:c", "Cy")]:
        names.remember("tenant", member, name)
    assert names.cached("tenant", "29:a") is None  # the oldest made room
    assert names.cached("tenant", "29:c") == "Cy" and names.cached("other", "29:c") is None
    now[0] = 11
    assert names.cached("tenant", "29:c") is None  # expired: asked of Teams again
    names.remember("tenant", "29:d", "29:d")
    assert names.cached("tenant", "29:d") is None  # an id is not a name


async def test_the_local_trial_sends_to_a_loopback_connector_with_no_allow_list(
    database_url, shared_dir, sdk
):
    """FINOPS_TEAMS_ALLOW_UNAUTHENTICATED=1 and no app id, as with the Agents Playground: its
    connector is on this machine, and celebrations and private answers reach it."""
    async with FakeConnector(anonymous=True) as connector:
        settings = Settings(
            DATABASE_URL=database_url,
            FINOPS_SECRET_KEY=TEST_SECRET_KEY,
            FINOPS_TEAMS_ALLOW_UNAUTHENTICATED=True,
            FINOPS_TEAMS_SDK=sdk,
            _env_file=None,
        )  # no FINOPS_TEAMS_SERVICE_URL_ALLOWLIST
        async with running_bot(settings) as (client, tasks):
            harness = TeamsHarness(
                client,
                connector,
                None,
                tasks,
                shared_dir / "samples/teams",
                str(uuid.uuid4()),  # type: ignore[arg-type]
            )
            activity = harness.activity("message_channel_mention.json")
            activity["text"] = "<at>FinOps</at> win Rightsized 40 dev VMs $3,200/mo"
            response = await client.post("/api/messages", json=activity)  # no token at all
            assert response.status == 201
            await harness.settled()
            async with client.server.app[DATABASE].session() as session:
                rows = await outbox_store.listing(session)
            mine = [row for row, ws in rows if ws.external_id == harness.tenant]
            assert mine and {row.status for row in mine} == {"sent"}  # none went dead
    channel = "19:general-synthetic@thread.tacv2"
    assert any("Rightsized 40 dev VMs" in json.dumps(a) for a in connector.sent(channel))
    assert len(connector.calls_to("create_conversation")) == 1  # the private confirmation
    assert "Logged win" in harness.texts()


def test_allow_list_entries_are_hosts_or_urls_and_loopback_only_when_asked():
    from adapters.teams.deliver import host_allowed

    for entry in ("Bots.Example.com", "bots.example.com:8443", "https://bots.example.com/amer/"):
        assert host_allowed("https://bots.example.com/amer/", (entry,)), entry
        assert host_allowed("https://eu.bots.example.com/", (entry,)), entry
        assert not host_allowed("https://bots.example.com.evil.test/", (entry,)), entry
    assert host_allowed("http://127.0.0.1:3978/", ("http://127.0.0.1:3978/",))
    for local in ("http://localhost:56150/_connector", "http://127.0.0.1:9/", "http://[::1]:9/"):
        assert not host_allowed(local, ())
        assert host_allowed(local, (), loopback=True)
    assert not host_allowed("https://evil.test/", (), loopback=True)
    assert host_allowed("https://smba.trafficmanager.net/amer/", ())


async def test_channels_are_named_from_the_teams_channel_list_not_by_id(teams: TeamsHarness):
    """Teams' channel messages carry the channel's id only: the bot names it from the team's
    channel list (asked once, then cached); the General channel, listed without a name, is
    "General"."""
    cost = "19:cost-reviews-synthetic@thread.tacv2"
    teams.connector.channels[TEAM] = [{"id": TEAM}, {"id": cost, "name": "Cost reviews"}]
    admin = {"id": "29:1user-alice-synthetic", "aadObjectId": ADMIN_AAD, "name": "Alice"}

    def in_channel(text: str, channel: str) -> dict[str, Any]:
        activity = teams.activity("message_channel_mention.json")
        activity["text"] = f"<at>FinOps</at> {text}"
        activity["from"] = admin
        activity["conversation"]["id"] = channel
        activity["channelData"]["channel"] = {"id": channel}  # no name, as Teams sends it
        return activity

    before = len(teams.connector.calls)
    assert (await teams.post(in_channel("config community-channel here", TEAM))).status == 201
    assert (await teams.post(in_channel("win Rightsized VMs $300/mo", cost))).status == 201
    shown = json.dumps([c.json for c in teams.connector.calls[before:]], ensure_ascii=False)
    assert "community-channel is now #General" in shown
    assert "Celebrated in #Cost reviews" in shown
    assert "#19:" not in shown
    assert len(teams.connector.calls_to("get_channels")) == 1  # one list named both


async def test_a_channel_teams_will_not_list_is_still_answered(teams: TeamsHarness):
    """The channel list fails (the fake has none for this team: 404): the answer still comes."""
    activity = teams.activity("message_channel_mention.json")
    activity["text"] = "<at>FinOps</at> help"
    activity["channelData"]["channel"] = {"id": TEAM}
    assert (await teams.post(activity)).status == 201
    assert [c.status for c in teams.connector.calls_to("get_channels")] == [404]
    assert "help &lt;command&gt;" in teams.texts()  # the help card was sent


def test_the_teams_sdk_setting_is_botbuilder_unless_agents_is_asked_for():
    from pydantic import ValidationError

    assert Settings(_env_file=None).teams_sdk == "botbuilder"
    assert Settings(FINOPS_TEAMS_SDK=" Agents ", _env_file=None).teams_sdk == "agents"
    with pytest.raises(ValidationError):
        Settings(FINOPS_TEAMS_SDK="teams-ai", _env_file=None)


@pytest.mark.parametrize(
    ("app_type", "tenant"),
    [("SingleTenant", TEST_TENANT_ID), ("MultiTenant", "botframework.com")],
)
def test_the_agents_sdk_gets_the_bots_outbound_identity_from_the_bot_framework_settings(
    app_type: str, tenant: str
):
    from adapters.teams_agents.adapter import connection_settings

    settings = Settings(
        MicrosoftAppId=TEST_APP_ID,
        MicrosoftAppPassword=TEST_APP_PASSWORD,
        MicrosoftAppType=app_type,
        MicrosoftAppTenantId=TEST_TENANT_ID,
        _env_file=None,
    )
    configuration = connection_settings(settings)
    assert configuration.client_id == TEST_APP_ID
    assert configuration.tenant_id == tenant
    assert configuration.CLIENT_SECRET == TEST_APP_PASSWORD
    # In production the SDK's MSAL connection manager holds it (built without any network).
    from adapters.teams_agents.adapter import default_connections

    held = default_connections(settings).get_default_connection().configuration
    assert (held.client_id, held.tenant_id) == (TEST_APP_ID, tenant)


def test_a_managed_identity_bot_asks_msal_for_its_user_assigned_identity():
    from microsoft_agents.hosting.core.authorization import AuthTypes

    from adapters.teams_agents.adapter import connection_settings

    settings = Settings(
        MicrosoftAppId=TEST_APP_ID, MicrosoftAppType="UserAssignedMSI", _env_file=None
    )
    configuration = connection_settings(settings)
    assert configuration.AUTH_TYPE is AuthTypes.user_managed_identity
    assert configuration.client_id == TEST_APP_ID
