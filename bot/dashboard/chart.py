"""The savings chart's geometry: grouped bars (savings, and cost avoidance beside them) per
month on a "nice" scale, as numbers the template draws as inline SVG. No I/O, no markup.

Two layouts of the same figures: `monthly_bars`, columns for a wide screen (each month named
with its year under it), and `monthly_rows`, one row per month for a phone, drawn about as
wide as the screen so its labels keep their size (at least 12 px)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.parsing.money import format_money

WIDTH, HEIGHT = 600, 250
LEFT, RIGHT, TOP, BOTTOM = 98, 8, 12, 44  # room for the axis labels (month, then year)
TICKS = 4
ROWS_WIDTH, ROW_LABEL, ROW_HEIGHT, ROWS_TOP = 340, 76, 24, 22  # the phone's layout


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
    label: str  # "Nov"
    year: str  # "2026"


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


@dataclass(frozen=True, slots=True)
class Row:
    y: float  # the top of the row
    label: str  # "Nov 2026"
    bars: tuple[Bar, ...]


@dataclass(frozen=True, slots=True)
class Rows:
    """The phone's chart: a row per month, savings and avoidance as horizontal bars."""

    width: int
    height: int
    rows: tuple[Row, ...]
    left: int
    top_label: str  # the scale's end, "40k USD", written above the bars' right end


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


Month = tuple[str, str, int, int]  # (month "Nov", year "2026", savings, avoidance)


def monthly_bars(months: list[Month], currency: str) -> Chart:
    """`months`: (month, year, savings, avoidance), amounts in minor units of `currency`,
    oldest first."""
    top = nice_ceiling(max((max(s, a) for _, _, s, a in months), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(months), 1)
    bar_w = slot * 0.36
    baseline = TOP + plot_h
    bars: list[Bar] = []
    columns: list[Column] = []
    for index, (short, year, saved, avoided) in enumerate(months):
        left = LEFT + index * slot + slot * 0.12
        columns.append(Column(round(LEFT + index * slot + slot / 2, 1), short, year))
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
                    label=f"{short} {year}: {format_money(minor, currency)} {verb}",
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


def monthly_rows(months: list[Month], currency: str) -> Rows:
    """The same figures as `monthly_bars`, newest month first, for a narrow screen."""
    top = nice_ceiling(max((max(s, a) for _, _, s, a in months), default=0))
    plot_w = ROWS_WIDTH - ROW_LABEL - 4
    rows = []
    for index, (short, year, saved, avoided) in enumerate(reversed(months)):
        y = ROWS_TOP + index * ROW_HEIGHT
        bars = tuple(
            Bar(
                x=ROW_LABEL,
                y=round(y + offset, 1),
                width=round(plot_w * minor / top, 1),
                height=height,
                kind=kind,
                label=f"{short} {year}: {format_money(minor, currency)} {verb}",
            )
            for offset, height, kind, minor, verb in (
                (3.0, 10.0, "savings", saved, "saved"),
                (14.0, 6.0, "avoidance", avoided, "avoided"),
            )
        )
        rows.append(Row(y, f"{short} {year}", bars))
    height = ROWS_TOP + len(months) * ROW_HEIGHT
    return Rows(ROWS_WIDTH, height, tuple(rows), ROW_LABEL, short_money(round(top), currency))
