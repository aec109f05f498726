"""The console's outbox transport: what the bot sends on its own is printed, like a chat."""

from __future__ import annotations

from adapters.console.render import render_outgoing, render_update
from bot.message import ChannelPost, DirectMessage, Message
from bot.platform import Delivery


class ConsoleTransport:
    conversation_interval = 0.0
    workspace_rate = 0.0  # a terminal has no rate limit

    def __init__(self) -> None:
        self.printed: list[str] = []

    def take(self) -> list[str]:
        """What was delivered since the last call, in order."""
        taken, self.printed = self.printed, []
        return taken

    async def send(self, delivery: Delivery) -> str:
        assert delivery.message is not None
        if delivery.kind == "dm":
            item: DirectMessage | ChannelPost = DirectMessage(
                delivery.message, delivery.user_id, delivery.name
            )
            self.printed.append(render_outgoing(item))
        else:
            item = ChannelPost(delivery.message, delivery.conversation, delivery.name)
            self.printed.append(render_outgoing(item))
        return f"console-{delivery.id}"  # so later updates of a poll are shown too

    async def edit(
        self, delivery: Delivery, conversation: str, message_id: str, *, message: Message
    ) -> None:
        self.printed.append(render_update(delivery.subject, message))

    async def find_sent(self, delivery: Delivery) -> str | None:
        return None  # nothing to ask a terminal
