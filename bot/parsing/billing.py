"""The bill's grammar: a billing period (`this month`, `last week`, `2024-09`) and the tag
keys that name a cost's owner (`team, cost-center`).

Periods are whole UTC billing days; weeks run Monday to Sunday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from bot.events import Place
from bot.parsing.errors import UsageError, quoted
from bot.parsing.when import date_bounds

MAX_OWNER_TAGS = 10
MAX_TAG_KEY = 128  # AWS's limit on a tag key, the longest of the three clouds
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
WINDOW_DAYS = 7  # the digest's cost window: the latest seven complete days of data
Unit = Literal["week", "month", "days"]


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC billing days [start, end): a Monday-Sunday week, a calendar month, or a run
    of days (the digest's latest seven days of data), compared with as many days before."""

    unit: Unit
    start: date
    end: date

    @classmethod
    def week_of(cls, day: date) -> Period:
        return cls("week", *date_bounds("week", day))

    @classmethod
    def month_of(cls, day: date) -> Period:
        return cls("month", *date_bounds("month", day))

    @classmethod
    def days_ending(cls, last: date, count: int = WINDOW_DAYS) -> Period:
        return cls("days", last - timedelta(days=count - 1), last + timedelta(days=1))

    def previous(self) -> Period:
        if self.unit == "days":
            return Period("days", self.start - (self.end - self.start), self.start)
        if self.unit == "week":
            return Period.week_of(self.start - timedelta(days=7))
        return Period.month_of(self.start - timedelta(days=1))

    @property
    def label(self) -> str:
        if self.unit == "days":
            return span_label(self.start, self.end)
        if self.unit == "week":
            return f"week of {day_text(self.start)}"
        return f"{self.start:%b %Y}"

    @property
    def comparison(self) -> str:
        if self.unit == "days":
            return f"against the {(self.end - self.start).days} days before"
        return "week over week" if self.unit == "week" else "month over month"

    @property
    def short(self) -> str:
        if self.unit == "days":
            return f"vs the {(self.end - self.start).days} days before"
        return "WoW" if self.unit == "week" else "MoM"


def day_text(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def span_label(start: date, end: date) -> str:
    """`1–24 Nov 2026` for the days [start, end)."""
    last = end - timedelta(days=1)
    if last == start:
        return day_text(start)
    if (start.year, start.month) == (last.year, last.month):
        return f"{start.day}–{day_text(last)}"
    return f"{start.day} {start:%b}–{day_text(last)}"


def parse_owner_tags(value: str, _place: Place | None = None) -> str:
    """`team, cost-center` → the stored form: tag keys in priority order, without repeats."""
    keys: list[str] = []
    for part in value.split(","):
        key = part.strip().strip("\"'").strip()
        if not key:
            continue
        if len(key) > MAX_TAG_KEY or _CONTROL.search(key):
            raise UsageError(f"{quoted(key)} is not a tag key (at most {MAX_TAG_KEY} characters)")
        if key.casefold() not in (k.casefold() for k in keys):
            keys.append(key)
    if not keys:
        raise UsageError("give one or more tag keys separated by commas, e.g. `team, cost-center`")
    if len(keys) > MAX_OWNER_TAGS:
        raise UsageError(f"give at most {MAX_OWNER_TAGS} tag keys")
    return ", ".join(keys)


def parse_billing_period(args: str, today: date) -> Period:
    spoken = " ".join(args.lower().split())
    month = _MONTH.fullmatch(spoken)
    if spoken == "this month":
        return Period.month_of(today)
    if spoken == "last month":
        return Period.month_of(today).previous()
    if spoken == "this week":
        return Period.week_of(today)
    if spoken == "last week":
        return Period.week_of(today).previous()
    if month and 1900 <= int(month[1]) <= 9998 and 1 <= int(month[2]) <= 12:
        return Period.month_of(date(int(month[1]), int(month[2]), 1))
    raise UsageError(
        f"{quoted(args.strip())} is not a period: give this week, last week, this month, "
        "last month or a month as YYYY-MM, e.g. `cost 2024-09`"
    )
