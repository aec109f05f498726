"""The command registry, and the request every command handler receives.

Each feature module declares its commands with `@command(...)`; help is generated from that
metadata, so a command's documentation lives beside its code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.events import Actor, Place
from bot.message import Outcome
from bot.parsing import UsageError
from bot.settings import Settings
from storage.models import CommitteeMember

DEFAULT_CURRENCY = "USD"
DEFAULT_TIMEZONE = "UTC"


@dataclass(slots=True)
class Request:
    """One command being handled: who asked, where, in which workspace, inside one transaction."""

    actor: Actor
    place: Place
    session: AsyncSession
    workspace_id: int
    config: dict[str, str]
    settings: Settings
    now: datetime  # aware, UTC
    admins: frozenset[str]
    voter_key: bytes
    _committee: CommitteeMember | bool | None = field(default=False)

    @property
    def currency(self) -> str:
        return self.config.get("currency", DEFAULT_CURRENCY)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.get("timezone", DEFAULT_TIMEZONE))

    @property
    def is_admin(self) -> bool:
        ids = {self.actor.user_id, self.actor.directory_id} - {None}
        return not ids.isdisjoint(self.admins)

    async def committee_seat(self) -> CommitteeMember | None:
        if self._committee is False:
            self._committee = (
                await self.session.exec(
                    select(CommitteeMember).where(
                        CommitteeMember.workspace_id == self.workspace_id,
                        CommitteeMember.user_id == self.actor.user_id,
                    )
                )
            ).first()
        return self._committee  # type: ignore[return-value]  # no longer the False "not looked up"

    async def require_admin(self, doing: str) -> None:
        if not self.is_admin:
            raise Refusal(f"Only an admin can {doing}. Admins are set with FINOPS_ADMINS.")

    async def require_committee(self, doing: str) -> None:
        if not self.is_admin and await self.committee_seat() is None:
            raise Refusal(
                f"Only steering committee members and admins can {doing}. "
                "See `committee` for who is on it."
            )


class Refusal(Exception):
    """The person may not do this; the message says who may."""


Handler = Callable[[Request, str], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    summary: str
    usage: tuple[str, ...]  # one line per form, e.g. "win undo <id>"
    examples: tuple[str, ...]
    handler: Handler
    details: str = ""


COMMANDS: dict[str, CommandSpec] = {}


def command(
    name: str,
    *,
    summary: str,
    usage: tuple[str, ...] | str,
    examples: tuple[str, ...] | str,
    details: str = "",
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = CommandSpec(
            name=name,
            summary=summary,
            usage=(usage,) if isinstance(usage, str) else usage,
            examples=(examples,) if isinstance(examples, str) else examples,
            handler=handler,
            details=details,
        )
        return handler

    return register


def usage_text(spec: CommandSpec) -> str:
    return f"Usage: {' | '.join(spec.usage)}\nExample: {spec.examples[0]}"


__all__ = ["COMMANDS", "CommandSpec", "Refusal", "Request", "UsageError", "command", "usage_text"]
