"""Inbound neutral events: what an adapter hands the core after translating a platform payload."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class Actor:
    """Who: a person on a platform, inside one workspace (Slack team, Teams tenant, console)."""

    platform: str  # "slack" | "teams" | "console"
    workspace_id: str  # Slack team id, Teams tenant id, "local" for the console
    user_id: str
    display_name: str = ""
    directory_id: str | None = None  # Teams: the Entra (AAD) object id admins can look up

    @property
    def name(self) -> str:
        return self.display_name or self.user_id


@dataclass(frozen=True, slots=True)
class Place:
    """Where: the conversation an event came from."""

    conversation_id: str
    conversation_name: str = ""
    is_direct: bool = False
    team_id: str | None = None  # Teams: the team a channel belongs to
    # Where the platform takes answers in this conversation for a while (Slack's response_url):
    # the fallback for a post in a conversation the bot cannot post in by itself.
    answer_url: str = ""


@dataclass(frozen=True, slots=True)
class CommandEvent:
    """A command typed by a person. `text` is everything after `/finops` or the @mention.

    Mentions in `text` use one canonical form, Slack's escaped one: `<@USERID|name>` for people and
    `<#CHANNELID|name>` for channels. Adapters rewrite their platform's mentions into it.
    """

    actor: Actor
    place: Place
    text: str
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class ActionEvent:
    """A button click: `action_id` and `value` as set on the neutral Button; `inputs` holds
    what the person typed in the form's `Input` fields (id -> text), if it had any."""

    actor: Actor
    place: Place
    action_id: str
    value: str
    event_id: str | None = None
    inputs: tuple[tuple[str, str], ...] = ()


class JoinScope(Enum):
    """What a person joined; decides whether they are welcomed (see features/onboarding)."""

    CHANNEL = "channel"  # the conversation in `place`: welcomed if it is the community channel
    WORKSPACE = "workspace"  # the whole Slack team / Teams tenant: welcomed if configured
    COMMUNITY = "community"  # the adapter knows it is the community itself (the console)


@dataclass(frozen=True, slots=True)
class MemberJoinedEvent:
    """A person joined a channel, the workspace, or the community."""

    actor: Actor
    place: Place
    event_id: str | None = None
    scope: JoinScope = JoinScope.CHANNEL


Event = CommandEvent | ActionEvent | MemberJoinedEvent


SYSTEM_USER = "finops-bot"


def system_actor(platform: str, workspace: str) -> Actor:
    """The bot itself, acting in a workspace (schedules, the outbox)."""
    return Actor(platform, workspace, SYSTEM_USER, "FinOps bot")
