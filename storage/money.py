"""Amounts stored as two integers: whole units and billionths (nanos), as Google's Money type.

One 64-bit integer of billionths overflows at 9.2 × 10^9 units (a month of an Indonesian
bill in IDR); SQLite has no exact wider type (NUMERIC is a float), so each amount is kept as
`<name>_units` and `<name>_nanos`, both of the amount's sign, the nanos below 10^9 in size.
Sums are taken column by column in SQL, where neither part can overflow for any real bill,
and joined in Python, whose integers are unbounded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, func

NANO = 1_000_000_000
MAX_UNITS = 2**63 - 1  # a BIGINT: what one stored row's units can hold


def split(total_nanos: int) -> tuple[int, int]:
    """An amount in billionths as (units, nanos), both of its sign: -1.5 is (-1, -500000000)."""
    units = abs(total_nanos) // NANO
    if total_nanos < 0:
        units = -units
    return units, total_nanos - units * NANO


def join(units: Any, nanos: Any) -> int:
    """(units, nanos) sums from SQL (int, Decimal or None) back to billionths."""
    return int(units or 0) * NANO + int(nanos or 0)


def stored(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """A row of `<name>_nanos` totals as the columns store them (`_units` and `_nanos`)."""
    out = dict(row)
    for name in names:
        out[f"{name}_units"], out[f"{name}_nanos"] = split(int(row[f"{name}_nanos"]))
    return out


def sums(
    units: Any, nanos: Any, condition: ColumnElement[bool] | None = None
) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """SUM of both parts, over the rows meeting `condition` (all rows without one)."""
    if condition is None:
        return func.coalesce(func.sum(units), 0), func.coalesce(func.sum(nanos), 0)
    return (
        func.coalesce(func.sum(case((condition, units), else_=0)), 0),
        func.coalesce(func.sum(case((condition, nanos), else_=0)), 0),
    )


def amount(row: Any, name: str) -> int:
    """A stored row's amount `name` (e.g. "effective") in billionths."""
    return join(getattr(row, f"{name}_units"), getattr(row, f"{name}_nanos"))
