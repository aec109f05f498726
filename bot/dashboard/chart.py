"""The savings chart's geometry: grouped bars (savings, and cost avoidance beside them) per
month on a "nice" scale, as numbers the template draws as inline SVG. No I/O, no markup."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.parsing.money import format_money

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 84, 12, 16, 36  # room for the axis labels
TICKS = 4


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # "savings" | "avoidance"
    label: str  # what a screen reader and the tooltip say: "Nov 2026: 3,200 USD saved"


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class Column:
    x: float  # the centre, for the month label
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    columns: tuple[Column, ...]
    baseline: float
    empty: bool
    left: int = LEFT  # where the plot starts (the axis labels end just before)
    right: int = WIDTH - RIGHT


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^n that is at least `value` (the top of the axis)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover (the loop always returns)


def short_money(minor: int, currency: str) -> str:
    """`12.5k USD`, `3M EUR`, `900 USD`: axis labels, where width matters more than cents."""
    whole = format_money(minor, currency).split(" ")[0].replace(",", "")
    amount = float(whole)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(amount) >= size:
            shown = f"{amount / size:.1f}".rstrip("0").rstrip(".")
            return f"{shown}{suffix} {currency}"
    return f"{amount:,.0f} {currency}"


def monthly_bars(months: list[tuple[str, str, int, int]], currency: str) -> Chart:
    """`months`: (short label, full label, savings, avoidance), amounts in minor units of
    `currency`, oldest first."""
    top = nice_ceiling(max((max(s, a) for _, _, s, a in months), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(months), 1)
    bar_w = slot * 0.36
    baseline = TOP + plot_h
    bars: list[Bar] = []
    columns: list[Column] = []
    for index, (short, label, saved, avoided) in enumerate(months):
        left = LEFT + index * slot + slot * 0.12
        columns.append(Column(round(LEFT + index * slot + slot / 2, 1), short))
        for offset, kind, minor, verb in (
            (0.0, "savings", saved, "saved"),
            (bar_w + slot * 0.04, "avoidance", avoided, "avoided"),
        ):
            height = plot_h * minor / top
            bars.append(
                Bar(
                    x=round(left + offset, 1),
                    y=round(baseline - height, 1),
                    width=round(bar_w, 1),
                    height=round(height, 1),
                    kind=kind,
                    label=f"{label}: {format_money(minor, currency)} {verb}",
                )
            )
    ticks = tuple(
        Tick(
            round(baseline - plot_h * k / TICKS, 1),
            short_money(round(top * k / TICKS), currency),
        )
        for k in range(TICKS + 1)
    )
    empty = not any(s or a for _, _, s, a in months)
    return Chart(WIDTH, HEIGHT, tuple(bars), ticks, tuple(columns), baseline, empty)
