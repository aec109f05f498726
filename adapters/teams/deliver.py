"""Sending to Teams through botbuilder: replies in the turn (or a 1:1 chat), proactive
sends and edits. The rules (allow-list, pacing, retries, blocked people, the outbox's
`TeamsTransport`) are SDK-free, in sending.py, and re-exported here."""

from __future__ import annotations

import json
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import (
    Activity,
    Attachment,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)

from adapters.teams.render import activity_fields
from adapters.teams.sending import (  # noqa: F401  (re-exported: the rules live there)
    DEFAULT_ALLOWED_HOSTS,
    MAX_ATTEMPTS,
    PER_CONVERSATION_INTERVAL,
    RETRIED_STATUSES,
    Blocked,
    NotAllowed,
    Pacer,
    TeamsSenderBase,
    TeamsTransport,
    allowed_host,
    blocked_by_user,
    host_allowed,
    is_loopback,
    once,
    status_of,
    with_retries,
)
from bot.directory import user_key
from bot.events import Actor
from bot.message import Message


class TeamsSender(TeamsSenderBase):
    """Sending through botbuilder's CloudAdapter and ConnectorClient."""

    async def in_turn(
        self, turn: TurnContext, message: Message, *, retry: bool = True
    ) -> str | None:
        conversation = turn.activity.conversation.id
        await self.pacer.wait(conversation)
        activity = Activity(**_activity_args(message, self.public_url))
        response = await (with_retries if retry else once)(
            lambda: turn.send_activity(activity), "send"
        )
        return getattr(response, "id", None)

    async def _continue(
        self, reference: ConversationReference, message: Message, *, retry: bool
    ) -> str | None:
        sent: list[str | None] = []

        async def send(turn: TurnContext) -> None:
            sent.append(await self.in_turn(turn, message, retry=retry))

        await self.adapter.continue_conversation(reference, send, self.app_id)
        return sent[0] if sent else None

    async def _open_and_send(
        self, actor: Actor, user_id: str, tenant: str | None, *, message: Message, retry: bool
    ) -> str | None:
        """A 1:1 chat with someone who may never have written to the bot (tenant + user)."""
        service_url = self._tenant_url(tenant)
        parameters = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=f"28:{self.app_id}"),
            members=[ChannelAccount(id=user_id)],
            tenant_id=actor.workspace_id,
            channel_data={"tenant": {"id": actor.workspace_id}},
        )

        sent: list[str | None] = []

        async def send(turn: TurnContext) -> None:
            reference = TurnContext.get_conversation_reference(turn.activity)
            entry = (json.dumps(reference.serialize()), service_url)
            await self.directory.save(actor, {user_key(user_id): entry})
            sent.append(await self.in_turn(turn, message, retry=retry))

        await (with_retries if retry else once)(
            lambda: self.adapter.create_conversation(
                self.app_id, send, parameters, "msteams", service_url
            ),
            "create_conversation",
        )
        return sent[0] if sent else None

    async def edit(self, actor: Actor, conversation: str, activity_id: str, *, message: Message):
        reference = await self._reference(actor, conversation)

        async def update(turn: TurnContext) -> None:
            activity = Activity(id=activity_id, **_activity_args(message, self.public_url))
            await turn.update_activity(activity)

        await self.adapter.continue_conversation(reference, update, self.app_id)

    def _checked(self, stored: str | None, key: str) -> ConversationReference:
        """A stored reference, refused unless its service URL is on the allow-list."""
        if stored is None:
            raise LookupError(f"no conversation reference for {key}; the bot must be added there")
        reference = ConversationReference().deserialize(json.loads(stored))
        if not host_allowed(
            reference.service_url or "", self.extra_hosts, loopback=self.allow_loopback
        ):
            raise NotAllowed(f"service URL {reference.service_url} is not on the allow-list")
        return reference


def _activity_args(message: Message, public_url: str = "") -> dict[str, Any]:
    fields = activity_fields(message, public_url)
    args: dict[str, Any] = {"type": fields["type"]}
    if "text" in fields:
        args.update(text=fields["text"], text_format=fields["textFormat"])
    if "attachments" in fields:
        args["attachments"] = [
            Attachment(content_type=a["contentType"], content=a["content"])
            for a in fields["attachments"]
        ]
        args["summary"] = fields["summary"]
    return args
