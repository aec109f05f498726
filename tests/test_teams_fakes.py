"""The Teams test infrastructure works with botbuilder itself, before any bot code uses it.

A bare `CloudAdapter(ConfigurationBotFrameworkAuthentication(...))` answers "pong" on 127.0.0.1:
botbuilder validates our RS256 tokens against `OpenIdServer` for real and its ConnectorClient
replies to `FakeConnector` for real, with the bearer token of `StaticTokenCredentialsFactory`.
The statuses asserted here are what botbuilder 4.17.1 does on its own (expired and malformed
tokens become HTTP 500); the last tests show the "authenticate first" handler that maps every
token failure to 401.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botbuilder.core import Bot, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationParameters,
    ErrorResponseException,
)
from msrest.exceptions import ClientRequestError

from tests.fakes.bot_framework import (
    BLOCKED_BY_USER,
    MESSAGE_WRITES_BLOCKED,
    FakeConnector,
)
from tests.helpers import shared_path
from tests.teams_auth import (
    BOT_FRAMEWORK_SCOPE,
    TEST_APP_ID,
    TEST_OUTBOUND_TOKEN,
    TEST_TENANT_ID,
    OpenIdServer,
    StaticTokenCredentialsFactory,
    TeamsTestConfig,
    TestKeys,
    bearer,
    mint_token,
    teams_config,
)

USER_ID = "29:1user-alice-synthetic"
BOT_ID = f"28:{TEST_APP_ID}"


class PongBot(Bot):
    """Answers every message with "pong"; records the activities it saw."""

    def __init__(self) -> None:
        self.turns: list[Activity] = []

    async def on_turn(self, context: TurnContext) -> None:
        self.turns.append(context.activity)
        if context.activity.type == "message":
            await context.send_activity("pong")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Teams:
    """The bot's /api/messages on 127.0.0.1, with its fake Teams around it."""

    client: TestClient[Any, Any]
    connector: FakeConnector
    openid: OpenIdServer
    keys: TestKeys
    adapter: CloudAdapter
    credentials: StaticTokenCredentialsFactory
    bot: PongBot
    escaped: list[BaseException] = field(default_factory=list)  # out of CloudAdapter.process

    def token(self, **overrides: Any) -> str:
        """A valid channel token for our bot and the fake connector; keyword args override."""
        arguments: dict[str, Any] = {
            "app_id": TEST_APP_ID,
            "service_url": self.connector.service_url,
        }
        return mint_token(self.keys, **(arguments | overrides))

    async def post(
        self, activity: dict[str, Any], headers: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        return await self.client.post("/api/messages", json=activity, headers=headers or {})


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture
def openid(keys: TestKeys) -> Iterator[OpenIdServer]:
    with OpenIdServer(keys) as server:
        yield server


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    async with FakeConnector() as fake:
        yield fake


@pytest.fixture
def message(connector: FakeConnector) -> dict[str, Any]:
    """Teams' personal-chat message sample, its serviceUrl pointing at the fake connector."""
    sample = json.loads(shared_path("samples/teams/message_personal.json").read_text())
    return sample | {"serviceUrl": connector.service_url}


async def start_bot(
    config: TeamsTestConfig,
    *,
    credentials: StaticTokenCredentialsFactory,
    handler: Callable[[CloudAdapter, PongBot, list[BaseException]], Handler] | None = None,
) -> tuple[TestClient[Any, Any], CloudAdapter, PongBot, list[BaseException]]:
    adapter = CloudAdapter(
        ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials)
    )
    bot = PongBot()
    escaped: list[BaseException] = []
    app = web.Application()
    app.router.add_post("/api/messages", (handler or sdk_handler)(adapter, bot, escaped))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client, adapter, bot, escaped


def sdk_handler(adapter: CloudAdapter, bot: PongBot, escaped: list[BaseException]) -> Handler:
    """/api/messages as botbuilder's samples write it; records what escapes `process`."""

    async def messages(request: web.Request) -> web.StreamResponse:
        try:
            response = await adapter.process(request, bot)
        except web.HTTPException:
            raise  # botbuilder's own answers: 401 (PermissionError), 400, 405, 415
        except Exception as error:
            escaped.append(error)
            raise  # aiohttp answers 500
        return response or web.Response(status=201)

    return messages


@pytest.fixture
async def teams(
    keys: TestKeys, openid: OpenIdServer, connector: FakeConnector
) -> AsyncIterator[Teams]:
    credentials = StaticTokenCredentialsFactory()
    client, adapter, bot, escaped = await start_bot(teams_config(openid), credentials=credentials)
    try:
        yield Teams(client, connector, openid, keys, adapter, credentials, bot, escaped)
    finally:
        await client.close()


# -- inbound: botbuilder validates our tokens ----------------------------------------------------


async def test_a_valid_token_gets_a_turn_and_the_reply_reaches_the_connector_with_a_bearer(
    teams: Teams, message: dict[str, Any]
) -> None:
    response = await teams.post(message, bearer(teams.token()))

    assert response.status == 201  # CloudAdapter answers 201 when there is no invoke response
    [reply] = await teams.connector.wait_for("reply", 1, timeout=5)
    conversation_id = message["conversation"]["id"]
    assert reply.method == "POST"
    assert reply.path == f"/v3/conversations/{conversation_id}/activities/{message['id']}"
    assert reply.token == TEST_OUTBOUND_TOKEN
    assert reply.headers["Authorization"] == f"Bearer {TEST_OUTBOUND_TOKEN}"
    assert reply.status == 201
    assert reply.json["text"] == "pong"
    assert reply.json["replyToId"] == message["id"]
    assert reply.json["from"]["id"] == BOT_ID
    assert reply.json["recipient"]["id"] == USER_ID
    assert [a["text"] for a in teams.connector.sent(conversation_id)] == ["pong"]
    assert [turn.text for turn in teams.bot.turns] == [message["text"]]
    # botbuilder asked our factory for the token with the production scope and login URL
    asked = teams.credentials.requests[0]
    assert (asked.app_id, asked.oauth_scope) == (TEST_APP_ID, BOT_FRAMEWORK_SCOPE)
    assert asked.login_endpoint == f"https://login.microsoftonline.com/{TEST_TENANT_ID}"


async def test_keys_are_fetched_once_and_then_served_from_botbuilders_cache(
    teams: Teams, message: dict[str, Any]
) -> None:
    for _ in range(3):
        assert (await teams.post(message, bearer(teams.token()))).status == 201

    assert teams.openid.requests == ["/.well-known/openidconfiguration", "/keys"]


async def test_a_token_expired_within_the_five_minute_clock_skew_is_still_accepted(
    teams: Teams, message: dict[str, Any]
) -> None:
    response = await teams.post(message, bearer(teams.token(expires_in=-120)))

    assert response.status == 201


@pytest.mark.parametrize(
    "case",
    [
        "wrong audience",
        "wrong issuer",
        "wrong serviceurl",
        "serviceurl without its trailing slash",
        "no serviceurl",
        "not Bearer",
    ],
)
async def test_botbuilder_answers_401_to(teams: Teams, message: dict[str, Any], case: str) -> None:
    headers = {
        "wrong audience": bearer(teams.token(audience="11111111-2222-4333-8444-555555555555")),
        "wrong issuer": bearer(teams.token(issuer="https://login.example.com")),
        "wrong serviceurl": bearer(teams.token(service_url="https://smba.example.com/amer/")),
        "serviceurl without its trailing slash": bearer(
            teams.token(service_url=teams.connector.service_url.rstrip("/"))
        ),
        "no serviceurl": bearer(teams.token(extra={"serviceurl": None})),
        "not Bearer": {"Authorization": f"Basic {teams.token()}"},
    }[case]

    response = await teams.post(message, headers)

    assert response.status == 401
    assert teams.escaped == []
    assert teams.bot.turns == []
    assert teams.connector.calls == []


def failing_headers(teams: Teams, case: str) -> dict[str, str]:
    """The Authorization header for each token failure botbuilder does not turn into a 401."""
    match case:
        case "expired":
            return bearer(teams.token(expires_in=-600))  # beyond the 300 s tolerance
        case "not yet valid":
            return bearer(teams.token(extra={"nbf": int(time.time()) + 3600}))
        case "malformed":
            return bearer("not-a-jwt")
        case "signed by another key":
            forger = TestKeys(kid=teams.keys.kid)
            service_url = teams.connector.service_url
            return bearer(mint_token(forger, app_id=TEST_APP_ID, service_url=service_url))
        case "unknown kid":
            return bearer(teams.token(kid="rotated-away"))
        case "no iss claim":
            return bearer(teams.token(extra={"iss": None}))
        case "no Authorization header":
            return {}
        case "Bearer without a token":
            return {"Authorization": "Bearer"}
        case _:  # "channel not endorsed by the key": the token is fine, the activity is not
            return bearer(teams.token())


@pytest.mark.parametrize(
    ("case", "escaping"),
    [
        ("expired", jwt.ExpiredSignatureError),
        ("not yet valid", jwt.ImmatureSignatureError),
        ("malformed", jwt.DecodeError),
        ("signed by another key", jwt.InvalidSignatureError),
        ("unknown kid", IndexError),
        ("no iss claim", KeyError),
        ("channel not endorsed by the key", Exception),  # a bare Exception
        # CloudAdapter passes "" for a missing header; botbuilder then dereferences a None identity
        ("no Authorization header", AttributeError),
        ("Bearer without a token", AttributeError),
    ],
)
async def test_botbuilder_lets_these_failures_escape_as_http_500(
    teams: Teams, message: dict[str, Any], case: str, escaping: type[Exception]
) -> None:
    if case == "channel not endorsed by the key":
        message = message | {"channelId": "slack"}  # our key endorses msteams only

    response = await teams.post(message, failing_headers(teams, case))

    assert response.status == 500
    [error] = teams.escaped
    assert type(error) is escaping
    assert not isinstance(error, PermissionError)  # which CloudAdapter would have made a 401
    assert teams.bot.turns == []
    assert teams.connector.calls == []


async def test_without_the_token_issuer_setting_every_token_is_refused(
    openid: OpenIdServer, keys: TestKeys, connector: FakeConnector, message: dict[str, Any]
) -> None:
    only_url = dataclasses.replace(teams_config(openid), TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=None)
    client, _, bot, _ = await start_bot(only_url, credentials=StaticTokenCredentialsFactory())
    try:
        token = mint_token(keys, app_id=TEST_APP_ID, service_url=connector.service_url)
        response = await client.post("/api/messages", json=message, headers=bearer(token))
    finally:
        await client.close()

    assert response.status == 401
    assert bot.turns == []


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"type": "message"', "application/json", 500),  # JSONDecodeError escapes
        (b'{"text": "no type"}', "application/json", 400),
        (b"type=message", "application/x-www-form-urlencoded", 415),
        (b"{}", None, 500),  # no Content-Type header: KeyError escapes
    ],
)
async def test_botbuilder_reads_the_body_before_authenticating(
    teams: Teams, body: bytes, content_type: str | None, status: int
) -> None:
    headers = bearer(teams.token()) | ({"Content-Type": content_type} if content_type else {})
    response = await teams.client.post(
        "/api/messages", data=body, headers=headers, skip_auto_headers=["Content-Type"]
    )

    assert response.status == status
    assert [type(e).__name__ for e in teams.escaped] == (
        [] if status != 500 else ["JSONDecodeError" if content_type else "KeyError"]
    )


# -- outbound: the real ConnectorClient against the fake connector --------------------------------


def reference_of(message: dict[str, Any]) -> Any:
    return TurnContext.get_conversation_reference(Activity().deserialize(copy.deepcopy(message)))


async def test_continue_conversation_update_and_delete_reach_the_connector_authenticated(
    teams: Teams, message: dict[str, Any]
) -> None:
    conversation_id = message["conversation"]["id"]
    sent: list[str] = []

    async def proactive(context: TurnContext) -> None:
        response = await context.send_activity("card v1")
        sent.append(response.id)
        update = Activity(type="message", id=response.id, text="card v2")
        await context.update_activity(update)
        extra = await context.send_activity("to delete")
        await context.delete_activity(extra.id)

    await teams.adapter.continue_conversation(reference_of(message), proactive, TEST_APP_ID)

    kinds = [(call.method, call.kind, call.status) for call in teams.connector.calls]
    assert kinds == [
        ("POST", "reply", 201),  # botbuilder replies to its continuation event's random id
        ("PUT", "update", 200),
        ("POST", "reply", 201),
        ("DELETE", "delete", 200),
    ]
    assert teams.connector.calls[0].activity_id != message["id"]
    assert {call.token for call in teams.connector.calls} == {TEST_OUTBOUND_TOKEN}
    assert teams.connector.sent(conversation_id) == [
        teams.connector.calls[1].json | {"id": sent[0]}
    ]
    assert teams.connector.sent(conversation_id)[0]["text"] == "card v2"


async def test_create_conversation_opens_the_same_personal_chat_for_the_same_user(
    teams: Teams,
) -> None:
    opened: list[str] = []

    async def greet(context: TurnContext) -> None:
        opened.append(context.activity.conversation.id)
        await context.send_activity("welcome")

    parameters = ConversationParameters(
        is_group=False,
        bot=ChannelAccount(id=BOT_ID),
        members=[ChannelAccount(id=USER_ID)],
        tenant_id=TEST_TENANT_ID,
        channel_data={"tenant": {"id": TEST_TENANT_ID}},
    )
    for _ in range(2):
        await teams.adapter.create_conversation(
            TEST_APP_ID,
            greet,
            parameters,
            channel_id="msteams",
            service_url=teams.connector.service_url,
        )

    assert opened[0] == opened[1]
    assert opened[0].startswith("a:1")
    create = teams.connector.calls_to("create_conversation")[0]
    assert create.token == TEST_OUTBOUND_TOKEN
    assert create.json["members"] == [{"id": USER_ID}]
    assert create.json["tenantID"] == TEST_TENANT_ID  # sic: botbuilder-python's spelling
    assert create.json["channelData"] == {"tenant": {"id": TEST_TENANT_ID}}
    assert [call.kind for call in teams.connector.calls] == [
        "create_conversation",
        "reply",
        "create_conversation",
        "reply",
    ]


async def test_a_429_is_not_retried_by_botbuilder_and_carries_retry_after(
    teams: Teams, message: dict[str, Any]
) -> None:
    teams.connector.fail_next("post", status=429, retry_after=3)

    async def send(context: TurnContext) -> None:
        await context.send_activity("hello")

    with pytest.raises(ErrorResponseException) as raised:
        await teams.adapter.continue_conversation(reference_of(message), send, TEST_APP_ID)

    assert raised.value.response.status_code == 429  # a requests.Response
    assert raised.value.response.headers["Retry-After"] == "3"
    assert raised.value.error.error.code == "Throttled"
    assert [call.status for call in teams.connector.calls] == [429]  # one try, no retry
    await teams.adapter.continue_conversation(reference_of(message), send, TEST_APP_ID)
    assert [call.status for call in teams.connector.calls] == [429, 201]


async def test_the_two_documented_403_shapes_of_a_blocked_bot(
    teams: Teams, message: dict[str, Any]
) -> None:
    teams.connector.fail_next("post", status=403)  # ConversationBlockedByUser by default
    teams.connector.fail_next("post", status=403, body=MESSAGE_WRITES_BLOCKED)

    async def send(context: TurnContext) -> None:
        await context.send_activity("hello")

    errors: list[ErrorResponseException] = []
    for _ in range(2):
        with pytest.raises(ErrorResponseException) as raised:
            await teams.adapter.continue_conversation(reference_of(message), send, TEST_APP_ID)
        errors.append(raised.value)

    blocked, writes_blocked = errors
    assert blocked.response.status_code == 403
    assert blocked.error.error.code == BLOCKED_BY_USER["error"]["code"]
    assert writes_blocked.response.status_code == 403
    assert writes_blocked.error.error is None  # not the ErrorResponse envelope
    assert "MessageWritesBlocked" in writes_blocked.response.text
    assert teams.connector.sent(message["conversation"]["id"]) == []


async def test_updating_an_activity_the_connector_never_saw_is_a_404(
    teams: Teams, message: dict[str, Any]
) -> None:
    async def update(context: TurnContext) -> None:
        await context.update_activity(Activity(type="message", id="1699999999999", text="x"))

    with pytest.raises(ErrorResponseException) as raised:
        await teams.adapter.continue_conversation(reference_of(message), update, TEST_APP_ID)

    assert raised.value.response.status_code == 404
    assert raised.value.error.error.code == "ActivityNotFoundInConversation"


async def test_urllib3_under_botbuilder_retries_put_but_never_post(
    teams: Teams, message: dict[str, Any]
) -> None:
    """msrest's retry policy: 408/5xx (not 501/505) and Retry-After on 413/429/503, 3 retries,
    for the methods urllib3 2 allows by default (GET, PUT, DELETE...), never for POST."""
    conversation_id = message["conversation"]["id"]
    card = teams.connector.add_activity(conversation_id, {"type": "message", "text": "v1"})
    teams.connector.fail_next("update", status=502)  # retried at once
    teams.connector.fail_next("update", status=429, retry_after=1)  # retried after Retry-After
    teams.connector.fail_next("post", status=502)

    async def update_then_send(context: TurnContext) -> None:
        await context.update_activity(Activity(type="message", id=card, text="v2"))
        await context.send_activity("after the update")

    with pytest.raises(ErrorResponseException) as raised:
        await teams.adapter.continue_conversation(
            reference_of(message), update_then_send, TEST_APP_ID
        )

    assert raised.value.response.status_code == 502
    assert [(call.kind, call.status) for call in teams.connector.calls] == [
        ("update", 502),
        ("update", 429),
        ("update", 200),
        ("reply", 502),
    ]
    assert teams.connector.sent(conversation_id)[0]["text"] == "v2"


async def test_when_urllib3_gives_up_the_error_is_not_an_error_response(
    teams: Teams, message: dict[str, Any]
) -> None:
    card = teams.connector.add_activity(message["conversation"]["id"], {"type": "message"})
    teams.connector.fail_next("update", status=503, retry_after=1, times=4)  # 1 s, not backoff

    async def update(context: TurnContext) -> None:
        await context.update_activity(Activity(type="message", id=card, text="v2"))

    with pytest.raises(ClientRequestError) as raised:
        await teams.adapter.continue_conversation(reference_of(message), update, TEST_APP_ID)

    assert isinstance(raised.value.inner_exception, requests.exceptions.RetryError)
    assert [call.status for call in teams.connector.calls] == [503, 503, 503, 503]


async def test_the_connector_refuses_calls_without_a_bearer_token(
    connector: FakeConnector,
) -> None:
    url = f"{connector.service_url}v3/conversations/a:1x/activities"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"type": "message", "text": "hi"}) as response:
            assert response.status == 401
        async with session.post(
            url, json={"type": "message", "text": "hi"}, headers=bearer("t")
        ) as response:
            assert response.status == 201
            assert (await response.json())["id"]

    assert [(call.status, call.token) for call in connector.calls] == [(401, None), (201, "t")]
    assert connector.sent("a:1x")[0]["text"] == "hi"


async def test_wait_for_times_out_with_the_calls_seen(connector: FakeConnector) -> None:
    with pytest.raises(TimeoutError, match="1 reply call"):
        await connector.wait_for("reply", 1, timeout=0.05)


# -- the pattern the adapter can use: authenticate first, then process ---------------------------


def auth_first_handler(
    adapter: CloudAdapter, bot: PongBot, escaped: list[BaseException]
) -> Handler:
    """Token failures of any type become 401; only the bot's own failures can still be 500."""

    async def messages(request: web.Request) -> web.StreamResponse:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.Response(status=415)
        try:
            activity = Activity().deserialize(await request.json())
        except ValueError:
            return web.Response(status=400)
        if not activity.type:
            return web.Response(status=400)
        try:
            auth = await adapter.bot_framework_authentication.authenticate_request(
                activity, request.headers.get("Authorization", "")
            )
        except Exception as error:  # PermissionError, jwt.PyJWTError, IndexError, Exception...
            escaped.append(error)
            return web.Response(status=401)
        invoke = await adapter.process_activity(auth, activity, bot.on_turn)
        if invoke is None:
            return web.Response(status=201)
        return web.json_response(serializer_helper(invoke.body), status=invoke.status)

    return messages


@pytest.mark.parametrize(
    "case",
    [
        "valid",
        "wrong audience",
        "expired",
        "malformed",
        "unknown kid",
        "no Authorization header",
    ],
)
async def test_authenticating_first_turns_every_token_failure_into_401(
    keys: TestKeys,
    openid: OpenIdServer,
    connector: FakeConnector,
    message: dict[str, Any],
    case: str,
) -> None:
    credentials = StaticTokenCredentialsFactory()
    client, adapter, bot, escaped = await start_bot(
        teams_config(openid), credentials=credentials, handler=auth_first_handler
    )
    teams = Teams(client, connector, openid, keys, adapter, credentials, bot, escaped)
    headers = {
        "valid": bearer(teams.token()),
        "wrong audience": bearer(teams.token(audience="someone-else")),
    }.get(case) or failing_headers(teams, case)
    try:
        response = await teams.post(message, headers)
    finally:
        await client.close()

    if case == "valid":
        assert response.status == 201
        assert len(bot.turns) == 1
        assert [call.json["text"] for call in connector.calls_to("reply")] == ["pong"]
    else:
        assert response.status == 401
        assert bot.turns == []
        assert len(escaped) == 1


async def test_teams_info_get_member_gets_the_seeded_member_or_a_404(
    teams: Teams, message: dict[str, Any]
) -> None:
    """TeamsInfo.get_member's call (GET v3/conversations/{id}/members/{member}) through the
    turn's real ConnectorClient: the seeded TeamsChannelAccount, or Teams' 404 for another."""
    conversation_id = message["conversation"]["id"]
    teams.connector.members[conversation_id] = [
        {"id": "29:nadia", "name": "Nadia Newcomer", "aadObjectId": "aad-nadia"}
    ]
    found: list[Any] = []

    async def lookup(context: TurnContext) -> None:
        client = context.turn_state[context.adapter.BOT_CONNECTOR_CLIENT_KEY]
        found.append(
            await client.conversations.get_conversation_member(conversation_id, "29:nadia")
        )
        with pytest.raises(ErrorResponseException):
            await client.conversations.get_conversation_member(conversation_id, "29:somebody-else")

    await teams.adapter.continue_conversation(reference_of(message), lookup, TEST_APP_ID)
    assert [(member.name, member.aad_object_id) for member in found] == [
        ("Nadia Newcomer", "aad-nadia")
    ]
    calls = teams.connector.calls_to("get_member")
    assert [(c.path, c.status, c.token) for c in calls] == [
        (f"/v3/conversations/{conversation_id}/members/29:nadia", 200, TEST_OUTBOUND_TOKEN),
        (f"/v3/conversations/{conversation_id}/members/29:somebody-else", 404, TEST_OUTBOUND_TOKEN),
    ]
