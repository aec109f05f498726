"""Which stretch of time a digest covers.

Scheduled digests partition time: each covers [where the previous scheduled digest stopped,
its own scheduled minute). Without a previous one (the first digest, or none for five weeks)
it starts at the schedule's previous occurrence, a week earlier on the wall clock, so across a
DST change it covers 167 or 169 hours. A digest posted late (within the grace window) still
ends at its scheduled minute; a skipped or unposted one (no `digest-channel`) archives nothing,
so the next one covers its days too; after `digest schedule` moves the day, the next digest
starts where the last one stopped. A due time less than a day after the previous end (a
schedule moved a few hours later) posts nothing: its hours roll into the next digest.

`digest` previews the next scheduled digest so far; with no schedule it shows the last seven
days; `digest week` keeps the calendar week (Monday to Sunday in the workspace time zone).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import recurrence_times as times
from bot.commands import Request
from bot.parsing.when import describe, period_bounds, to_local
from storage import digests, schedules
from storage.models import Schedule

MIN_SPAN = timedelta(days=1)  # a shorter scheduled period rolls into the next one
MAX_SPAN = timedelta(days=35)  # an older previous digest no longer anchors the next one
ROLLING = timedelta(days=7)  # `digest` when nothing is scheduled
EPSILON = timedelta(microseconds=1)

Kind = Literal["scheduled", "preview", "rolling", "week"]


@dataclass(frozen=True, slots=True)
class DigestPeriod:
    """[start, end) in aware UTC; `until` is how far it is counted (end, or now for a
    preview of a period still running)."""

    start: datetime
    end: datetime
    until: datetime
    tz: ZoneInfo
    kind: Kind

    @property
    def running(self) -> bool:
        return self.until < self.end

    @property
    def year_start(self) -> datetime:
        """The calendar year holding the period's last counted instant (year to date)."""
        return period_bounds("year", to_local(self.until - EPSILON, self.tz).date(), self.tz)[0]

    def label(self) -> str:
        """`23 Nov – 30 Nov 2026` (the local dates of the first and last instant)."""
        first = to_local(self.start, self.tz).date()
        last = to_local(self.end - EPSILON, self.tz).date()
        if first.year != last.year:
            return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"
        return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"

    def covers(self) -> str:
        """One sentence on exactly what is counted."""
        start = describe(self.start, self.tz)
        if self.kind == "week":
            return f"This calendar week (Monday to Sunday) so far, from {start}."
        if self.kind == "rolling":
            return (
                f"The last 7 days, from {start} until now. No digest is scheduled; admins: "
                "`digest schedule monday 09:00`."
            )
        if self.kind == "preview":
            return (
                f"So far: from {start} until now. The scheduled digest posts "
                f"{describe(self.end, self.tz)} and will cover up to then."
            )
        return f"From {start} to {describe(self.end, self.tz)}."


def rhythm(schedule: Schedule) -> times.Weekly:
    return times.weekly(schedule.weekday, schedule.at, schedule.timezone)


def job_of(schedule: Schedule) -> str:
    """The run ledger's job name of a digest schedule (the scheduler claims it per run)."""
    return f"digest:{schedule.id}"


async def scheduled(
    session: AsyncSession, workspace: int, schedule: Schedule, *, due: datetime, tz: ZoneInfo
) -> DigestPeriod:
    """The period of the scheduled digest due at `due`."""
    last = await digests.last_scheduled_end(session, workspace, due)
    if last is not None and due - MAX_SPAN <= last:
        start = last
    else:
        start = times.previous_run(rhythm(schedule), due)
    return DigestPeriod(start, due, due, tz, "scheduled")


async def upcoming(req: Request) -> DigestPeriod:
    """What `digest` shows: the next scheduled digest as it stands now (or, when one is due
    and not yet posted, that one in full); the last seven days when nothing is scheduled."""
    schedule = await schedules.find(req.session, req.workspace_id, "digest")
    if schedule is None or not schedule.enabled:
        now = req.now + EPSILON  # "so far" includes what happened at this very instant
        return DigestPeriod(now - ROLLING, now, now, req.tz, "rolling")
    weekly = rhythm(schedule)
    due = times.last_due(weekly, req.now)
    grace = timedelta(hours=req.settings.digest_grace_hours)
    if due is not None and due >= schedule.updated_at and req.now - due <= grace:
        key = times.period_key(weekly, due)
        if await schedules.ran_at(req.session, job_of(schedule), key, any_outcome=True) is None:
            period = await scheduled(req.session, req.workspace_id, schedule, due=due, tz=req.tz)
            if period.end - period.start >= MIN_SPAN:
                return period  # due, about to be posted by the scheduler
    upcoming_run = times.next_run(weekly, req.now + EPSILON)  # strictly after: at the due
    # minute itself the digest due now is the one just posted (or being posted)
    period = await scheduled(req.session, req.workspace_id, schedule, due=upcoming_run, tz=req.tz)
    if period.end - period.start < MIN_SPAN:  # that run will roll into the following one
        following = times.next_run(weekly, upcoming_run + EPSILON)
        period = replace(period, end=following)
    return replace(period, until=min(req.now + EPSILON, period.end), kind="preview")


def calendar_week(req: Request) -> DigestPeriod:
    start, end = period_bounds("week", to_local(req.now, req.tz).date(), req.tz)
    return DigestPeriod(start, end, min(req.now + EPSILON, end), req.tz, "week")
