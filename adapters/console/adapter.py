"""`finops-bot console`: the zero-credential way to use every feature from a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import re
import sys
from collections.abc import Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from adapters.console.render import render_outgoing
from adapters.console.transport import ConsoleTransport
from bot.core import Bot
from bot.events import Actor, CommandEvent, JoinScope, MemberJoinedEvent, Place
from bot.message import Outcome
from bot.outbox import OutboxWorker

log = logging.getLogger(__name__)
WORKSPACE = "local"
PLACE = Place(conversation_id="console", conversation_name="console")
# `@jane` becomes the canonical mention `<@jane|jane>` the core understands.
_AT_NAME = re.compile(r"(?<![\w<@])@([A-Za-z0-9][A-Za-z0-9._\-]{0,99})")
HISTORY = Path.home() / ".finops_bot_history"
META_HELP = (
    "Console only: `:as <name>` act as someone else, `:join <name>` simulate a person joining "
    "the community (they get the welcome DM once ever), `:quit` leave (or Ctrl-D)."
)


def to_canonical(text: str) -> str:
    return _AT_NAME.sub(lambda m: f"<@{m[1]}|{m[1]}>", text)


def local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "me"


class ConsoleSession:
    """One person at a terminal; the local login is an admin, `--as` people are not."""

    def __init__(self, bot: Bot, user: str, workspace: str = WORKSPACE) -> None:
        self.bot = bot
        self.user = user
        self.workspace = workspace
        self.transport = ConsoleTransport()
        # The console delivers its own outbox right after each command, in this process, and
        # every second what `finops-bot serve`'s scheduler queued for it (`pending`).
        self.outbox = OutboxWorker(
            bot.database,
            bot.view,
            {"console": self.transport},
            clock=bot.clock,
            workspace=workspace,
        )
        self._delivering = asyncio.Lock()  # one drain at a time: the loop's and a command's

    def actor(self, user: str | None = None) -> Actor:
        name = user or self.user
        return Actor("console", self.workspace, user_id=name, display_name=name)

    async def say(self, line: str) -> list[str]:
        """Handle one typed line; returns what to print."""
        line = line.strip()
        if not line:
            return []
        if line.startswith(":"):
            return await self._meta(line)
        event = CommandEvent(actor=self.actor(), place=PLACE, text=to_canonical(line))
        return await self.render(await self.bot.handle(event))

    async def render(self, outcome: Outcome) -> list[str]:
        """The replies, then whatever the command queued (posts, DMs, updates)."""
        shown = [render_outgoing(reply) for reply in outcome.replies()]
        return shown + await self.pending()

    async def pending(self) -> list[str]:
        """What waits in this workspace's outbox (posts a scheduler queued: poll results,
        reminders, digests), delivered and rendered."""
        async with self._delivering:
            await self.outbox.drain()
            return self.transport.take()

    async def _meta(self, line: str) -> list[str]:
        verb, _, rest = line[1:].partition(" ")
        rest = rest.strip().lstrip("@")
        if verb == "as" and rest:
            self.user = rest
            return [f"You are now {rest}."]
        if verb == "join" and rest:
            joined = MemberJoinedEvent(self.actor(rest), PLACE, scope=JoinScope.COMMUNITY)
            outcome = await self.bot.handle(joined)
            return await self.render(outcome) or [
                f"{rest} was already welcomed once; nobody is welcomed twice."
            ]
        return [META_HELP]


def converse(bot: Bot, user: str, stdin: TextIO = sys.stdin) -> Coroutine[Any, Any, None]:
    """The console session as `user`: typed lines at a terminal, or piped ones (scripts)."""
    session = ConsoleSession(bot, user)
    lines = _interactive(session) if stdin.isatty() else _piped(stdin)
    return _converse(session, iter(lines))


async def _converse(session: ConsoleSession, lines: Iterator[str]) -> None:
    """Answer each line; meanwhile, print what arrives for this console every second (what
    `finops-bot serve` posted while it was closed comes first)."""
    missed = await session.pending()
    if missed:
        print("While the console was closed:", *missed, sep="\n", flush=True)
    watcher = asyncio.create_task(_print_arrivals(session))
    try:
        while (line := await asyncio.to_thread(next, lines, None)) is not None:
            if line.strip() in (":quit", ":q", "quit", "exit"):
                break
            for text in await session.say(line):
                print(text, flush=True)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _print_arrivals(session: ConsoleSession, every: float = 1.0) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            arrived = await session.pending()
        except Exception:  # a busy or briefly unreachable database: try again next second
            log.warning("could not read the console's outbox", exc_info=True)
            continue
        for text in arrived:
            print(text, flush=True)


def _piped(stdin: TextIO) -> Iterable[str]:
    for line in stdin:
        if not line.lstrip().startswith("#"):  # comments in scripted sessions
            yield line


def _interactive(session: ConsoleSession) -> Iterable[str]:
    try:
        import readline
    except ImportError:  # Windows without pyreadline
        readline = None  # type: ignore[assignment]  # the module, or None where there is none
    if readline is not None:
        with contextlib.suppress(OSError):  # no history yet
            readline.read_history_file(HISTORY)
    print(f"FinOps community bot, local console. You are {session.user} (admin when not --as).")
    print("Type `help` for the commands. " + META_HELP)
    try:
        while True:
            try:
                yield input(f"{session.user}> ")
            except KeyboardInterrupt:
                print()
                continue
    except EOFError:
        print()
    finally:
        if readline is not None:
            with contextlib.suppress(OSError):  # read-only home: history is a nicety
                readline.write_history_file(HISTORY)
