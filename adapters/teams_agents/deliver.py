"""Sending to Teams through the Microsoft 365 Agents SDK: the rules of adapters/teams/sending.py
(allow-listed service URLs, pacing, retries on 429/412/502/504, private answers in a 1:1 chat,
blocked people remembered, the outbox's error classes), on the Agents SDK's connector.

`TeamsSenderBase`'s SDK-free logic (which reply goes where, the directory, blocking) is inherited;
what touches the SDK is overridden. The SDK raises `aiohttp.ClientResponseError` for a refused
call; `mapped` turns it into `ConnectorError`, shaped like botbuilder's errors (`.response`
with `status_code`, `text` and `headers`), so the shared classification (`status_of`,
`blocked_by_user`, `Retry-After`) reads both alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from microsoft_agents.activity import (
    Activity,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    ConversationResourceResponse,
)
from microsoft_agents.hosting.core import ChannelServiceClientFactoryBase, TurnContext
from microsoft_agents.hosting.core.authorization import AuthenticationConstants, ClaimsIdentity

from adapters.teams.render import activity_fields
from adapters.teams.sending import NotAllowed, TeamsSenderBase, host_allowed, once, with_retries
from bot.directory import Directory, user_key
from bot.events import Actor
from bot.message import Message

log = logging.getLogger(__name__)
T = TypeVar("T")
CHANNEL = "msteams"


@dataclass(frozen=True, slots=True)
class ConnectorAnswer:
    status_code: int
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)


class ConnectorError(Exception):
    """A call the Bot Framework connector refused, with its status, body and headers."""

    def __init__(self, answer: ConnectorAnswer) -> None:
        super().__init__(f"HTTP {answer.status_code}: {answer.text[:300]}")
        self.response = answer


async def mapped(call: Awaitable[T]) -> T:
    try:
        return await call
    except aiohttp.ClientResponseError as error:
        answer = ConnectorAnswer(error.status, error.message or "", error.headers or {})
        raise ConnectorError(answer) from error


class AgentsSender(TeamsSenderBase):
    def __init__(
        self,
        adapter: Any,
        factory: ChannelServiceClientFactoryBase,
        app_id: str,
        *,
        directory: Directory,
        extra_hosts: tuple[str, ...],
        public_url: str = "",
        allow_loopback: bool = False,
    ) -> None:
        super().__init__(
            adapter,
            app_id,
            directory,
            extra_hosts=extra_hosts,
            public_url=public_url,
            allow_loopback=allow_loopback,
        )
        self.factory = factory  # the CloudAdapter's: the same token source for every call

    def bot_identity(self) -> ClaimsIdentity:
        """Who the bot is on its own turns (proactive, replays): itself, or, in the local trial
        (no app id), anonymous, so that no token is asked for."""
        if not self.app_id:
            return ClaimsIdentity()
        return self.adapter.create_claims_identity(self.app_id)

    async def in_turn(
        self, turn: TurnContext, message: Message, *, retry: bool = True
    ) -> str | None:
        conversation = turn.activity.conversation.id
        await self.pacer.wait(conversation)
        activity = outgoing(message, self.public_url)
        response = await (with_retries if retry else once)(
            lambda: mapped(turn.send_activity(activity)), "send"
        )
        return getattr(response, "id", None) or None

    async def _continue(
        self, reference: ConversationReference, message: Message, *, retry: bool
    ) -> str | None:
        sent: list[str | None] = []

        async def send(turn: TurnContext) -> None:
            sent.append(await self.in_turn(turn, message, retry=retry))

        await self._proactive(reference, send)
        return sent[0] if sent else None

    async def _proactive(
        self, reference: ConversationReference, callback: Callable[[TurnContext], Awaitable[None]]
    ) -> None:
        """A turn of the bot's own in a stored conversation. The Agents SDK's
        `continue_conversation(agent_app_id, continuation_activity, callback)` always claims
        to be the app id (with none, it would ask for a token); `_with_claims` says who."""
        await self.adapter.continue_conversation_with_claims(
            self.bot_identity(),
            reference.get_continuation_activity(),
            callback,
            AuthenticationConstants.AGENTS_SDK_SCOPE,
        )

    async def _open_and_send(
        self, actor: Actor, user_id: str, tenant: str | None, *, message: Message, retry: bool
    ) -> str | None:
        """A 1:1 chat with someone who may never have written to the bot (tenant + user).

        Not the SDK's `CloudAdapter.create_conversation`: its error drops Teams' answer (the
        `MessageWritesBlocked` that says the person removed the bot). The call is made on the
        SDK's connector session, with the same factory and token."""
        service_url = self._tenant_url(tenant)
        parameters = ConversationParameters(
            is_group=False,
            agent=ChannelAccount(id=f"28:{self.app_id}"),
            members=[ChannelAccount(id=user_id)],
            tenant_id=actor.workspace_id,
            channel_data={"tenant": {"id": actor.workspace_id}},
        )
        created = await (with_retries if retry else once)(
            lambda: self._create_conversation(service_url, parameters), "create_conversation"
        )
        # As botbuilder's create-conversation turn: no `user` (the sends name no recipient).
        reference = ConversationReference(
            agent=ChannelAccount(id=f"28:{self.app_id}"),
            conversation=ConversationAccount(
                id=created.id, conversation_type="personal", tenant_id=actor.workspace_id
            ),
            channel_id=CHANNEL,
            service_url=service_url,
        )
        entry = (json.dumps(reference_json(reference)), service_url)
        await self.directory.save(actor, {user_key(user_id): entry})
        return await self._continue(reference, message, retry=retry)

    async def _create_conversation(
        self, service_url: str, parameters: ConversationParameters
    ) -> ConversationResourceResponse:
        identity = self.bot_identity()
        connector = await self.factory.create_connector_client(
            None,
            identity,
            service_url,
            AuthenticationConstants.AGENTS_SDK_SCOPE,
            use_anonymous=identity.allow_anonymous,
        )
        try:
            session: aiohttp.ClientSession = connector.client  # type: ignore[attr-defined]
            body = parameters.model_dump(by_alias=True, exclude_unset=True, mode="json")
            async with session.post("v3/conversations", json=body) as response:
                text = await response.text()
                if response.status not in (200, 201, 202):
                    answer = ConnectorAnswer(response.status, text, response.headers)
                    raise ConnectorError(answer)
            return ConversationResourceResponse.model_validate_json(text)
        finally:
            await connector.close()

    async def edit(
        self, actor: Actor, conversation: str, activity_id: str, *, message: Message
    ) -> None:
        reference = await self._reference(actor, conversation)

        async def update(turn: TurnContext) -> None:
            activity = outgoing(message, self.public_url)
            activity.id = activity_id
            await mapped(turn.update_activity(activity))

        await self._proactive(reference, update)

    def _checked(self, stored: str | None, key: str) -> ConversationReference:
        """A stored reference (botbuilder's or ours: the same JSON), refused unless its
        service URL is on the allow-list."""
        if stored is None:
            raise LookupError(f"no conversation reference for {key}; the bot must be added there")
        reference = ConversationReference.model_validate(json.loads(stored))
        if not host_allowed(
            reference.service_url or "", self.extra_hosts, loopback=self.allow_loopback
        ):
            raise NotAllowed(f"service URL {reference.service_url} is not on the allow-list")
        return reference


def reference_json(reference: ConversationReference) -> dict[str, Any]:
    """A conversation reference as Bot Framework JSON (`bot`, `serviceUrl`, ...), as botbuilder
    stores it too, so the directory's addresses work with either SDK."""
    return reference.model_dump(by_alias=True, exclude_none=True, mode="json")


def outgoing(message: Message, public_url: str = "") -> Activity:
    fields = activity_fields(message, public_url)
    activity = Activity(type=fields["type"])
    if "text" in fields:
        activity.text = fields["text"]
        activity.text_format = fields["textFormat"]
    if "attachments" in fields:
        activity.attachments = [
            Attachment(content_type=a["contentType"], content=a["content"])
            for a in fields["attachments"]
        ]
        activity.summary = fields["summary"]
    return activity
