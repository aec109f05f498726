"""When recurring posts are due: a weekly wall-clock time in an IANA zone, as UTC instants.

A schedule means "every <weekday> at HH:MM on the clocks of <zone>". Each run is that wall-clock
time on that local date, turned into an instant by the zone's rules for that date (zoneinfo,
PEP 495 `fold=0`), and every function here answers in aware UTC. Across daylight saving time:

- An ordinary week: Monday 09:00 stays 09:00 local on both sides of a change; its UTC instant
  moves by the change (Europe/Berlin: 08:00 UTC in winter, 07:00 UTC in summer).
- Spring forward, a time that does not exist that day (Sunday 02:30 in Europe/Berlin on
  2026-03-29, when clocks jump from 02:00 to 03:00): the run still happens that week, once, as
  late after the jump as it was meant after 02:00: at 03:30 local (01:30 UTC), not at 03:00.
- Fall back, a time that happens twice that day (Sunday 02:30 in Europe/Berlin on 2026-10-25,
  when clocks go back from 03:00 to 02:00): the run happens once, at the first 02:30 (summer
  time, 00:30 UTC); the second 02:30 is not a new run.

These times used to come from APScheduler's `CronTrigger` (3.11), which gets the fall-back day
wrong with a zoneinfo zone: it fires at both 02:30s (the digest would post twice), and asked for
the fire time after the second one it returns that same time again, so `last_due`, stepping
through fire times, never returned and froze the event loop. (The spring-forward day it got
right: 03:30.) A weekly time needs no cron engine, so the dates are counted here; the scheduler
still ticks with APScheduler.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class Weekly:
    """Every `weekday` (0 = Monday) at the wall-clock time `at` in `zone`."""

    weekday: int
    at: time
    zone: ZoneInfo


def weekly(weekday: int, at: str, timezone: str) -> Weekly:
    """From a stored schedule: weekday 0-6, `HH:MM`, an IANA zone name."""
    hour, minute = (int(part) for part in at.split(":"))
    return Weekly(weekday, time(hour, minute), ZoneInfo(timezone))


def run_on(schedule: Weekly, day: date) -> datetime:
    """The run on local date `day`, as an aware UTC instant (`fold=0`: see the module doc)."""
    return datetime.combine(day, schedule.at, tzinfo=schedule.zone).astimezone(UTC)


def _runs_from(schedule: Weekly, day: date) -> Iterator[datetime]:
    """Every run on local date `day` or later, in order (one a week, so always increasing)."""
    day += timedelta(days=(schedule.weekday - day.weekday()) % 7)
    while True:
        yield run_on(schedule, day)
        day += timedelta(days=7)


def _local_day(schedule: Weekly, moment: datetime) -> date:
    # A day early: a run's instant may fall on the next local date (a gap at midnight).
    return moment.astimezone(schedule.zone).date() - timedelta(days=1)


def next_run(schedule: Weekly, now: datetime) -> datetime:
    """The first run at or after `now`, aware UTC."""
    return next(run for run in _runs_from(schedule, _local_day(schedule, now)) if run >= now)


def last_due(
    schedule: Weekly, now: datetime, lookback: timedelta = timedelta(days=8)
) -> datetime | None:
    """The latest run at or before `now` and no earlier than `now - lookback`, aware UTC; or
    None."""
    latest = None
    for run in _runs_from(schedule, _local_day(schedule, now - lookback)):
        if run > now:
            return latest
        if run >= now - lookback:
            latest = run
    return latest  # not reached: the runs go on for ever


def period_key(schedule: Weekly, run: datetime) -> str:
    """The run ledger's period for a run: its local time in ISO form, with the offset
    (`2026-03-30T09:00:00+02:00`), as the keys have always been written."""
    return run.astimezone(schedule.zone).isoformat()


CADENCES = ("weekly", "biweekly", "monthly")


@dataclass(frozen=True, slots=True)
class Meetings:
    """A meeting rhythm on top of a weekly time: every week, every other week counted from
    `anchor` (the local date of the first meeting), or the first <weekday> of each month."""

    weekly: Weekly
    cadence: str = "weekly"
    anchor: date | None = None

    def holds(self, run: datetime) -> bool:
        day = run.astimezone(self.weekly.zone).date()
        if self.cadence == "monthly":
            return day.day <= 7
        if self.cadence == "biweekly" and self.anchor is not None:
            return (day - self.anchor).days // 7 % 2 == 0
        return True


def meetings(
    weekday: int, at: str, timezone: str, *, cadence: str, anchor: date | None
) -> Meetings:
    return Meetings(weekly(weekday, at, timezone), cadence, anchor)


def next_meeting(rhythm: Meetings, now: datetime) -> datetime:
    """The first meeting at or after `now`, aware UTC."""
    start = _local_day(rhythm.weekly, now)
    return next(run for run in _runs_from(rhythm.weekly, start) if run >= now and rhythm.holds(run))


def previous_meeting(rhythm: Meetings, before: datetime) -> datetime | None:
    """The last meeting strictly before `before` (within ten weeks), aware UTC."""
    latest = None
    for run in _runs_from(rhythm.weekly, _local_day(rhythm.weekly, before - timedelta(weeks=10))):
        if run >= before:
            return latest
        if rhythm.holds(run):
            latest = run
    return latest  # not reached: the runs go on for ever


def previous_run(schedule: Weekly, run: datetime) -> datetime:
    """The run a week before `run` (same weekday and wall-clock time, so across a DST change
    the two are 167 or 169 hours apart, never 168 hours of the wrong clock)."""
    return run_on(schedule, run.astimezone(schedule.zone).date() - timedelta(days=7))
