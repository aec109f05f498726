"""The command registry, and the request every command handler receives.

Each feature module declares its commands with `@command(...)`; help is generated from that
metadata, so a command's documentation lives beside its code. The metadata also declares each
command's subcommands and who may run each (`Role`): `run` checks the role before any handler
runs and refuses with the declared `doing`, so no handler repeats a static role check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
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
    # What the command's `prepare` step read and drew before this transaction, or None.
    prepared: object = None
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

    async def require(self, role: Role, doing: str) -> None:
        """Refuse, saying who may `doing`, unless the person holds `role`."""
        if role is Role.ADMIN and not self.is_admin:
            raise Refusal(f"Only an admin can {doing}. Admins are set with FINOPS_ADMINS.")
        if role is Role.COMMITTEE and not self.is_admin and await self.committee_seat() is None:
            raise Refusal(
                f"Only steering committee members and admins can {doing}. "
                "See `committee` for who is on it."
            )

    async def require_admin(self, doing: str) -> None:
        """For a rule that depends on what was asked, not on the (sub)command alone."""
        await self.require(Role.ADMIN, doing)

    async def require_committee(self, doing: str) -> None:
        """For a rule that depends on what was asked, not on the (sub)command alone."""
        await self.require(Role.COMMITTEE, doing)


class Refusal(Exception):
    """The person may not do this; the message says who may."""


Handler = Callable[[Request, str], Awaitable[Outcome]]
# Reads (and draws) what a command will need, in a read-only transaction before the command's
# own: heavy work there holds no write lock. Its result is `Request.prepared`.
Preparer = Callable[[Request, str], Awaitable[object]]


class Role(Enum):
    """Who may run a command or subcommand. Admins may run everything."""

    ANYONE = ""
    COMMITTEE = "committee"
    ADMIN = "admins"

    @property
    def shown(self) -> str:
        """`(admins)`, `(committee)` in help; nothing for anyone."""
        return f"({self.value})" if self.value else ""


@dataclass(frozen=True, slots=True)
class Subcommand:
    """A reserved first word of a command (`win undo`, `committee add`) and who may run it.

    `doing` completes the refusal: "Only an admin can {doing}." With `shows_alone`, the word
    alone only shows something (`committee meeting`) and anyone may run that. With `handler`,
    the dispatcher calls it with the text after the word; without, the command's own handler
    gets the whole text (the role is still checked first)."""

    name: str
    summary: str
    role: Role = Role.ANYONE
    doing: str = ""
    aliases: tuple[str, ...] = ()
    handler: Handler | None = None
    shows_alone: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command. `role`, `doing` and `shows_alone` are for its text when that names no
    subcommand (`config <key> <value>` is for admins, `config` alone for anyone)."""

    name: str
    summary: str
    usage: tuple[str, ...]  # one line per form, e.g. "win undo <id>"
    examples: tuple[str, ...]
    handler: Handler
    details: str = ""
    prepare: Preparer | None = None
    subcommands: tuple[Subcommand, ...] = ()
    role: Role = Role.ANYONE
    doing: str = ""
    shows_alone: bool = False

    @property
    def subcommand_names(self) -> tuple[str, ...]:
        """Every reserved first word, aliases included (the typo check's candidates)."""
        return tuple(name for sub in self.subcommands for name in sub.names)

    def subcommand(self, args: str) -> tuple[Subcommand | None, str]:
        """The subcommand `args` starts with, if any, and the text after its word."""
        first, *rest = args.split(maxsplit=1) or [""]
        for sub in self.subcommands:
            if first.lower() in sub.names:
                return sub, rest[0] if rest else ""
        return None, args

    async def authorise(self, req: Request, args: str) -> None:
        """Refuse (Refusal) when the declared role of what `args` asks for is not the asker's."""
        sub, rest = self.subcommand(args)
        rule: Subcommand | CommandSpec = sub if sub is not None else self
        if rule.role is not Role.ANYONE and not (rule.shows_alone and not rest.strip()):
            await req.require(rule.role, rule.doing)

    async def run(self, req: Request, args: str) -> Outcome:
        """Check the declared role, then call the subcommand's handler or the command's."""
        await self.authorise(req, args)
        sub, rest = self.subcommand(args)
        if sub is not None and sub.handler is not None:
            return await sub.handler(req, rest)
        return await self.handler(req, args)


COMMANDS: dict[str, CommandSpec] = {}


def command(
    name: str,
    *,
    summary: str,
    usage: tuple[str, ...] | str,
    examples: tuple[str, ...] | str,
    details: str = "",
    prepare: Preparer | None = None,
    subcommands: tuple[Subcommand, ...] = (),
    role: Role = Role.ANYONE,
    doing: str = "",
    shows_alone: bool = False,
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = CommandSpec(
            name=name,
            summary=summary,
            usage=(usage,) if isinstance(usage, str) else usage,
            examples=(examples,) if isinstance(examples, str) else examples,
            handler=handler,
            details=details,
            prepare=prepare,
            subcommands=subcommands,
            role=role,
            doing=doing,
            shows_alone=shows_alone,
        )
        return handler

    return register


def usage_text(spec: CommandSpec) -> str:
    return f"Usage: {' | '.join(spec.usage)}\nExample: {spec.examples[0]}"


__all__ = [
    "COMMANDS",
    "CommandSpec",
    "Refusal",
    "Request",
    "Role",
    "Subcommand",
    "UsageError",
    "command",
    "usage_text",
]
