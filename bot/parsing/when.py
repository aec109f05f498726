"""Time: reporting periods (`this week`) and poll deadlines (`in 3d`, `friday 17:00`, ISO)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.parsing.errors import UsageError, quoted
from bot.wording import plural

DEFAULT_CLOSING_TIME = time(17, 0)  # a deadline given as a day closes at 17:00 local time
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_UNITS = {
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "wk": 604800,
    "week": 604800,
    "weeks": 604800,
}
_IN = re.compile(r"in\s+(\d{1,4})\s*([a-z]+)")
_DURATION = re.compile(r"(\d{1,4})\s*([a-z]+)")
_CLOCK = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?")
MAX_AHEAD = timedelta(days=366)


def parse_timezone(name: str) -> ZoneInfo:
    if name not in available_timezones():
        raise UsageError(
            f"{name!r} is not an IANA time zone; e.g. Europe/Paris or America/New_York"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"{name!r} is not an IANA time zone") from exc


def to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def to_local(moment: datetime, tz: ZoneInfo) -> datetime:
    """Shown in the workspace's time zone (a naive value is taken as UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(tz)


def parse_deadline(text: str, now_utc: datetime, tz: ZoneInfo) -> datetime:
    """A poll deadline as UTC. `now_utc` is UTC; day-only forms close at 17:00."""
    spoken = " ".join(text.lower().split())
    now = to_local(now_utc, tz)
    moment = _relative(spoken, now_utc, tz) or _weekday(spoken, now, tz) or _iso(spoken, tz)
    if moment is None:
        raise UsageError(
            f"cannot read the deadline {text!r}; "
            "use `in 3d`, `in 4h`, `friday 17:00`, `tomorrow` or `2026-12-01 17:00`"
        )
    if moment <= now:
        raise UsageError(f"the deadline {text!r} is in the past")
    if moment - now > MAX_AHEAD:
        raise UsageError(f"the deadline {text!r} is more than a year away")
    return to_utc(moment)


def _relative(spoken: str, now_utc: datetime, tz: ZoneInfo) -> datetime | None:
    match = _IN.fullmatch(spoken)
    if not match or match[2] not in _UNITS:
        return None
    # Elapsed time, not wall-clock time: `in 4h` is four real hours across a DST change.
    return to_local(now_utc + timedelta(seconds=int(match[1]) * _UNITS[match[2]]), tz)


def parse_duration(text: str) -> timedelta:
    """`2h`, `90m`, `1d`, `2 hours`, `1w` (the units of `in 3d`) -> a timedelta."""
    match = _DURATION.fullmatch(" ".join(text.lower().split()))
    if not match or match[2] not in _UNITS:
        raise UsageError(f"cannot read the duration {quoted(text)}; use e.g. `2h`, `90m` or `1d`")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def describe_duration(length: timedelta) -> str:
    """`2 hours`, `90 minutes`, `1 day`: in the largest unit that divides it exactly."""
    minutes = int(length.total_seconds()) // 60
    for unit, size in (("week", 7 * 24 * 60), ("day", 24 * 60), ("hour", 60)):
        if minutes and minutes % size == 0:
            return plural(minutes // size, unit)
    return plural(minutes, "minute")


def _weekday(spoken: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    day_word, _, clock = spoken.partition(" ")
    day_word = day_word.rstrip(",")
    if day_word in ("today", "tonight"):
        day = now.date()
    elif day_word == "tomorrow":
        day = now.date() + timedelta(days=1)
    else:
        names = [d for d in _WEEKDAYS if d.startswith(day_word)] if len(day_word) >= 3 else []
        if len(names) != 1:
            return None
        ahead = (_WEEKDAYS.index(names[0]) - now.weekday()) % 7
        day = now.date() + timedelta(days=ahead)
    at = _clock(clock) if clock else DEFAULT_CLOSING_TIME
    if at is None:
        return None
    moment = datetime.combine(day, at, tzinfo=tz)
    if moment <= now and day_word not in ("today", "tonight", "tomorrow"):
        moment += timedelta(days=7)  # "friday" said on a Friday evening means next Friday
    return moment


def parse_weekday(word: str) -> int:
    """`monday`, `mon`, `Fri` -> 0..6."""
    lowered = word.lower().rstrip(",.")
    names = [d for d in _WEEKDAYS if d.startswith(lowered)] if len(lowered) >= 3 else []
    if len(names) != 1:
        raise UsageError(f"{word[:20]!r} is not a weekday; e.g. monday or fri")
    return _WEEKDAYS.index(names[0])


def parse_clock(word: str) -> str:
    """`9:00`, `09:00`, `5pm` -> `HH:MM`."""
    at = _clock(word.lower())
    if at is None:
        raise UsageError(f"{word[:20]!r} is not a time of day; e.g. 09:00 or 5pm")
    return f"{at.hour:02d}:{at.minute:02d}"


def _clock(text: str) -> time | None:
    match = _CLOCK.fullmatch(text.strip())
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    if match[3] and not 1 <= hour <= 12:  # `13pm`, `0am`
        return None
    if match[3] == "pm" and hour < 12:
        hour += 12
    elif match[3] == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _iso(spoken: str, tz: ZoneInfo) -> datetime | None:
    iso = spoken.upper().replace(" ", "T", 1)
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if "T" not in iso:  # a date alone: `2026-12-01`, `20261201`
        moment = datetime.combine(moment.date(), DEFAULT_CLOSING_TIME)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


@dataclass(frozen=True, slots=True)
class Period:
    name: str  # as shown: "this week"
    start: datetime | None  # UTC, inclusive; None: from the beginning
    end: datetime | None  # UTC, exclusive


PERIOD_NAMES = ("this week", "this month", "this quarter", "this year", "all")


def parse_period(words: list[str], now_utc: datetime, tz: ZoneInfo, *, default: str) -> Period:
    """`this week|this month|this quarter|this year|all` (also `week`, `last month`, ...)."""
    spoken = " ".join(w.lower() for w in words) or default
    if spoken in ("all", "all time", "ever"):
        return Period("all time", None, None)
    which, _, unit = spoken.rpartition(" ")
    if which not in ("", "this", "last") or unit not in ("week", "month", "quarter", "year"):
        raise UsageError(f"{spoken!r} is not a period; use one of: {', '.join(PERIOD_NAMES)}")
    start, end = period_bounds(unit, to_local(now_utc, tz).date(), tz)
    if which == "last":
        start, end = period_bounds(unit, to_local(start, tz).date() - timedelta(days=1), tz)
    return Period(f"{which or 'this'} {unit}", start, end)


def period_bounds(unit: str, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The [start, end) of the week (Monday-Sunday), month, quarter or year holding `day`."""
    first, after = date_bounds(unit, day)
    return local_midnight(first, tz), local_midnight(after, tz)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The start of `day` in `tz`, as aware UTC."""
    return to_utc(datetime.combine(day, time(0), tzinfo=tz))


def date_bounds(unit: str, day: date) -> tuple[date, date]:
    """The first day and the day after the week (Monday-Sunday), month, quarter or year
    holding `day`."""
    if unit == "week":
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
    elif unit == "month":
        first = day.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    elif unit == "quarter":
        first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        after = (first + timedelta(days=95)).replace(day=1)
    else:
        first, after = date(day.year, 1, 1), date(day.year + 1, 1, 1)
    return first, after


def describe(moment: datetime, tz: ZoneInfo) -> str:
    """`Fri 4 Dec 17:00 Europe/Paris`."""
    local = to_local(moment, tz)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {tz.key}"
