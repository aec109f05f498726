"""How often a saving recurs, and its annualised value (monthly x 12)."""

from __future__ import annotations

from enum import StrEnum

from bot.parsing.errors import UsageError


class Recurrence(StrEnum):
    ONE_TIME = "one-time"
    MONTHLY = "monthly"
    ANNUAL = "annual"

    def annualise(self, minor: int) -> int:
        return minor * 12 if self is Recurrence.MONTHLY else minor

    @property
    def suffix(self) -> str:
        return {"one-time": " one-time", "monthly": "/mo", "annual": "/yr"}[self.value]


SINGLE_WORDS = {
    "/mo": Recurrence.MONTHLY,
    "/month": Recurrence.MONTHLY,
    "monthly": Recurrence.MONTHLY,
    "/mth": Recurrence.MONTHLY,
    "/yr": Recurrence.ANNUAL,
    "/year": Recurrence.ANNUAL,
    "/y": Recurrence.ANNUAL,
    "yearly": Recurrence.ANNUAL,
    "annual": Recurrence.ANNUAL,
    "annually": Recurrence.ANNUAL,
    "one-time": Recurrence.ONE_TIME,
    "onetime": Recurrence.ONE_TIME,
    "once": Recurrence.ONE_TIME,
    "one-off": Recurrence.ONE_TIME,
}
_PAIR_FIRST = {"per", "a", "each", "every", "/", "one"}
PAIRS = {
    ("per", "month"): Recurrence.MONTHLY,
    ("a", "month"): Recurrence.MONTHLY,
    ("each", "month"): Recurrence.MONTHLY,
    ("every", "month"): Recurrence.MONTHLY,
    ("/", "month"): Recurrence.MONTHLY,
    ("/", "mo"): Recurrence.MONTHLY,
    ("per", "year"): Recurrence.ANNUAL,
    ("a", "year"): Recurrence.ANNUAL,
    ("per", "annum"): Recurrence.ANNUAL,
    ("each", "year"): Recurrence.ANNUAL,
    ("every", "year"): Recurrence.ANNUAL,
    ("/", "year"): Recurrence.ANNUAL,
    ("/", "yr"): Recurrence.ANNUAL,
    ("one", "time"): Recurrence.ONE_TIME,
}


def single(word: str) -> Recurrence | None:
    return SINGLE_WORDS.get(word.lower().rstrip(".,;:!"))


def pair(first: str, second: str) -> Recurrence | None:
    if first.lower() not in _PAIR_FIRST:
        return None
    return PAIRS.get((first.lower(), second.lower().rstrip(".,;:!")))


def from_suffix(suffix: str) -> Recurrence:
    """`/mo` attached to an amount (`$3,200/mo`)."""
    recurrence = SINGLE_WORDS.get(suffix.lower())
    if recurrence is None:
        raise UsageError(f"{suffix!r} is not a recurrence; use /mo, /yr or one-time")
    return recurrence
