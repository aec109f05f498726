"""A win's scope and the bill inside it: the daily effective cost of the FOCUS rows a scope
matches (bot/costs/verify.py measures it), and the values each dimension takes in the data
(for refusing a value that matches nothing, with the nearest ones)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import money
from storage.costs import visible_to
from storage.models import CostDay, WinScope

# A scope's dimension word (bot/parsing/scope.py) -> the aggregate's column.
COLUMNS: dict[str, Any] = {
    "service": col(CostDay.service),
    "account": col(CostDay.sub_account),
    "region": col(CostDay.region),
    "category": col(CostDay.service_category),
    "provider": col(CostDay.provider),
}
VALUES_READ = 5000  # distinct values of a dimension read to match a typed one against


async def values(session: AsyncSession, workspace_id: int, dimension: str) -> list[str]:
    """The values `dimension` takes in the cost data the workspace sees."""
    column = COLUMNS[dimension]
    result = await session.exec(
        select(column).where(visible_to(workspace_id), column != "").distinct().limit(VALUES_READ)
    )
    return sorted(result.all())


# A scope's term: (dimension word, value).
Term = tuple[str, str]


def _matches(terms: tuple[Term, ...]) -> ColumnElement[bool]:
    by_dimension: dict[str, list[str]] = defaultdict(list)
    for dimension, value in terms:
        by_dimension[dimension].append(value)
    return and_(*(or_(*(COLUMNS[d] == v for v in vs)) for d, vs in by_dimension.items()))


async def daily_effective(
    session: AsyncSession, workspace_id: int, terms: tuple[Term, ...], first: date, last: date
) -> dict[str, dict[date, int]]:
    """Effective cost per currency and UTC day over [first, last] (inclusive) of the rows the
    scope matches, in billionths; days without any are absent."""
    day = col(CostDay.day)
    currency = col(CostDay.currency)
    result = await session.exec(
        select(day, currency, *money.sums(CostDay.effective_units, CostDay.effective_nanos))  # type: ignore[call-overload]
        .where(day >= first, day <= last, visible_to(workspace_id), _matches(terms))
        .group_by(day, currency)
    )
    series: dict[str, dict[date, int]] = defaultdict(dict)
    for when, code, units, nanos in result.all():
        series[code][when] = money.join(units, nanos)
    return dict(series)


async def scope_of(session: AsyncSession, win_id: int) -> tuple[Term, ...]:
    result = await session.exec(
        select(WinScope.dimension, WinScope.value)
        .where(WinScope.win_id == win_id)
        .order_by(col(WinScope.dimension), col(WinScope.value))
    )
    return tuple((d, v) for d, v in result.all())


async def set_scope(session: AsyncSession, win_id: int, terms: tuple[Term, ...]) -> None:
    """Replace the win's scope with `terms` (none: the win has no scope)."""
    await session.exec(delete(WinScope).where(col(WinScope.win_id) == win_id))  # type: ignore[call-overload]
    session.add_all(WinScope(win_id=win_id, dimension=d, value=v) for d, v in terms)
    await session.flush()
