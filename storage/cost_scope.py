"""A win's scope and the bill inside it: the daily effective cost of the FOCUS rows a scope
matches (bot/costs/verify.py measures it), and the values each dimension takes in the data
(for refusing a value that matches nothing, with the nearest ones)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import money
from storage.costs import visible_to
from storage.models import CostDay, Win, WinCheck, WinCredit, WinScope, Workspace
from storage.typed import select_columns
from storage.upsert import insert_new

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


def _matches(terms: Sequence[Term]) -> ColumnElement[bool]:
    by_dimension: dict[str, list[str]] = defaultdict(list)
    for dimension, value in terms:
        by_dimension[dimension].append(value)
    return and_(*(or_(*(COLUMNS[d] == v for v in vs)) for d, vs in by_dimension.items()))


async def daily_effective(
    session: AsyncSession, workspace_id: int, terms: Sequence[Term], *, first: date, last: date
) -> dict[str, dict[date, int]]:
    """Effective cost per currency and UTC day over [first, last] (inclusive) of the rows the
    scope matches, in billionths; days without any are absent."""
    day = col(CostDay.day)
    currency = col(CostDay.currency)
    result = await session.exec(
        select(day, currency, *money.sums(CostDay.effective_units, CostDay.effective_nanos))
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


async def set_scope(session: AsyncSession, win_id: int, terms: Sequence[Term]) -> None:
    """Replace the win's scope with `terms` (none: the win has no scope)."""
    await session.exec(delete(WinScope).where(col(WinScope.win_id) == win_id))
    session.add_all(WinScope(win_id=win_id, dimension=d, value=v) for d, v in terms)
    await session.flush()


async def grouped_daily(
    session: AsyncSession,
    workspace_id: int,
    dimensions: tuple[str, ...],
    *,
    first: date,
    last: date,
) -> list[tuple[Any, ...]]:
    """(day, currency, value of each dimension ..., effective nanos) over [first, last]: the
    series of every scope on these dimensions at once, for checking many wins in one read."""
    day, currency = col(CostDay.day), col(CostDay.currency)
    columns = [COLUMNS[d] for d in dimensions]
    effective = money.sums(CostDay.effective_units, CostDay.effective_nanos)
    statement = (
        select_columns(day, currency, *columns, *effective)
        .where(day >= first, day <= last, visible_to(workspace_id))
        .group_by(day, currency, *columns)
    )
    # Core, not the ORM: hundreds of thousands of plain rows, no objects to build.
    result = await (await session.connection()).execute(statement)
    return [(*row[:-2], money.join(row[-2], row[-1])) for row in result.all()]


async def scoped_wins(
    session: AsyncSession, workspace_id: int
) -> list[tuple[Win, tuple[Term, ...]]]:
    """The live wins with a scope whose savings recur (what the bill can show), oldest first."""
    result = await session.exec(
        select(Win, WinScope.dimension, WinScope.value)
        .join(WinScope, col(WinScope.win_id) == Win.id)
        .where(
            Win.workspace_id == workspace_id,
            col(Win.undone_at).is_(None),
            col(Win.avoidance).is_(False),
            col(Win.recurrence) != "one-time",
        )
        .order_by(col(Win.id))
    )
    scoped: dict[int, tuple[Win, list[Term]]] = {}
    for win, dimension, value in result.all():
        scoped.setdefault(win.id or 0, (win, []))[1].append((dimension, value))
    return [(win, tuple(terms)) for win, terms in scoped.values()]


async def checks_of(session: AsyncSession, win_ids: list[int]) -> dict[int, dict[int, WinCheck]]:
    """The checks recorded for these wins: win id -> checkpoint -> check."""
    found: dict[int, dict[int, WinCheck]] = defaultdict(dict)
    for start in range(0, len(win_ids), 500):  # bound the IN list
        result = await session.exec(
            select(WinCheck).where(col(WinCheck.win_id).in_(win_ids[start : start + 500]))
        )
        for check in result.all():
            found[check.win_id][check.checkpoint] = check
    return dict(found)


async def record_checks(
    session: AsyncSession, checks: list[dict[str, Any]]
) -> set[tuple[int, int]]:
    """Store the checks (`win_check` rows as dicts) not recorded yet (another replica may
    have): the (win id, checkpoint) of those this call stored."""
    return {(int(w), int(c)) for w, c in await insert_new(session, WinCheck, checks)}


async def credited(session: AsyncSession, win_ids: list[int]) -> dict[int, list[Term]]:
    """The people credited with each win: win id -> [(user id, name)], in id order."""
    found: dict[int, list[Term]] = defaultdict(list)
    for start in range(0, len(win_ids), 500):  # bound the IN list
        result = await session.exec(
            select(WinCredit.win_id, WinCredit.user_id, WinCredit.user_name)
            .where(col(WinCredit.win_id).in_(win_ids[start : start + 500]))
            .order_by(col(WinCredit.win_id), col(WinCredit.user_id))
        )
        for win_id, user_id, name in result.all():
            found[win_id].append((user_id, name))
    return dict(found)


async def check_count(session: AsyncSession, workspace_id: int) -> int:
    result = await session.exec(
        select(func.count())
        .select_from(WinCheck)
        .join(Win, col(Win.id) == WinCheck.win_id)
        .where(Win.workspace_id == workspace_id)
    )
    return result.one()


async def workspaces_with_scopes(session: AsyncSession) -> list[Workspace]:
    result = await session.exec(
        select(Workspace)
        .where(
            col(Workspace.id).in_(
                select(Win.workspace_id).join(WinScope, col(WinScope.win_id) == Win.id)
            )
        )
        .order_by(col(Workspace.id))
    )
    return list(result.all())


async def scoped_count(session: AsyncSession, workspace_id: int) -> int:
    """How many wins of the workspace have a scope (undone ones included: cheap to count)."""
    result = await session.exec(
        select(func.count(func.distinct(WinScope.win_id)))
        .join(Win, col(Win.id) == WinScope.win_id)
        .where(Win.workspace_id == workspace_id)
    )
    return result.one()


async def latest_checks(session: AsyncSession, win_ids: list[int]) -> dict[int, WinCheck]:
    """Each win's latest check (its highest checkpoint), for the wins that have one."""
    return {
        win_id: by_checkpoint[max(by_checkpoint)]
        for win_id, by_checkpoint in (await checks_of(session, win_ids)).items()
    }


async def checks_between(
    session: AsyncSession, workspace_id: int, *, start: datetime | None, until: datetime | None
) -> list[tuple[Win, WinCheck]]:
    """The checks recorded in [start, until) for live wins of the workspace, oldest first."""
    statement = (
        select(Win, WinCheck)
        .join(WinCheck, col(WinCheck.win_id) == Win.id)
        .where(Win.workspace_id == workspace_id, col(Win.undone_at).is_(None))
        .order_by(col(WinCheck.checked_at), col(WinCheck.win_id), col(WinCheck.checkpoint))
    )
    if start is not None:
        statement = statement.where(col(WinCheck.checked_at) >= start)
    if until is not None:
        statement = statement.where(col(WinCheck.checked_at) < until)
    return [(win, check) for win, check in (await session.exec(statement)).all()]


async def verified_by_person(
    session: AsyncSession, workspace_id: int, *, start: datetime | None, end: datetime | None
) -> list[tuple[str, str, str, str]]:
    """(user id, name, currency, realised monthly as decimal text) for every person credited
    with a live win logged in [start, end) whose latest check saw its savings in the bill."""
    latest = (
        select(WinCheck.win_id, func.max(WinCheck.checkpoint).label("checkpoint"))
        .group_by(col(WinCheck.win_id))
        .subquery()
    )
    statement = (
        select(WinCredit.user_id, WinCredit.user_name, WinCheck.currency, WinCheck.realised_monthly)
        .join(Win, col(Win.id) == WinCredit.win_id)
        .join(latest, latest.c.win_id == Win.id)
        .join(
            WinCheck,
            and_(col(WinCheck.win_id) == Win.id, col(WinCheck.checkpoint) == latest.c.checkpoint),
        )
        .where(
            Win.workspace_id == workspace_id,
            col(Win.undone_at).is_(None),
            WinCheck.verdict == "seen",
        )
    )
    if start is not None:
        statement = statement.where(col(Win.created_at) >= start)
    if end is not None:
        statement = statement.where(col(Win.created_at) < end)
    return [tuple(row) for row in (await session.exec(statement)).all()]  # type: ignore[misc]
