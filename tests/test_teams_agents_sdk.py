"""The Microsoft 365 Agents SDK (1.x) on its own, against our fakes: the facts
adapters/teams_agents/NOTES.md relies on (tests/test_teams_fakes.py does the same for
botbuilder). When an SDK upgrade changes one of them, its test fails here, and the adapter's
way around it needs a look.

The SDK's CloudAdapter and RestChannelServiceClientFactory are real, and so is its
TeamsConnectorClient talking to `FakeConnector` over HTTP; the only stand-in is the token
source (`StaticTokenConnections`), as `StaticTokenCredentialsFactory` is for botbuilder.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from microsoft_agents.activity import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import RestChannelServiceClientFactory, TurnContext
from microsoft_agents.hosting.core.authorization import AuthenticationConstants

from tests.fakes.bot_framework import BLOCKED_BY_USER, MESSAGE_WRITES_BLOCKED, FakeConnector
from tests.helpers import shared_path
from tests.teams_auth import (
    TEST_APP_ID,
    TEST_OUTBOUND_TOKEN,
    TEST_TENANT_ID,
    StaticTokenConnections,
)

USER_ID = "29:1user-alice-synthetic"
BOT_ID = f"28:{TEST_APP_ID}"


class PongAgent:
    """Answers every message with "pong"; records the turns it saw."""

    def __init__(self) -> None:
        self.turns: list[TurnContext] = []

    async def on_turn(self, context: TurnContext) -> None:
        self.turns.append(context)
        if context.activity.type == "message":
            await context.send_activity("pong")


def cloud_adapter(connections: StaticTokenConnections | None = None) -> CloudAdapter:
    factory = RestChannelServiceClientFactory(connections or StaticTokenConnections())
    return CloudAdapter(channel_service_client_factory=factory)


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    async with FakeConnector() as fake:
        yield fake


def message(connector: FakeConnector) -> dict[str, Any]:
    sample = json.loads(shared_path("samples/teams/message_personal.json").read_text())
    return sample | {"serviceUrl": connector.service_url}


def reference(connector: FakeConnector) -> ConversationReference:
    return ConversationReference(
        agent=ChannelAccount(id=BOT_ID),
        conversation=ConversationAccount(id="a:1chat-synthetic", conversation_type="personal"),
        channel_id="msteams",
        service_url=connector.service_url,
    )


async def test_process_without_the_jwt_middleware_runs_a_garbage_token_as_anonymous() -> None:
    """Why the adapter validates the token itself: `CloudAdapter.process` does not."""
    async with FakeConnector(anonymous=True) as connector:
        adapter, agent = cloud_adapter(), PongAgent()
        app = web.Application()

        async def messages(request: web.Request) -> web.StreamResponse:
            return await adapter.process(request, agent)  # type: ignore[arg-type]

        app.router.add_post("/api/messages", messages)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            response = await client.post(
                "/api/messages",
                json=message(connector),
                headers={"Authorization": "Bearer not.a.jwt"},
            )
        assert response.status == 202  # accepted and worked
        [turn] = agent.turns
        assert turn.identity is not None and turn.identity.claims == {}  # anonymous
        [reply] = connector.calls_to("reply")
        assert reply.token is None  # anonymous replies carry no token at all


async def test_the_default_turn_error_handler_tells_the_person_and_swallows_the_error(
    connector: FakeConnector,
) -> None:
    adapter = cloud_adapter()
    identity = adapter.create_claims_identity(TEST_APP_ID)

    async def failing(context: TurnContext) -> None:
        raise RuntimeError("an internal detail")

    activity = Activity.model_validate(message(connector))
    await adapter.process_activity(identity, activity, failing)  # no exception
    [told] = connector.calls_to("reply")
    assert "Exception caught : an internal detail" in told.json["text"]

    adapter.on_turn_error = None  # what adapters/teams_agents does
    with pytest.raises(RuntimeError):
        await adapter.process_activity(identity, activity, failing)


async def test_continue_conversation_takes_the_app_id_first_and_an_activity(
    connector: FakeConnector,
) -> None:
    """botbuilder: continue_conversation(reference, callback, bot_id); the Agents SDK:
    continue_conversation(agent_app_id, continuation_activity, callback)."""
    connections = StaticTokenConnections()
    adapter = cloud_adapter(connections)
    continuation = reference(connector).get_continuation_activity()

    async def send(context: TurnContext) -> None:
        await context.send_activity("proactive")

    await adapter.continue_conversation(TEST_APP_ID, continuation, send)
    [reply] = connector.calls_to("reply")
    assert reply.path == f"/v3/conversations/a:1chat-synthetic/activities/{continuation.id}"
    assert reply.token == TEST_OUTBOUND_TOKEN
    assert connections.provider.requests[0][0] == AuthenticationConstants.AGENTS_SDK_SCOPE


async def test_create_conversation_opens_the_chat_but_its_error_drops_teams_answer(
    connector: FakeConnector,
) -> None:
    """CloudAdapter.create_conversation(agent_app_id, channel_id, service_url, audience,
    parameters, callback) works; but a refusal is `raise_for_status()`'s error, without Teams'
    body: a 403 `MessageWritesBlocked` (the person removed the bot) cannot be told from
    another 403. adapters/teams_agents/deliver.py posts v3/conversations itself."""
    adapter = cloud_adapter()
    adapter.on_turn_error = None
    parameters = ConversationParameters(
        is_group=False,
        agent=ChannelAccount(id=BOT_ID),
        members=[ChannelAccount(id=USER_ID)],
        tenant_id=TEST_TENANT_ID,
    )
    opened: list[str] = []

    async def send(context: TurnContext) -> None:
        opened.append(context.activity.conversation.id)
        await context.send_activity("hello")

    scope = AuthenticationConstants.AGENTS_SDK_SCOPE
    await adapter.create_conversation(
        TEST_APP_ID, "msteams", connector.service_url, scope, parameters, send
    )
    assert opened and opened[0].startswith("a:")
    assert [a["text"] for a in connector.sent(opened[0])] == ["hello"]

    connector.fail_next("create_conversation", status=403, body=MESSAGE_WRITES_BLOCKED)
    with pytest.raises(aiohttp.ClientResponseError) as raised:
        await adapter.create_conversation(
            TEST_APP_ID, "msteams", connector.service_url, scope, parameters, send
        )
    assert raised.value.status == 403
    assert "MessageWritesBlocked" not in raised.value.message


async def test_a_refused_send_is_a_client_response_error_carrying_teams_answer(
    connector: FakeConnector,
) -> None:
    adapter = cloud_adapter()
    adapter.on_turn_error = None
    connector.fail_next("post", status=403, body=MESSAGE_WRITES_BLOCKED)

    async def send(context: TurnContext) -> None:
        await context.send_activity("hello")

    continuation = reference(connector).get_continuation_activity()
    with pytest.raises(aiohttp.ClientResponseError) as raised:
        await adapter.continue_conversation(TEST_APP_ID, continuation, send)
    assert raised.value.status == 403
    assert "MessageWritesBlocked" in raised.value.message


def test_the_activity_model_keeps_mentions_and_channel_data() -> None:
    sample = json.loads(shared_path("samples/teams/message_channel_mention.json").read_text())
    dumped = Activity.model_validate(sample).model_dump(
        by_alias=True, exclude_unset=True, mode="json"
    )
    assert dumped["entities"] == sample["entities"]
    assert dumped["channelData"] == sample["channelData"]


def test_stored_conversation_references_read_the_same_in_both_sdks() -> None:
    """bot/directory.py keeps references as JSON: what one adapter stored, the other reads, so
    switching FINOPS_TEAMS_SDK keeps every address."""
    from botbuilder.core import TurnContext as BotbuilderTurn
    from botbuilder.schema import Activity as BotbuilderActivity
    from botbuilder.schema import ConversationReference as BotbuilderReference

    from adapters.teams_agents.deliver import reference_json

    sample = json.loads(shared_path("samples/teams/message_channel_mention.json").read_text())
    by_botbuilder = BotbuilderTurn.get_conversation_reference(
        BotbuilderActivity().deserialize(sample)
    ).serialize()
    by_agents = reference_json(Activity.model_validate(sample).get_conversation_reference())

    read = ConversationReference.model_validate(by_botbuilder)
    assert (read.service_url, read.agent.id, read.conversation.id, read.activity_id) == (
        sample["serviceUrl"],
        sample["recipient"]["id"],
        sample["conversation"]["id"],
        sample["id"],
    )
    back = BotbuilderReference().deserialize(by_agents)
    assert (back.service_url, back.bot.id, back.conversation.id, back.activity_id) == (
        sample["serviceUrl"],
        sample["recipient"]["id"],
        sample["conversation"]["id"],
        sample["id"],
    )


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, None, "RateLimited"),
        (412, None, "NotDelivered"),
        (404, None, "Undeliverable"),
        (403, BLOCKED_BY_USER, "blocked"),
        (403, MESSAGE_WRITES_BLOCKED, "blocked"),
        (502, None, "ConnectorError"),  # may have arrived: the outbox decides
    ],
)
async def test_connector_refusals_are_classified_as_the_botbuilder_adapters_are(
    connector: FakeConnector, status: int, body: Any, expected: str
) -> None:
    """adapters/teams_agents/deliver.py's `mapped` gives the SDK's ClientResponseError the
    shape adapters/teams/sending.py reads: status, Teams' body, Retry-After."""
    from adapters.teams.sending import _classified, blocked_by_user, status_of
    from adapters.teams_agents.deliver import ConnectorError, mapped
    from bot.platform import RateLimited

    adapter = cloud_adapter()
    adapter.on_turn_error = None
    connector.fail_next("post", status=status, retry_after=3, body=body)

    async def send(context: TurnContext) -> None:
        await mapped(context.send_activity("hello"))

    continuation = reference(connector).get_continuation_activity()
    with pytest.raises(ConnectorError) as raised:
        await adapter.continue_conversation(TEST_APP_ID, continuation, send)
    error = raised.value
    assert status_of(error) == status
    if expected == "blocked":
        assert blocked_by_user(error)
    else:
        assert not blocked_by_user(error)
        classified = _classified(error)
        assert type(classified).__name__ == expected
        if isinstance(classified, RateLimited):
            assert classified.retry_after == 3
