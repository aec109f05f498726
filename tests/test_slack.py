"""The Slack app over real HTTP: signed requests in, a fake Slack Web API out."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.server import BOT, OUTBOX
from bot.outbox import OutboxWorker, delivery_of
from bot.settings import Settings
from bot.tasks import TaskTracker
from storage import outbox as outbox_store
from tests.fakes.slack_api import FakeSlack
from tests.helpers import TEST_SECRET_KEY, outbox_settled, running_bot, texts
from tests.slack_signing import block_actions_body, event_body, sign, slash_command_body

SECRET = "test-signing-secret"
ADMIN = "UADMIN"


class SlackHarness:
    """Talks to the bot the way Slack does; sees what the bot sent the fake Web API."""

    def __init__(self, client: TestClient, fake: FakeSlack, tasks: TaskTracker, team: str):
        self.client, self.fake, self.tasks, self.team = client, fake, tasks, team

    async def post(
        self,
        body: str,
        headers: dict[str, str] | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ):
        headers = {
            "Content-Type": content_type,
            **(headers if headers is not None else sign(body, SECRET)),
        }
        return await self.client.post("/slack/events", data=body.encode(), headers=headers)

    async def command(
        self, text: str, user: str = ADMIN, name: str = "ada", channel: str = "C1"
    ) -> dict[str, Any]:
        """Run `/finops <text>`; returns the private answer sent to the response URL."""
        url = self.fake.response_url()
        body = slash_command_body(
            text=text,
            user_id=user,
            user_name=name,
            team_id=self.team,
            channel_id=channel,
            response_url=url,
        )
        response = await self.post(body)
        assert response.status == 200, await response.text()
        await self.settled()
        answers = [r for r in self.fake.responses if r["url"] == url]
        return answers[-1] if answers else {}

    async def settled(self) -> None:
        """Wait for the acked work and for everything it queued to reach the fake."""
        await self.tasks.drain(10)
        await outbox_settled(self.client, "slack", self.team)

    async def click(
        self, value: str, user: str, name: str, action_id: str = "poll.vote:0", channel: str = "C1"
    ) -> int:
        body = block_actions_body(
            action_id=action_id,
            value=value,
            user_id=user,
            user_name=name,
            team_id=self.team,
            channel_id=channel,
            response_url=self.fake.response_url(),
        )
        return (await self.post(body)).status

    async def event(
        self, event: dict[str, Any], event_id: str, extra_headers: dict[str, str] | None = None
    ) -> int:
        body = event_body(event, event_id=event_id, team_id=self.team)
        headers = {**sign(body, SECRET), **(extra_headers or {})}
        response = await self.post(body, headers, content_type="application/json")
        return response.status


@asynccontextmanager
async def running_slack(database_url: str, **settings: str) -> AsyncIterator[SlackHarness]:
    """The bot's app with Slack configured against a fresh fake Slack and team; `settings`
    adds or overrides settings by their environment names."""
    team = "T" + uuid.uuid4().hex[:10].upper()
    async with FakeSlack(team_id=team) as fake:
        configured = Settings(
            DATABASE_URL=database_url,
            FINOPS_SECRET_KEY=TEST_SECRET_KEY,
            FINOPS_ADMINS=ADMIN,
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
            _env_file=None,
            **settings,
        )
        async with running_bot(configured) as (client, tasks):
            yield SlackHarness(client, fake, tasks, team)


@pytest.fixture
async def slack(database_url: str) -> AsyncIterator[SlackHarness]:
    async with running_slack(database_url) as harness:
        yield harness


async def test_win_is_celebrated_credited_and_confirmed(slack: SlackHarness):
    answer = await slack.command("win Rightsized 40 dev VMs $3,200/mo #rightsizing <@U2|bob>")
    assert answer["response_type"] == "ephemeral"
    assert re.search(r"Logged win #\d+", answer["text"]) and "win undo" in answer["text"]
    posts = slack.fake.calls_to("chat.postMessage")
    celebration = next(p for p in posts if p.params["channel"] == "C1")
    assert "Rightsized 40 dev VMs" in texts(celebration.params)
    assert "38,400 USD a year" in texts(celebration.params)
    assert celebration.params["blocks"][0]["type"] == "header"
    dm = next(p for p in posts if p.params["channel"] != "C1")
    assert dm.params["channel"] == "U2"  # a user id posts in the bot's DM with them
    assert "credited you" in dm.params["text"]
    for post in posts:
        assert "link_names" not in post.params and "parse" not in post.params


async def test_wins_channel_is_used_when_configured(slack: SlackHarness):
    assert (
        "is now #finops-wins"
        in (await slack.command("config wins-channel <#C9|finops-wins>"))["text"]
    )
    await slack.command("win Deleted idle disks 1.5k USD one-time", user="U3", name="carol")
    assert [p.params["channel"] for p in slack.fake.calls_to("chat.postMessage")] == ["C9"]


async def test_mentions_from_user_text_cannot_notify_anyone(slack: SlackHarness, shared_dir):
    corpus = json.loads((shared_dir / "samples/slack/mention_injection_corpus.json").read_text())
    for attack in corpus["must_not_notify"]:
        # Slack escapes what people type in a slash command: `<` arrives as `&lt;`.
        typed = attack.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        await slack.command(f"win {typed} $5", user="U4", name="mallory")
    for post in slack.fake.calls_to("chat.postMessage"):
        payload = texts(post.params)
        assert "<!" not in payload and "<@" not in payload and "<#" not in payload
        assert "<http" not in payload
        for block in post.params["blocks"]:
            for text in _text_objects(block):
                if text["type"] == "mrkdwn":
                    assert text.get("verbatim") is True
    celebration = slack.fake.calls_to("chat.postMessage")[0].params
    assert "&lt;!channel&gt;" in celebration["text"]  # escaped exactly once, shown as typed


def _text_objects(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and "text" in node:
            found.append(node)
        for value in node.values():
            found += _text_objects(value)
    elif isinstance(node, list):
        for value in node:
            found += _text_objects(value)
    return found


async def test_poll_buttons_votes_and_one_coalesced_update(slack: SlackHarness):
    answer = await slack.command('poll "Adopt a tagging policy?" "Yes" "No" "Later"')
    poll_id = re.search(r"Poll #(\d+)", answer["text"])[1]
    post = slack.fake.calls_to("chat.postMessage")[0]
    buttons = [e for b in post.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == ["Yes", "No", "Later"]
    assert len({b["action_id"] for b in buttons}) == 3
    for user, name in [("U5", "dan"), ("U6", "eve"), ("U7", "fay")]:
        assert await slack.click(f"{poll_id}:1", user, name) == 200
    await slack.settled()
    updates = slack.fake.calls_to("chat.update")
    # The first click updates at once, the rest of the burst is coalesced into one more.
    assert 1 <= len(updates) <= 2
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(updates)]
    assert all(gap >= 0.95 for gap in gaps), gaps
    posted_ts = next(iter(slack.fake.messages))[1]
    assert {u.params["ts"] for u in updates} == {posted_ts}
    assert "1. Yes: 3 votes" in updates[-1].params["text"]  # the short fallback: counts only
    assert "1. Yes: 3 votes (dan, eve, fay)" in texts(updates[-1].params["blocks"])


async def test_replayed_signed_commands_and_clicks_have_no_second_effect(slack: SlackHarness):
    """The same signed body sent again within the signature's five minutes (an attacker
    replaying what it captured, or a proxy retrying): acked, never run twice."""
    url = slack.fake.response_url()
    body = slash_command_body(
        text="win Replayed cleanup $5", user_id=ADMIN, team_id=slack.team, response_url=url
    )
    headers = sign(body, SECRET)
    for _ in range(2):
        assert (await slack.post(body, headers)).status == 200
        await slack.settled()
    wins = await slack.command("wins")
    assert "Replayed cleanup" in texts(wins) and "1 win ·" in texts(wins)
    answer = await slack.command('poll "Topics?" "Spot" "RIs" multi')
    poll_id = re.search(r"Poll #(\d+)", answer["text"])[1]
    click = block_actions_body(
        action_id="poll.vote:0",
        value=f"{poll_id}:1",
        user_id="U9",
        user_name="gus",
        team_id=slack.team,
        response_url=slack.fake.response_url(),
    )
    headers = sign(click, SECRET)
    for _ in range(3):  # a multi-choice vote toggles: a replay would take it back
        assert (await slack.post(click, headers)).status == 200
        await slack.settled()
    assert "1. Spot: 1 vote (gus)" in texts(await slack.command(f"poll results {poll_id}"))
    # A new click (its own action_ts) by the same person does toggle it.
    assert await slack.click(f"{poll_id}:1", "U9", "gus") == 200
    await slack.settled()
    assert "1. Spot: 0 votes" in texts(await slack.command(f"poll results {poll_id}"))


async def test_a_signed_form_body_sent_as_json_is_400(slack: SlackHarness):
    body = slash_command_body(text="wins", team_id=slack.team, response_url="https://x/y")
    response = await slack.post(body, content_type="application/json")
    assert response.status == 400
    response = await slack.post('["not", "an", "object"]', content_type="application/json")
    assert response.status == 400
    assert len(slack.tasks) == 0  # nothing was started


async def test_refused_vote_is_explained_privately(slack: SlackHarness):
    answer = await slack.command('poll "Budget?" "A" "B" committee')
    poll_id = re.search(r"Poll #(\d+)", answer["text"])[1]
    await slack.click(f"{poll_id}:1", "U8", "gus")
    await slack.settled()
    private = slack.fake.responses[-1]
    assert private["response_type"] == "ephemeral"
    assert private["replace_original"] is False
    assert "committee members only" in private["text"]
    assert slack.fake.calls_to("chat.update") == []


async def test_welcome_once_even_when_slack_retries(slack: SlackHarness):
    await slack.command("config community-channel <#C42|finops>")
    slack.fake.users["U9"] = {"id": "U9", "name": "hal", "profile": {"display_name": "Hal"}}
    joined = {
        "type": "member_joined_channel",
        "user": "U9",
        "channel": "C42",
        "channel_type": "C",
        "team": slack.team,
        "event_ts": "1700000000.000200",
    }
    assert await slack.event(joined, "Ev0001") == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert await slack.event(joined, "Ev0001", retry) == 200
    await slack.settled()
    assert await slack.event({**joined, "channel": "C1"}, "Ev0002") == 200  # not the community
    await slack.settled()
    welcomes = [
        p
        for p in slack.fake.calls_to("chat.postMessage")
        if "Welcome" in p.params["text"] or "Hi Hal" in p.params["text"]
    ]
    assert len(welcomes) == 1
    assert [w.params["channel"] for w in welcomes] == ["U9"]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # unsigned
        {"X-Slack-Request-Timestamp": "12abc", "X-Slack-Signature": "v0=00"},  # non-numeric
        {"X-Slack-Request-Timestamp": "1531420618", "X-Slack-Signature": "v0=00"},  # stale
        "forged",
        "stale",
    ],
)
async def test_forged_stale_or_malformed_requests_get_401(slack: SlackHarness, headers, caplog):
    body = slash_command_body(
        text="win Secret marker 77 $5", team_id=slack.team, response_url=slack.fake.response_url()
    )
    if headers == "forged":
        headers = sign(body, "not-the-secret")
    elif headers == "stale":
        headers = sign(body, SECRET, timestamp=1_531_420_618)
    with caplog.at_level(logging.DEBUG):
        response = await slack.post(body, headers)
        await slack.settled()
    assert response.status == 401
    assert slack.fake.calls == [] and slack.fake.responses == []
    assert "Secret marker" not in caplog.text


async def test_url_verification_answers_the_challenge(slack: SlackHarness):
    body = json.dumps({"token": "t", "challenge": "c-123", "type": "url_verification"})
    response = await slack.post(body, content_type="application/json")
    assert response.status == 200
    assert "c-123" in await response.text()


async def test_ack_does_not_wait_for_a_slow_slack(slack: SlackHarness):
    slack.fake.delay = 2.0  # every Web API answer takes 2 s
    url = slack.fake.response_url()
    body = slash_command_body(text="win Quick ack $5", team_id=slack.team, response_url=url)
    response = await slack.post(body)
    assert response.status == 200
    assert len(slack.tasks) == 1  # the work is still running after the ack
    assert slack.fake.calls == []
    await slack.tasks.drain(20)
    await outbox_settled(slack.client, "slack", slack.team, seconds=30)
    assert slack.fake.calls_to("chat.postMessage")


async def test_a_slack_that_hangs_longer_than_the_lease_gets_one_post(database_url: str):
    """The first chat.postMessage stalls on the way for 8 s, longer than the lease (4 s),
    with two replicas' workers running: the call gives up after 1 s (a quarter of the lease),
    so the stalled request is dropped rather than landing later, and the row is checked
    against the history and posted once."""
    team = "T" + uuid.uuid4().hex[:10].upper()
    async with FakeSlack(team_id=team) as fake:
        settings = Settings(
            DATABASE_URL=database_url,
            FINOPS_SECRET_KEY=TEST_SECRET_KEY,
            FINOPS_ADMINS=ADMIN,
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
            FINOPS_OUTBOX_LEASE_SECONDS=4,
            _env_file=None,
        )
        async with running_bot(settings) as (client, tasks):
            slack = SlackHarness(client, fake, tasks, team)
            app = client.server.app
            # A second replica's worker, ready to take over a claim whose lease ran out.
            other = OutboxWorker(
                app[BOT].database,
                app[BOT].view,
                {"slack": app[OUTBOX].transports["slack"]},
                lease=timedelta(seconds=4),
                owner="replica-2",
            )
            other.start()
            try:
                fake.hang_next("chat.postMessage", 8.0)
                await slack.command("win Hung celebration $7")
                await fake.stalls_over()  # the stalled call was dropped, or landed late
                await outbox_settled(client, "slack", team, seconds=30)
            finally:
                await other.stop()
            posts = [
                c
                for c in fake.calls_to("chat.postMessage")
                if "Hung celebration" in texts(c.params)
            ]
            assert [c.error for c in posts] == ["client_gone", None], fake.state()
            assert fake.calls_to("conversations.history")  # checked before any resend
            async with client.server.app[BOT].database.session() as session:
                rows = await outbox_store.listing(session)
            mine = [r for r, w in rows if w.external_id == team and r.kind == "post"]
            assert [r.status for r in mine] == ["sent"]


async def test_bodies_that_never_arrive_are_cut_off_while_others_are_served(
    slack: SlackHarness,
):
    """50 clients send headers announcing a body and then nothing: /healthz and a signed
    command are answered meanwhile, and each stalled request gets a 408 and is closed."""
    server = slack.client.server
    stalled = []
    for _ in range(50):
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(
            b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\n"
            b"token=partial"
        )
        await writer.drain()
        stalled.append((reader, writer))
    assert (await slack.client.get("/healthz")).status == 200
    assert "Logged win" in texts(await slack.command("win While others stall $3"))
    for reader, writer in stalled:
        answer = await asyncio.wait_for(reader.read(), 60)  # read to the end: it is closed
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        writer.close()
    assert (await slack.client.get("/healthz")).status == 200


async def test_rate_limited_post_is_retried_after_retry_after_without_duplicates(
    slack: SlackHarness,
):
    slack.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    await slack.command("win Retry me $5")
    posts = slack.fake.calls_to("chat.postMessage")
    assert [c.ok for c in posts] == [False, True]
    assert posts[1].at - posts[0].at >= 0.9
    assert len(slack.fake.messages) == 1


async def test_home_tab_lists_wins_polls_and_admin_config(slack: SlackHarness):
    await slack.command("win Deleted idle disks $400/mo", user="U10", name="ivy")
    await slack.command('poll "Adopt tagging policy?" "Yes" "No"')
    assert (
        await slack.event(
            {"type": "app_home_opened", "user": "U10", "tab": "home", "channel": "D10"}, "Ev0100"
        )
        == 200
    )
    await slack.settled()
    view = slack.fake.calls_to("views.publish")[-1].params["view"]
    shown = texts(view)
    assert view["type"] == "home" and "Deleted idle disks" in shown
    assert "Adopt tagging policy?" in shown and "Configuration (admins)" not in shown
    await slack.event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}, "Ev0101")
    await slack.settled()
    assert "Configuration (admins)" in texts(slack.fake.calls_to("views.publish")[-1].params)


async def test_a_failed_home_tab_publish_is_retried_through_the_outbox(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
):
    """views.publish answering 500 then 429: the outbox tries again (after the Retry-After)
    until the tab is published, logging no traceback."""
    await slack.command("win Deleted idle disks $400/mo", user="U14", name="kim")
    slack.fake.fail_next("views.publish", status=500)
    slack.fake.fail_next("views.publish", status=429, retry_after=1)
    assert await slack.event({"type": "app_home_opened", "user": "U14", "tab": "home"}, "Ev0102")
    for _ in range(100):
        await slack.settled()
        if len(slack.fake.calls_to("views.publish")) >= 3:
            break
        await asyncio.sleep(0.1)
    calls = slack.fake.calls_to("views.publish")
    assert len(calls) == 3 and calls[-1].params["user_id"] == "U14"
    assert "Deleted idle disks" in texts(calls[-1].params["view"])
    assert not [r for r in caplog.records if r.exc_info]  # failures logged in a line


async def test_vote_from_the_home_tab_republishes_it(slack: SlackHarness):
    answer = await slack.command('poll "Pick one" "A" "B"')
    poll_id = re.search(r"Poll #(\d+)", answer["text"])[1]
    body = block_actions_body(
        action_id="poll.vote:1",
        value=f"{poll_id}:2",
        user_id="U11",
        user_name="jo",
        team_id=slack.team,
        response_url=slack.fake.response_url(),
    )
    payload = json.loads(__import__("urllib.parse").parse.unquote(body[len("payload=") :]))
    payload["container"] = {"type": "view", "view_id": "V1"}
    payload.pop("channel")
    body = "payload=" + __import__("urllib.parse").parse.quote(json.dumps(payload))
    assert (await slack.post(body)).status == 200
    await slack.settled()
    assert "2. B: 1 vote" in slack.fake.calls_to("chat.update")[-1].params["text"]
    assert slack.fake.calls_to("views.publish")


def test_slacks_published_signing_example_verifies_only_with_the_clock_pinned(shared_dir):
    from adapters.slack.verify import verify

    vector = json.loads((shared_dir / "samples/slack/signing_test_vector.json").read_text())
    body = (shared_dir / "samples/slack/signing_test_vector_body.txt").read_bytes()
    headers = {
        "X-Slack-Request-Timestamp": vector["x_slack_request_timestamp"],
        "X-Slack-Signature": vector["x_slack_signature"],
    }
    assert body.decode() == vector["raw_body"]
    pinned = float(vector["verify_with_clock_at"])
    assert verify(vector["signing_secret"], headers, body, now=lambda: pinned) is None
    assert verify(vector["signing_secret"], headers, body) == "stale timestamp"
    assert verify("other-secret", headers, body, now=lambda: pinned) == "bad signature"
    assert verify(vector["signing_secret"], headers, body + b"x", now=lambda: pinned) == (
        "bad signature"
    )


async def test_a_server_error_is_checked_against_history_then_posted_once(slack: SlackHarness):
    slack.fake.fail_next("chat.postMessage", status=503)
    answer = await slack.command("win Once only $5")
    assert "Logged win" in answer["text"]  # the answer does not wait for the post
    posts = slack.fake.calls_to("chat.postMessage")
    assert [c.ok for c in posts] == [False, True]  # retried after a backoff
    history = slack.fake.calls_to("conversations.history")
    assert len(history) == 1 and posts[0].at < history[0].at < posts[1].at
    assert history[0].params["include_all_metadata"] in (True, "true", "1")
    assert [m["metadata"]["event_type"] for m in slack.fake.messages.values()] == ["finops_outbox"]


async def test_a_post_that_landed_before_its_replica_died_is_not_posted_again(
    slack: SlackHarness,
):
    """The crash window: a replica posts, Slack accepts, the replica dies before recording
    it. The replica that takes the row over finds the post by its metadata."""
    app = slack.client.server.app
    await app[OUTBOX].stop()  # this replica is not delivering for now
    await slack.post(
        slash_command_body(
            text="win Crash window $5 <@U2|bob>",
            team_id=slack.team,
            channel_id="C1",
            response_url=slack.fake.response_url(),
        )
    )
    await slack.tasks.drain(10)
    bot = app[BOT]
    async with bot.database.session() as session:
        claimed = await outbox_store.claim(
            session,
            "slack",
            bot.clock(),
            owner="replica-that-dies",
            lease=timedelta(0),
            interval=timedelta(seconds=1),
            limit=10,
            workspace=slack.team,
        )
    assert sorted(c.row.kind for c in claimed) == ["dm", "post"]
    celebration = next(c for c in claimed if c.row.kind == "post")
    await app[OUTBOX].transports["slack"].send(delivery_of(celebration))  # then it died
    app[OUTBOX].start()
    await slack.settled()
    posts = slack.fake.calls_to("chat.postMessage")
    assert sorted(p.params["channel"] for p in posts) == ["C1", "U2"]  # each exactly once
    assert len(slack.fake.calls_to("conversations.history")) == 2  # both were uncertain


async def test_every_event_in_the_manifest_has_a_listener(slack: SlackHarness):
    for i, event in enumerate(
        [
            {"type": "team_join", "user": {"id": "U12", "name": "kim", "team_id": slack.team}},
            {"type": "member_joined_channel", "user": "U13", "channel": "C1", "team": slack.team},
            {"type": "app_home_opened", "user": "U13", "tab": "messages"},
        ]
    ):
        assert await slack.event(event, f"EvL{i}") == 200
    await slack.settled()
    assert slack.fake.calls_to("chat.postMessage") == []  # none of these welcome by default
