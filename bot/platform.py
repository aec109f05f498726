"""What the core asks of a chat platform: an `Adapter` the composition root (app/server.py)
builds, mounts, starts and stops, and the `Transport` through which the outbox (bot/outbox.py)
sends what the bot says on its own. Slack, Teams and the console each provide both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.events import Actor, system_actor
from bot.message import Message

if TYPE_CHECKING:
    from aiohttp import web


class Adapter(Protocol):
    """One platform, as the composition root sees it. It is built with everything it uses
    (settings, the bot, the intake, the task tracker), so it is whole from its constructor
    on; then, in this order: `mount` (before the server starts), `start` (in the server's
    start-up: connections, background tasks), `stop_intake` (shutting down: take no new
    work), `close` (after the acked work has drained)."""

    platform: str  # "slack", "teams": the outbox rows it sends (`transport`)

    @property
    def transport(self) -> Transport: ...  # read-only here, so an adapter may narrow its type

    def mount(self, app: web.Application) -> None:
        """Add the platform's HTTP endpoint, if it has one."""
        ...

    async def start(self) -> None: ...

    async def stop_intake(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row, ready for a Transport."""

    id: int
    platform: str
    workspace: str  # the platform's workspace id (Slack team, Teams tenant)
    kind: str  # post | dm | update | home
    conversation: str  # channel id, `user:<id>`, the subject of an update, or `home:<id>`
    subject: str
    message: Message | None  # None for updates and home tabs: rendered when sent (current)
    name: str  # the channel's or person's name, where known
    fallback_url: str  # where to answer if the bot may not post in the channel (Slack)
    uncertain: bool
    created_at: datetime
    forget: bool = False  # deleted once delivered or dead: the recipient is not to be kept

    @property
    def actor(self) -> Actor:
        return system_actor(self.platform, self.workspace)

    @property
    def user_id(self) -> str:
        return self.conversation.removeprefix("user:").removeprefix("home:")


class RateLimited(Exception):
    """The platform said not now (429); nothing was delivered."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after:g} s")
        self.retry_after = retry_after


class NotDelivered(Exception):
    """The platform refused this attempt for a passing reason; nothing was delivered."""


class Undeliverable(Exception):
    """It can never be delivered (no such channel, the person blocked the bot): stop trying."""


class Transport(Protocol):
    """A platform's way to send outbox rows; raises the exceptions above."""

    conversation_interval: float  # seconds between two sends to one conversation
    workspace_rate: float  # sends per second per workspace, per replica (0: unlimited)

    async def send(self, delivery: Delivery) -> str:
        """Post or DM `delivery.message`; returns the platform's message id ("" if none)."""
        ...

    async def edit(
        self, delivery: Delivery, conversation: str, message_id: str, *, message: Message
    ) -> None:
        """Replace a message posted earlier."""
        ...

    async def find_sent(self, delivery: Delivery) -> str | None:
        """The message id if an earlier, uncertain attempt did reach the platform."""
        ...
