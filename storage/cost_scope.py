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
from storage.models import (
    AuditEntry,
    CostDay,
    CostDetailDay,
    CostImport,
    Win,
    WinCheck,
    WinCredit,
    WinScope,
    Workspace,
)
from storage.typed import select_columns
from storage.upsert import insert_new

# A scope's dimension word (bot/parsing/scope.py) -> the aggregates' column (both tables).
COLUMN_NAMES = {
    "service": "service",
    "account": "sub_account",
    "region": "region",
    "category": "service_category",
    "provider": "provider",
}
DETAIL = ("tag", "resource")  # kept in CostDetailDay only, one kind at a time
VALUES_READ = 5000  # distinct values of a dimension read to match a typed one against

# A scope's term: (dimension word, value); a tag's value is `key=value`.
Term = tuple[str, str]
Table = type[CostDay] | type[CostDetailDay]


def _column(table: Table, dimension: str) -> Any:
    return col(getattr(table, COLUMN_NAMES[dimension]))


async def values(session: AsyncSession, workspace_id: int, dimension: str) -> list[str]:
    """The values `dimension` takes in the cost data the workspace sees (a resource's: of the
    resources kept, those live wins are scoped to)."""
    if dimension == "resource":
        return await _detail_values(session, workspace_id, kind="resource", key="")
    column = _column(CostDay, dimension)
    result = await session.exec(
        select(column).where(visible_to(workspace_id), column != "").distinct().limit(VALUES_READ)
    )
    return sorted(result.all())


async def tag_keys(session: AsyncSession, workspace_id: int) -> list[str]:
    """The tag keys whose values are kept (those in `cost-scope-tags` when data was imported)."""
    result = await session.exec(
        select(col(CostDetailDay.key))
        .where(visible_to(workspace_id, CostDetailDay), col(CostDetailDay.kind) == "tag")
        .distinct()
    )
    return sorted(result.all())


async def tag_values(session: AsyncSession, workspace_id: int, key: str) -> list[str]:
    return await _detail_values(session, workspace_id, kind="tag", key=key)


async def _detail_values(
    session: AsyncSession, workspace_id: int, *, kind: str, key: str
) -> list[str]:
    result = await session.exec(
        select(col(CostDetailDay.value))
        .where(
            visible_to(workspace_id, CostDetailDay),
            col(CostDetailDay.kind) == kind,
            col(CostDetailDay.key) == key,
        )
        .distinct()
        .limit(VALUES_READ)
    )
    return sorted(result.all())


def uses_detail(terms: Sequence[Term]) -> bool:
    return any(dimension in DETAIL for dimension, _ in terms)


def _matches(table: Table, terms: Sequence[Term]) -> ColumnElement[bool]:
    """Terms of one dimension are alternatives (OR), dimensions all apply (AND); a tag term
    is its key and value, a resource its (lower-case) id."""
    by_dimension: dict[str, list[str]] = defaultdict(list)
    for dimension, value in terms:
        by_dimension[dimension].append(value)
    conditions: list[ColumnElement[bool]] = []
    for dimension, values_ in by_dimension.items():
        if dimension == "tag":
            conditions.append(col(CostDetailDay.kind) == "tag")
            conditions.append(
                or_(
                    *(
                        and_(col(CostDetailDay.key) == key, col(CostDetailDay.value) == value)
                        for key, _, value in (v.partition("=") for v in values_)
                    )
                )
            )
        elif dimension == "resource":
            conditions.append(col(CostDetailDay.kind) == "resource")
            conditions.append(col(CostDetailDay.value).in_([v.casefold() for v in values_]))
        else:
            conditions.append(or_(*(_column(table, dimension) == v for v in values_)))
    return and_(*conditions)


def _table(terms: Sequence[Term]) -> Table:
    return CostDetailDay if uses_detail(terms) else CostDay


async def daily_effective(
    session: AsyncSession, workspace_id: int, terms: Sequence[Term], *, first: date, last: date
) -> dict[str, dict[date, int]]:
    """Effective cost per currency and UTC day over [first, last] (inclusive) of the rows the
    scope matches, in billionths; days without any are absent."""
    table = _table(terms)
    day, currency = col(table.day), col(table.currency)
    result = await session.exec(
        select(day, currency, *money.sums(table.effective_units, table.effective_nanos))
        .where(day >= first, day <= last, visible_to(workspace_id, table), _matches(table, terms))
        .group_by(day, currency)
    )
    series: dict[str, dict[date, int]] = defaultdict(dict)
    for when, code, units, nanos in result.all():
        series[code][when] = money.join(units, nanos)
    return dict(series)


async def daily_consumed(
    session: AsyncSession, workspace_id: int, terms: Sequence[Term], *, first: date, last: date
) -> dict[str, tuple[dict[date, int], dict[date, int]]]:
    """For a tag or resource scope: per ConsumedUnit, the daily effective cost and consumed
    quantity (both in billionths) over [first, last], for a per-unit view."""
    if not uses_detail(terms):
        return {}
    day, unit = col(CostDetailDay.day), col(CostDetailDay.consumed_unit)
    result = await session.exec(
        select_columns(
            day,
            unit,
            *money.sums(CostDetailDay.effective_units, CostDetailDay.effective_nanos),
            *money.sums(CostDetailDay.consumed_units, CostDetailDay.consumed_nanos),
        )
        .where(
            day >= first,
            day <= last,
            visible_to(workspace_id, CostDetailDay),
            _matches(CostDetailDay, terms),
            unit != "",
        )
        .group_by(day, unit)
    )
    found: dict[str, tuple[dict[date, int], dict[date, int]]] = {}
    for when, name, e_units, e_nanos, q_units, q_nanos in result.all():
        cost, quantity = found.setdefault(name, ({}, {}))
        cost[when] = money.join(e_units, e_nanos)
        quantity[when] = money.join(q_units, q_nanos)
    return found


async def credits(
    session: AsyncSession, workspace_id: int, terms: Sequence[Term], *, first: date, last: date
) -> dict[str, int]:
    """Per currency, the credits and refunds billed in the scope over [first, last] (FOCUS
    ChargeCategory Credit, and Adjustment rows that lower the bill), as a positive amount in
    billionths. Scopes on service, account, region, category and provider only: the detail
    kept per tag and resource has no charge category."""
    billed_units, billed_nanos = col(CostDay.billed_units), col(CostDay.billed_nanos)
    result = await session.exec(
        select(col(CostDay.currency), *money.sums(billed_units, billed_nanos))
        .where(
            col(CostDay.day) >= first,
            col(CostDay.day) <= last,
            visible_to(workspace_id),
            _matches(CostDay, terms),
            col(CostDay.charge_category).in_(("Credit", "Adjustment")),
            or_(billed_units < 0, billed_nanos < 0),
        )
        .group_by(col(CostDay.currency))
    )
    return {code: -money.join(units, nanos) for code, units, nanos in result.all()}


async def clear_checks(session: AsyncSession, win_id: int) -> None:
    """Forget a win's checks: its scope or its day changed, so they measured something else."""
    await session.exec(delete(WinCheck).where(col(WinCheck.win_id) == win_id))


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
    series of every scope on these dimensions at once, for checking many wins in one read.
    A tag's value is `key=value`; a scope has at most one of tag and resource."""
    kind = next((d for d in dimensions if d in DETAIL), None)
    table: Table = CostDay if kind is None else CostDetailDay
    day, currency = col(table.day), col(table.currency)
    columns = [
        (col(CostDetailDay.key) + "=" + col(CostDetailDay.value))
        if d == "tag"
        else col(CostDetailDay.value)
        if d == "resource"
        else _column(table, d)
        for d in dimensions
    ]
    effective = money.sums(table.effective_units, table.effective_nanos)
    statement = (
        select_columns(day, currency, *columns, *effective)
        .where(day >= first, day <= last, visible_to(workspace_id, table))
        .group_by(day, currency, *columns)
    )
    if kind is not None:
        statement = statement.where(col(CostDetailDay.kind) == kind)
    # Core, not the ORM: hundreds of thousands of plain rows, no objects to build.
    result = await (await session.connection()).execute(statement)
    return [(*row[:-2], money.join(row[-2], row[-1])) for row in result.all()]


async def scoped_resources(session: AsyncSession, workspace_id: int | None) -> list[str]:
    """The resources live wins are scoped to (of one workspace, or of all for the whole
    installation's bill), lower case: the importer keeps their daily cost."""
    statement = (
        select(WinScope.value)
        .join(Win, col(Win.id) == WinScope.win_id)
        .where(WinScope.dimension == "resource", col(Win.undone_at).is_(None))
        .distinct()
    )
    if workspace_id is not None:
        statement = statement.where(Win.workspace_id == workspace_id)
    return sorted({value.casefold() for value in (await session.exec(statement)).all()})


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


async def latest_import(session: AsyncSession, workspace_id: int) -> int:
    """The latest import the workspace sees (its `cost_import` id, 0 for none): an import of
    older exports changes no last day, yet may give a scope its baseline."""
    result = await session.exec(
        select(func.coalesce(func.max(CostImport.id), 0)).where(
            visible_to(workspace_id, CostImport)
        )
    )
    return int(result.one())


SCOPE_ACTIONS = ("win.scope", "win.edit")  # audited changes of a win's scope, day or kind


async def scope_changes(session: AsyncSession, workspace_id: int) -> int:
    """The latest audited change of a win's scope, effective day or recurrence (its audit
    entry's id, 0 for none): a change makes checks due that no new data or win would."""
    result = await session.exec(
        select(func.coalesce(func.max(AuditEntry.id), 0)).where(
            AuditEntry.workspace_id == workspace_id, col(AuditEntry.action).in_(SCOPE_ACTIONS)
        )
    )
    return int(result.one())


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
