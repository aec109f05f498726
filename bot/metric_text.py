"""How metrics read in messages and on the dashboard: values, changes and trends."""

from __future__ import annotations

from decimal import Decimal

from bot.wording import sparkline
from storage.metrics import MetricSeries

# The metrics where lower is better (unit cost, latency), names separated by spaces; every
# other metric is higher-is-better. Set with `metric <name> direction lower|higher`.
DIRECTIONS_KEY = "metric-directions"


def format_number(value: Decimal) -> str:
    """`1,234.5`, `72`, `-0.25`: thousands separators, no trailing zeros, no exponent."""
    value = value.normalize()
    return format(Decimal(0) if value == 0 else value, ",f")


def format_value(value: Decimal, unit: str) -> str:
    if unit == "%":
        return f"{format_number(value)}%"
    return f"{format_number(value)} {unit}".rstrip()


def change_text(delta: Decimal, unit: str) -> str:
    """`▲ +4 pts` (percentage points for %), `▼ -20 ms`, `= 0`."""
    suffix = " pts" if unit == "%" else (f" {unit}" if unit else "")
    if delta > 0:
        return f"▲ +{format_number(delta)}{suffix}"
    if delta < 0:
        return f"▼ -{format_number(-delta)}{suffix}"
    return f"= 0{suffix}"


def trend_line(series: MetricSeries) -> str:
    """`coverage 72% ▲ +4 pts ▁▃▅█`; a metric with one value says so instead of a trend."""
    shown = f"{series.name} {format_value(series.latest, series.unit)}"
    if series.change is None:
        return f"{shown} (first value)"
    return f"{shown} {change_text(series.change, series.unit)} {sparkline(series.values)}"


def lower_is_better(config: dict[str, str]) -> frozenset[str]:
    """The metrics for which a falling value is good news (`metric <name> direction lower`)."""
    return frozenset(config.get(DIRECTIONS_KEY, "").split())
