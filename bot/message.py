"""The neutral outbound message: a plain-text fallback plus blocks that each adapter renders.

Every string here is plain, untrusted-safe text: adapters escape it for their platform at the
rendering boundary (Slack mrkdwn, Adaptive Card text, terminal). The core never pre-formats markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True, slots=True)
class Header:
    text: str


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Fields:
    """Label/value pairs shown side by side (at most 10, Slack's limit)."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Divider:
    pass


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    alt: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart picture with its text fallback. `token` names the stored copy served at
    /charts/<token>.png (for Teams cards and the dashboard)."""

    png: bytes
    alt: str  # what the chart shows, for screen readers and the file title
    sparkline: str  # the text fallback shown everywhere, e.g. "Effective cost ▁▂▃▅▇"
    token: str = ""


@dataclass(frozen=True, slots=True)
class Button:
    """A button; `command` is the text command that does the same, for text-only surfaces."""

    label: str
    action_id: str
    value: str
    command: str
    primary: bool = False


@dataclass(frozen=True, slots=True)
class Actions:
    buttons: tuple[Button, ...]


@dataclass(frozen=True, slots=True)
class Context:
    """Small print: attribution, hints, timestamps."""

    text: str


@dataclass(frozen=True, slots=True)
class Input:
    """A field a person fills in (a check-in answer). `id` comes back in
    `ActionEvent.inputs` when the form's submit button (an `Actions` button) is pressed;
    `command` is the text command that does the same, for text-only surfaces."""

    id: str
    label: str
    command: str
    number: bool = False
    value: str = ""  # the current answer, shown pre-filled


Block = Header | Text | Fields | Divider | Image | Chart | Actions | Context | Input


@dataclass(frozen=True, slots=True)
class Message:
    text: str  # required fallback: notifications, screen readers, text-only surfaces
    blocks: tuple[Block, ...] = ()


class Audience(Enum):
    """Where a reply to a command goes."""

    ASKER = "asker"  # only the person who asked (Slack ephemeral, Teams 1:1, console)
    CONVERSATION = "conversation"  # everyone in the conversation where it was asked


@dataclass(frozen=True, slots=True)
class Reply:
    message: Message
    audience: Audience = Audience.ASKER


@dataclass(frozen=True, slots=True)
class ChannelPost:
    """A message the bot posts on its own in a conversation (a channel id or `here`)."""

    message: Message
    channel_id: str
    channel_name: str = ""
    # Identifies the thing the post shows (e.g. "poll:12") so adapters can update it in place.
    subject: str = ""


@dataclass(frozen=True, slots=True)
class DirectMessage:
    message: Message
    user_id: str
    user_name: str = ""
    # Delete the outbox row once it is delivered (or given up): who got it is itself a secret,
    # e.g. a reminder of an anonymous poll goes to exactly the people who have not voted.
    forget: bool = False


@dataclass(frozen=True, slots=True)
class Update:
    """Something already posted (`subject`, e.g. "poll:12") has changed. Adapters fetch the
    current version with `Bot.view` when they edit it, so a burst of votes costs one render."""

    subject: str


Outgoing = Reply | ChannelPost | DirectMessage | Update


@dataclass(slots=True)
class Outcome:
    """Everything one inbound event causes the bot to send."""

    items: list[Outgoing] = field(default_factory=list)

    def reply(self, message: Message | str, audience: Audience = Audience.ASKER) -> Outcome:
        if isinstance(message, str):
            message = Message(text=message, blocks=(Text(message),))
        self.items.append(Reply(message, audience))
        return self

    def post(self, message: Message, channel_id: str, *, channel_name: str = "", subject: str = ""):
        self.items.append(ChannelPost(message, channel_id, channel_name, subject))
        return self

    def dm(
        self, message: Message, user_id: str, user_name: str = "", *, forget: bool = False
    ) -> Outcome:
        self.items.append(DirectMessage(message, user_id, user_name, forget))
        return self

    def update(self, subject: str) -> Outcome:
        self.items.append(Update(subject))
        return self

    def replies(self) -> list[Reply]:
        """The answers to the asker: the adapter that received the event sends these itself."""
        return [item for item in self.items if isinstance(item, Reply)]

    def queued(self) -> list[ChannelPost | DirectMessage | Update]:
        """What the bot sends on its own: written to the outbox with the change that caused it."""
        return [item for item in self.items if not isinstance(item, Reply)]
