"""Recurring and deadline work: the weekly digest, poll deadlines and reminders.

APScheduler (3.x, `AsyncIOScheduler`) ticks inside the bot's event loop; the database decides
what is due. Schedules live in the `schedule` table. Each run claims its row in the run ledger
(`schedule_run`, keyed by job and period) in the same transaction as its work and the messages
it queues in the outbox, so any number of replicas run it exactly once: a replica that dies
mid-run leaves no claim behind (the transaction rolls back) and the next tick anywhere runs it.
Sending is the outbox worker's job (bot/outbox.py), with its own retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot import recurrence_times as times
from bot.commands import Request
from bot.core import Bot
from bot.costs import checks, watch
from bot.events import Actor, system_actor
from bot.features import (
    agenda,
    checkins,
    digest,
    digest_periods,
    meetings,
    onboarding,
    polls,
    win_checks,
)
from bot.message import Outcome
from bot.outbox import owner_name
from storage import cost_kpis, cost_scope, deliveries, schedules, workspaces
from storage import onboarding as welcome_store
from storage import outbox as outbox_store
from storage import polls as poll_store
from storage.models import Poll, Schedule, Welcome, Workspace

log = logging.getLogger(__name__)
SENT_KEPT = timedelta(days=7)  # delivered outbox rows are kept this long (for `finops-bot outbox`)
EVENTS_KEPT = timedelta(days=1)  # de-duplication keys: retries and replays come within minutes


class Scheduler:
    def __init__(
        self,
        bot: Bot,
        platforms: set[str],
        *,
        tick_seconds: float = 30.0,
        grace: timedelta = timedelta(hours=6),
    ) -> None:
        self.bot = bot
        self.database = bot.database
        self.platforms = platforms  # only what this process serves
        self.tick_seconds = tick_seconds
        self.grace = grace
        self.owner = owner_name()
        self._apscheduler: AsyncIOScheduler | None = None
        self._busy = asyncio.Lock()  # held by a running tick; stop() waits for it
        self._exports_checked: datetime | None = None
        self._failing: dict[tuple[str, str], tuple[str, int]] = {}  # -> (log ref, failures)

    def start(self) -> None:
        """Tick now (runs missed within the grace window) and every `tick_seconds`."""
        self._apscheduler = AsyncIOScheduler(timezone=UTC)
        self._apscheduler.add_job(
            self._tick_to_the_end,
            IntervalTrigger(seconds=self.tick_seconds, timezone=UTC),
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            id="tick",
        )
        self._apscheduler.start()

    async def stop(self) -> None:
        """No new ticks; wait for a running one, so no transaction is left open."""
        if self._apscheduler is not None:
            self._apscheduler.shutdown(wait=False)
            self._apscheduler = None
        async with self._busy:
            pass

    async def _tick_to_the_end(self) -> None:
        """APScheduler cancels a running job when it shuts down; the tick itself is shielded,
        so it finishes (and `stop` waits for it) instead of dying mid-transaction."""
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self.tick())

    async def tick(self) -> list[str]:
        """Run everything due now; returns the jobs this replica ran (for logs and tests)."""
        ran: list[str] = []
        async with self._busy:
            # Deadlines first: they are the most time-sensitive. Each step, and each job in
            # it (`_run`), has its own error boundary, so one failure delays nothing else.
            for step in (
                self._poll_deadlines,
                self._digests,
                self._follow_ups,
                self._committee_meetings,
                self._cost_exports,
                self._win_checks,  # after the imports: a new day of data makes checks due
                self._prune_outbox,
            ):
                name = step.__name__.lstrip("_")
                try:
                    ran += await step()
                    self._failing.pop((name, ""), None)
                except Exception:
                    self._failed(name, "")
        return ran

    async def _prune_outbox(self) -> list[str]:
        now = self.bot.clock()
        async with self.database.session() as session:
            await outbox_store.prune_sent(session, now - SENT_KEPT)
            await deliveries.prune_events(session, now - EVENTS_KEPT)
        return []

    def _failed(self, job: str, period: str) -> None:
        """Log a failed job: in full (with a reference) the first time, then one line per
        tick while it keeps failing; the next tick retries it."""
        key = (job, period)
        ref, failures = self._failing.get(key, (secrets.token_hex(4), 0))
        self._failing[key] = (ref, failures + 1)
        if failures == 0:
            log.exception(
                "scheduled job %s (%s) failed (ref %s); retried next tick", job, period, ref
            )
        else:
            log.warning(
                "scheduled job %s (%s) failed again (ref %s, %d times)",
                job,
                period,
                ref,
                failures + 1,
            )

    async def _digests(self) -> list[str]:
        now = self.bot.clock()
        ran = []
        for schedule, workspace in await self._schedules():
            if workspace.platform not in self.platforms or schedule.kind != "digest":
                continue  # this process does not serve that platform
            job = digest_periods.job_of(schedule)
            try:
                if await self._digest(schedule, workspace, now):
                    ran.append(job)
                self._failing.pop((job, ""), None)
            except Exception:  # e.g. a stored schedule that no longer parses
                self._failed(job, "")
        return ran

    async def _digest(self, schedule: Schedule, workspace: Workspace, now: datetime) -> bool:
        when = digest_periods.rhythm(schedule)
        due = times.last_due(when, now)
        if due is None or due < schedule.updated_at:
            return False  # nothing due since the schedule was set
        job, period = digest_periods.job_of(schedule), times.period_key(when, due)
        if now - due > self.grace:
            if await self._skip_run(job, period, self.owner):
                log.info(
                    "skipped the digest due %s for %s: more than %s late",
                    period,
                    workspace.external_id,
                    self.grace,
                )
            return False
        if await self._ran_at(job, period) is not None:
            return False  # posted already: not worth reading and drawing it again
        actor = system_actor(workspace.platform, workspace.external_id)
        return await self._run(
            job,
            period,
            actor,
            work=digest.scheduled_post,
            argument=due,
            prepare=digest.prepare_scheduled,
        )

    async def _cost_exports(self) -> list[str]:
        """New FOCUS exports in the watched directories, every FINOPS_FOCUS_WATCH_MINUTES.
        Replicas may scan at once: imports take turns (an advisory lock on PostgreSQL, the
        writer lock on SQLite) and each replaces whole days, so the result is the same."""
        now = self.bot.clock()
        every = timedelta(minutes=self.bot.settings.focus_watch_minutes)
        if self._exports_checked and now - self._exports_checked < every:
            return []
        self._exports_checked = now
        extra = self.bot.settings.focus_watch_dir
        directory = Path(extra) if extra else None  # made absolute by Settings
        summaries = await watch.scan(self.bot.database, directory)
        return [f"focus-import:{s.scope}" for s in summaries]

    async def _win_checks(self) -> list[str]:
        """Wins whose savings the imported data can now check (bot/costs/checks.py), once
        each: all due checks read and measured in one read-only transaction, then recorded,
        with the celebrations' updates and the DMs, in short transactions of at most 200
        checks. Keyed by what changes the answer (the last day of data, the latest import, the
        scoped wins, the checks recorded, the latest change of a scope or of the day it took
        effect), so an unchanged workspace costs five small queries a tick."""
        ran = []
        for workspace in await self._scoped_workspaces():
            if workspace.platform not in self.platforms or workspace.id is None:
                continue
            state = await self._check_state(workspace.id)
            job = f"win-checks:{workspace.id}"
            if state is None or await self._ran_at(job, f"{state}:0") is not None:
                continue  # no cost data, or nothing changed since the last run
            actor = system_actor(workspace.platform, workspace.external_id)
            due = await self._due_checks(actor)
            chunks = [due[i : i + checks.AT_MOST] for i in range(0, len(due), checks.AT_MOST)]
            for n, chunk in enumerate(chunks or [[]]):
                if await self._run(
                    job, f"{state}:{n}", actor, work=win_checks.post_due, argument=chunk
                ):
                    ran.append(job)
        return sorted(set(ran))

    async def _due_checks(self, actor: Actor) -> list[checks.Check]:
        async with self.database.reading() as session:
            ws = await workspaces.find(session, actor.platform, actor.workspace_id)
            return await checks.due(session, ws) if ws is not None else []

    async def _scoped_workspaces(self) -> list[Workspace]:
        async with self.database.reading() as session:
            return await cost_scope.workspaces_with_scopes(session)

    async def _check_state(self, workspace_id: int) -> str | None:
        async with self.database.reading() as session:
            last_day = await cost_kpis.latest_day(session, workspace_id)
            if last_day is None:
                return None
            scoped = await cost_scope.scoped_count(session, workspace_id)
            recorded = await cost_scope.check_count(session, workspace_id)
            changed = await cost_scope.scope_changes(session, workspace_id)
            imported = await cost_scope.latest_import(session, workspace_id)
        return f"{last_day}:{imported}:{scoped}:{recorded}:{changed}"

    async def _committee_meetings(self) -> list[str]:
        """Before each meeting: the check-in to every member, one reminder to those who have
        not answered, then the agenda; each once per meeting, and never after it started."""
        now = self.bot.clock()
        ran = []
        for schedule, workspace in await self._schedules():
            if workspace.platform not in self.platforms or schedule.kind != meetings.KIND:
                continue
            job = f"committee:{schedule.id}"
            try:
                ran += await self._meeting_steps(schedule, workspace, now)
                self._failing.pop((job, ""), None)
            except Exception:  # e.g. a stored rhythm that no longer parses
                self._failed(job, "")
        return ran

    async def _meeting_steps(
        self, schedule: Schedule, workspace: Workspace, now: datetime
    ) -> list[str]:
        ran = []
        config = await self._config_of(workspace)
        meeting = meetings.next_meeting(schedule, config, now)
        actor = system_actor(workspace.platform, workspace.external_id)
        checkin_job = f"checkin:{schedule.id}"
        if now >= meeting.checkin_at and await self._run(
            checkin_job, meeting.key, actor, work=checkins.ask_members, argument=meeting.starts
        ):
            ran.append(checkin_job)
        asked = await self._ran_at(checkin_job, meeting.key)
        # The reminder comes as long after the check-in as planned, even when the check-in
        # went out late, and never once the agenda is due.
        remind_at = asked and max(
            meeting.remind_at, asked + (meeting.remind_at - meeting.checkin_at)
        )
        if remind_at and remind_at <= now < meeting.agenda_at:
            job = f"checkin-remind:{schedule.id}"
            if await self._run(
                job, meeting.key, actor, work=checkins.remind_members, argument=meeting.starts
            ):
                ran.append(job)
        if now >= meeting.agenda_at:
            job = f"agenda:{schedule.id}"
            if await self._run(job, meeting.key, actor, work=agenda.post, argument=meeting.starts):
                ran.append(job)
        return ran

    async def _poll_deadlines(self) -> list[str]:
        now = self.bot.clock()
        ran = []
        for poll, workspace in await self._deadline_polls(now):
            if workspace.platform not in self.platforms:
                continue
            actor = system_actor(workspace.platform, workspace.external_id)
            assert poll.closes_at is not None  # deadline_polls picks polls with a deadline
            if poll.closes_at <= now:
                job, work = f"poll-close:{poll.id}", polls.close_at_deadline
            else:
                job, work = f"poll-remind:{poll.id}", polls.remind_non_voters
            if await self._run(job, "once", actor, work=work, argument=poll.id):
                ran.append(job)
        return ran

    async def _follow_ups(self) -> list[str]:
        """Day 7 and day 30 after each welcome: sent once, within the grace window."""
        now = self.bot.clock()
        ran = []
        for days in onboarding.FOLLOW_UP_DAYS:
            due_until = now - timedelta(days=days)
            for welcome, workspace in await self._welcomed_between(
                due_until - self.grace, due_until
            ):
                if workspace.platform not in self.platforms:
                    continue
                person = hashlib.sha256(welcome.user_id.encode()).hexdigest()[:20]  # ids run long
                job = f"follow-up-{days}:{workspace.id}:{person}"
                actor = system_actor(workspace.platform, workspace.external_id)
                who = (welcome.user_id, welcome.user_name, days)
                if await self._run(job, "once", actor, work=onboarding.follow_up, argument=who):
                    ran.append(job)
        return ran

    async def _run(
        self,
        job: str,
        period: str,
        actor: Actor,
        *,
        work: Callable[[Request, Any], Awaitable[Outcome]],
        argument: Any,
        prepare: Callable[[Request, Any], Awaitable[Any]] | None = None,
    ) -> bool:
        """Claim, work and queue its messages in one transaction; False if already done or
        if it failed (rolled back: logged, and tried again on the next tick)."""
        try:
            ran = await self.bot.run_scheduled(
                actor, work, argument, job=job, period=period, owner=self.owner, prepare=prepare
            )
            if not ran:
                return False
        except Exception:
            self._failed(job, period)
            return False
        self._failing.pop((job, period), None)
        log.info("ran %s (%s) for %s", job, period, actor.workspace_id)
        return True

    # -- what is due: reads take no write lock (Database.reading) ----------------------------
    async def _schedules(self) -> list[tuple[Schedule, Workspace]]:
        async with self.database.reading() as session:
            return await schedules.all_with_workspaces(session, enabled_only=True)

    async def _ran_at(self, job: str, period: str) -> datetime | None:
        """When (job, period) ran, from the run ledger; None if it has not."""
        async with self.database.reading() as session:
            return await schedules.ran_at(session, job, period)

    async def _config_of(self, workspace: Workspace) -> dict[str, str]:
        async with self.database.reading() as session:
            return await workspaces.settings(session, workspace.id or 0)

    async def _deadline_polls(self, now: datetime) -> list[tuple[Poll, Workspace]]:
        async with self.database.reading() as session:
            return await poll_store.deadline_polls(session, now)

    async def _welcomed_between(
        self, start: datetime, end: datetime
    ) -> list[tuple[Welcome, Workspace]]:
        async with self.database.reading() as session:
            return await welcome_store.welcomed_in_window(session, start, end)

    async def _skip_run(self, job: str, period: str, owner: str) -> bool:
        """Record (job, period) as skipped (too late to be useful), once across replicas."""
        async with self.database.session() as session:
            return await schedules.claim(
                session, job, period, owner=owner, now=self.bot.clock(), outcome="skipped"
            )
