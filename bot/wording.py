"""Small wording helpers shared by the features."""

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

BARS = "▁▂▃▄▅▆▇█"


def plural(count: int, noun: str) -> str:
    """`1 win`, `2 wins`, `1,200 votes`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def cut_note(shown: int, total: int, noun: str) -> str | None:
    """`and 3 more open polls` when a list shows `shown` of `total` items; None when whole."""
    hidden = total - shown
    if hidden <= 0:
        return None
    return f"and {hidden:,} more {noun}{'' if hidden == 1 else 's'}"


def sparkline(values: Sequence[Decimal | int | float]) -> str:
    """`▁▃▅█`: one bar per value, placed between the series' own lowest and highest (half up,
    exact decimals); a flat series is all `▄`, an empty one is ""."""
    if not values:
        return ""
    numbers = [Decimal(repr(v)) if isinstance(v, float) else Decimal(v) for v in values]
    low, high = min(numbers), max(numbers)
    if high == low:
        return BARS[3] * len(numbers)
    steps = len(BARS) - 1
    return "".join(
        BARS[int(((v - low) * steps / (high - low)).to_integral_value(ROUND_HALF_UP))]
        for v in numbers
    )
