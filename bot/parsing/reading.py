"""`metric <name> <value>`: a metric's name and a value with its unit, e.g. `coverage 72%`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from bot.parsing.errors import UsageError
from bot.parsing.tokens import split_words

MAX_VALUE = Decimal(10) ** 12  # exclusive bound on |value|; the column keeps 6 decimals
_PLACES = Decimal("0.000001")
METRIC_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,49}")
_MAGNITUDES = {"k": Decimal(1_000), "m": Decimal(1_000_000), "b": Decimal(10**9)}
_MAGNITUDES["bn"] = _MAGNITUDES["b"]
# `72%`, `72 %`, `-1,234.5`, `3.2k`, `120 ms`, `4500 USD`. A magnitude must touch the number and
# not start a word, so `120ms` is milliseconds while `3.2k` and `1.5m` are thousand and million.
_VALUE = re.compile(
    r"""(?P<sign>[-+−])?
        (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
        (?:(?P<mag>bn|[kKmMbB])(?![^\W\d_]))?
        \s*
        (?P<unit>%|[^\W\d_][\w/.-]{0,19})?""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Reading:
    name: str
    value: Decimal
    unit: str


def parse_reading(args: str) -> Reading:
    words = [w.text for w in split_words(args, quotes=False)]
    if not words:
        raise UsageError("give a metric name and a value")
    name = words[0].lower().rstrip(":=")
    if not METRIC_NAME.fullmatch(name):
        raise UsageError(
            f"{words[0][:60]!r} is not a metric name: a letter or digit, then letters, digits, "
            "'.', '_' or '-' (at most 50)"
        )
    if len(words) == 1:
        raise UsageError(f"give a value for {name}, e.g. `metric {name} 72%`")
    text = " ".join(words[1:])
    match = _VALUE.fullmatch(text)
    if match is None:
        raise UsageError(
            f"cannot read {text[:40]!r} as a value: a number, then %, a unit word of at most "
            "20 characters, or nothing"
        )
    value = Decimal(match["num"].replace(",", ""))
    if match["mag"]:
        value *= _MAGNITUDES[match["mag"].lower()]
    if match["sign"] in ("-", "−"):
        value = -value
    if abs(value) >= MAX_VALUE:
        raise UsageError(f"the value {text[:40]!r} is too large (the limit is under 10^12)")
    return Reading(name, value.quantize(_PLACES, ROUND_HALF_UP), match["unit"] or "")
