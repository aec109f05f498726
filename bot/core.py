"""The platform-neutral bot: takes a neutral event, decides, stores, and answers with an Outcome."""

from __future__ import annotations

import difflib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

import bot.features  # noqa: F401  (registers every command)
from bot import outgoing
from bot.commands import COMMANDS, CommandSpec, Refusal, Request, usage_text
from bot.events import ActionEvent, Actor, CommandEvent, Event, Place
from bot.features import checkins, decisions, home, meetings, onboarding, polls, wins
from bot.message import Message, Outcome
from bot.parsing import UsageError
from bot.parsing.hygiene import clean
from bot.settings import Settings
from storage import deliveries, inbox, schedules, workspaces
from storage import outbox as outbox_store
from storage.engine import Database
from storage.models import utcnow
from storage.secret import event_key, load_voter_key, seal, unseal

log = logging.getLogger(__name__)
# Decides, inside the work's transaction, whether the work may run (False: already done).
Claim = Callable[[AsyncSession, datetime], Awaitable[bool]]
PREFIXES = ("/finops", "finops")


class Bot:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        extra_admins: frozenset[str] = frozenset(),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.database = database
        self.admins = settings.admins | extra_admins
        self.clock = clock
        self.voter_key = load_voter_key(settings.secret_key, settings.database_url)
        # Called after a transaction that queued messages commits (the outbox worker wakes).
        self.on_queued: list[Callable[[], None]] = []

    async def handle(self, event: Event, *, inbox_key: str | None = None) -> Outcome:
        """Answer any inbound event; never raises: failures become a short private answer.

        `inbox_key`: the stored request it came from (bot/intake.py). The answer is recorded
        under it in the work's transaction, so a replay after a crash between the commit and
        the reply sends it rather than nothing. Never for a vote: the row would be written in
        the vote's transaction, which must not say whose vote it is."""
        event = _cleaned(event)
        if isinstance(event, ActionEvent) and event.action_id.startswith("poll."):
            inbox_key = None
        try:
            if isinstance(event, CommandEvent):
                return await self._command(event, inbox_key)
            if isinstance(event, ActionEvent):
                work: Callable[[Request, Any], Awaitable[Outcome]] = ACTIONS.get(
                    event.action_id.partition(".")[0], _unknown_action
                )
            else:
                work = onboarding.on_member_joined
            claim = self._once(event)
            return await self._run(
                event.actor, event.place, work, argument=event, claim=claim, inbox_key=inbox_key
            )
        except UsageError as error:
            return Outcome().reply(_sentence(error.problem))
        except Refusal as refusal:
            return Outcome().reply(str(refusal))
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("failed to handle %s (ref %s)", type(event).__name__, ref)
            return Outcome().reply(
                f"Sorry, something went wrong on our side and nothing was saved (ref {ref})."
            )

    async def _command(self, event: CommandEvent, inbox_key: str | None) -> Outcome:
        name, args = split_command(event.text)
        spec = COMMANDS.get(name)
        if spec is None:
            return Outcome().reply(unknown_command(name))
        try:
            prepared = await self._prepare(spec, event, args)
            claim = self._once(event)
            return await self._run(
                event.actor,
                event.place,
                spec.run,
                argument=args,
                claim=claim,
                inbox_key=inbox_key,
                prepared=prepared,
            )
        except UsageError as error:
            target = COMMANDS.get(error.command or name, spec)
            return Outcome().reply(f"{_sentence(error.problem)}\n{usage_text(target)}")

    async def _prepare(self, spec: CommandSpec, event: CommandEvent, args: str) -> object:
        """The command's read-only first step (`CommandSpec.prepare`), in a transaction that
        takes no write lock; None without one, or in a workspace not seen before (its row is
        created by the command's own transaction)."""
        if spec.prepare is None:
            return None
        async with self.database.reading() as session:
            found = await workspaces.find(session, event.actor.platform, event.actor.workspace_id)
            if found is None:
                return None
            request = await self._request(
                session, event.actor, event.place, now=self.clock(), workspace=found
            )
            await spec.authorise(request, args)  # no work for someone who will be refused
            return await spec.prepare(request, args)

    def _once(self, event: Event) -> Claim | None:
        """Handle a platform's retry of an event at most once (claimed in the same
        transaction as the work, so a failed attempt leaves the event for the retry)."""
        if not event.event_id:
            return None
        platform = event.actor.platform
        # Only a keyed hash is stored (and nothing of the event logged): the claim of an
        # anonymous vote sits in the vote's transaction, so it must not say whose it is.
        key = event_key(self.voter_key, platform, event.event_id)

        async def claim(session: AsyncSession, now: datetime) -> bool:
            if await deliveries.claim_event(session, platform, key, now=now):
                return True
            log.info("ignored a repeated %s event", platform)
            return False

        return claim

    async def _run(
        self,
        actor: Actor,
        place: Place,
        handler: Callable[[Request, Any], Awaitable[Outcome]],
        *,
        argument: Any,
        claim: Claim | None = None,
        inbox_key: str | None = None,
        prepared: object = None,
    ) -> Outcome:
        """Run `handler` in one transaction with everything it changes and everything it
        sends on its own (the outbox). When `claim` declines (already done), nothing runs
        and the outcome is the answer recorded then (`inbox_key`), or empty."""
        async with self.database.session() as session:
            now = self.clock()
            if claim is not None and not await claim(session, now):
                if inbox_key is None:
                    return Outcome()
                answer = await inbox.recorded_answer(session, inbox_key)
                return outgoing.answer_from_json(unseal(self.voter_key, answer) if answer else None)
            request = await self._request(session, actor, place, now=now)
            request.prepared = prepared
            outcome = await handler(request, argument)
            queued = await outgoing.enqueue(
                session, request.workspace_id, place, outcome=outcome, now=now
            )
            if inbox_key is not None and outcome.replies():
                answer = seal(self.voter_key, outgoing.answer_json(outcome))
                await inbox.record_answer(session, inbox_key, answer, now=now)
        if queued:
            for listener in self.on_queued:
                listener()
        return outcome

    async def _request(
        self,
        session: AsyncSession,
        actor: Actor,
        place: Place,
        *,
        now: datetime,
        workspace: int | None = None,
    ) -> Request:
        """`workspace`: its row id when the caller has it already (else found, or created)."""
        if workspace is None:
            workspace = await workspaces.workspace_id(session, actor.platform, actor.workspace_id)
        return Request(
            actor=actor,
            place=place,
            session=session,
            workspace_id=workspace,
            config=await workspaces.settings(session, workspace),
            settings=self.settings,
            now=now,
            admins=self.admins,
            voter_key=self.voter_key,
        )

    async def view(self, actor: Actor, name: str) -> Message | None:
        """A view that is not the answer to a command: `poll:12` (a poll's current state, for
        in-place updates), `home` (the person's home tab) or `checkin` (their check-in form
        for the next meeting, pre-filled; None when there is nothing to ask)."""
        async with self.database.session() as session:
            request = await self._request(session, actor, Place(""), now=self.clock())
            kind, _, key = name.partition(":")
            if kind == "poll" and key.isdigit():
                return await polls.current_message(request, int(key))
            if kind == "win" and key.isdigit():
                return await wins.current_message(request, int(key))
            if kind == "home":
                return await home.home_view(request)
            if kind == "checkin":  # the person's check-in form for the next meeting
                meeting = await meetings.upcoming(request)
                return await checkins.form(request, meeting) if meeting else None
            return None

    async def queue_home(self, actor: Actor) -> None:
        """Have the outbox publish `actor`'s home tab (Slack), retried like any send."""
        payload = json.dumps({"name": actor.display_name}, ensure_ascii=False)
        async with self._in_workspace(actor) as (session, workspace):
            queued = await outbox_store.add_home(
                session, workspace, actor.user_id, payload=payload, now=self.clock()
            )
        if queued:
            for listener in self.on_queued:
                listener()

    @asynccontextmanager
    async def _in_workspace(self, actor: Actor) -> AsyncIterator[tuple[AsyncSession, int]]:
        """One transaction, with the actor's workspace row id (created on first sight)."""
        async with self.database.session() as session:
            yield (
                session,
                await workspaces.workspace_id(session, actor.platform, actor.workspace_id),
            )

    # -- scheduled work -----------------------------------------------------------------------
    async def run_scheduled(
        self,
        actor: Actor,
        work: Callable[[Request, Any], Awaitable[Outcome]],
        argument: Any,
        *,
        job: str,
        period: str,
        owner: str,
        prepare: Callable[[Request, Any], Awaitable[Any]] | None = None,
    ) -> bool:
        """Run scheduled work on the bot's own behalf, once per (job, period) across replicas:
        the run-ledger row, the work and its messages commit together or not at all. A replica
        that dies mid-run leaves nothing behind, so another one runs it.

        `prepare(request, argument)` does the reading and drawing first, in a read-only
        transaction that blocks no writer (a digest's chart takes up to a second); `work`
        then gets what it returned, in the transaction that claims the run."""
        if prepare is not None:
            async with self.database.reading() as session:
                request = await self._request(session, actor, Place(""), now=self.clock())
                argument = await prepare(request, argument)

        ran = False

        async def claim(session: AsyncSession, now: datetime) -> bool:
            nonlocal ran
            ran = await schedules.claim(session, job, period, owner=owner, now=now)
            return ran

        await self._run(actor, Place(""), work, argument=argument, claim=claim)
        return ran


# Button clicks, by the prefix of their action id.
ACTIONS: dict[str, Callable[[Request, ActionEvent], Awaitable[Outcome]]] = {
    "poll": polls.on_action,
    "checkin": checkins.on_action,
    "decision": decisions.on_action,
}


def _cleaned(event: Event) -> Event:
    """Text hygiene in one place, for every surface and database (bot/parsing/hygiene.py)."""
    actor = replace(event.actor, display_name=clean(event.actor.display_name))
    if isinstance(event, CommandEvent):
        return replace(event, actor=actor, text=clean(event.text))
    if isinstance(event, ActionEvent):
        inputs = tuple((key, clean(value)) for key, value in event.inputs)
        return replace(event, actor=actor, value=clean(event.value), inputs=inputs)
    return replace(event, actor=actor)


async def _unknown_action(_req: Request, event: ActionEvent) -> Outcome:
    raise UsageError(f"unknown action {event.action_id[:40]!r}")


def split_command(text: str) -> tuple[str, str]:
    """`/finops win Saved $5` -> ("win", "Saved $5"); empty text means `help`."""
    text = text.strip()
    first, _, rest = text.partition(" ")
    if first.lower() in PREFIXES:
        text = rest.strip()
        first, _, rest = text.partition(" ")
    return (first.lower() or "help"), rest.strip()


def unknown_command(name: str) -> str:
    shown = name if len(name) <= 40 else name[:40] + "…"
    answer = f"Unknown command {shown!r}."
    close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.6)
    if close:
        answer += f" Did you mean `{close[0]}`?"
    return answer + " Type `help` to see every command."


def _sentence(problem: str) -> str:
    problem = problem.strip()
    sentence = problem[:1].upper() + problem[1:]
    return sentence if sentence.endswith(("?", "!")) else sentence.rstrip(".") + "."
