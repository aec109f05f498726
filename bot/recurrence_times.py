"""When recurring posts are due: APScheduler's cron triggers, DST-correct in any IANA zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def weekly(weekday: int, at: str, timezone: str) -> CronTrigger:
    hour, minute = (int(part) for part in at.split(":"))
    return CronTrigger(
        day_of_week=WEEKDAYS[weekday], hour=hour, minute=minute, timezone=ZoneInfo(timezone)
    )


def next_run(trigger: CronTrigger, now: datetime) -> datetime | None:
    return trigger.get_next_fire_time(None, now)


def last_due(trigger: CronTrigger, now: datetime, lookback: timedelta = timedelta(days=8)):  # type: ignore[no-untyped-def]
    """The latest fire time at or before `now` (within `lookback`), or None."""
    latest = None
    fire = trigger.get_next_fire_time(None, now - lookback)
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest
