"""Wins: recording, undoing, listing and aggregating (in SQL, never by loading every row)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, literal, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Win, WinCredit, WinDay, WinTag
from storage.typed import select_columns


@dataclass(frozen=True, slots=True)
class WinView:
    win: Win
    tags: tuple[str, ...]
    people: tuple[tuple[str, str], ...]  # (user id, name)


async def add_win(
    session: AsyncSession, win: Win, *, tags: list[tuple[str, bool]], people: list[tuple[str, str]]
) -> Win:
    session.add(win)
    await session.flush()  # assigns win.id
    assert win.id is not None
    for tag, is_capability in tags:
        session.add(WinTag(win_id=win.id, tag=tag, capability=is_capability))
    for user_id, name in people:
        session.add(WinCredit(win_id=win.id, user_id=user_id, user_name=name))
    await session.flush()
    await _count_day(session, win, +1)
    return win


async def undo(session: AsyncSession, win: Win, by: str, *, now: datetime) -> bool:
    """Mark a live win undone; False when it already was (a concurrent undo won). Only the
    call that flips it takes it out of the daily totals, so they never count it twice."""
    result = await session.exec(
        update(Win)
        .where(col(Win.id) == win.id, col(Win.undone_at).is_(None))
        .values(undone_at=now, undone_by=by)
    )
    if result.rowcount != 1:
        return False
    await _count_day(session, win, -1)
    return True


async def replace(
    session: AsyncSession,
    win: Win,
    changes: dict[str, Any],
    *,
    tags: list[tuple[str, bool]],
    people: list[tuple[str, str]],
) -> bool:
    """`win edit`: new text, amount, tags and people for a live win, its day's totals moved
    with it in the same transaction. False when it was undone meanwhile."""
    result = await session.exec(
        update(Win).where(col(Win.id) == win.id, col(Win.undone_at).is_(None)).values(**changes)
    )
    if result.rowcount != 1:
        return False
    assert win.id is not None  # the update found it
    await _count_day(session, win, -1)
    for name, value in changes.items():
        setattr(win, name, value)
    await _count_day(session, win, +1)
    await session.exec(delete(WinTag).where(col(WinTag.win_id) == win.id))
    await session.exec(delete(WinCredit).where(col(WinCredit.win_id) == win.id))
    for tag, is_capability in tags:
        session.add(WinTag(win_id=win.id, tag=tag, capability=is_capability))
    for user_id, name in people:
        session.add(WinCredit(win_id=win.id, user_id=user_id, user_name=name))
    await session.flush()
    return True


async def tags_of(session: AsyncSession, win_id: int) -> list[tuple[str, bool]]:
    """A win's stored tags as (tag, is a capability slug)."""
    rows = await session.exec(
        select(WinTag.tag, WinTag.capability)
        .where(WinTag.win_id == win_id)
        .order_by(col(WinTag.tag))
    )
    return [(tag, bool(capability)) for tag, capability in rows.all()]


async def view(session: AsyncSession, workspace: int, win_id: int) -> WinView | None:
    found = await get(session, workspace, win_id)
    return (await _with_details(session, [found]))[0] if found else None


async def _count_day(session: AsyncSession, win: Win, sign: int) -> None:
    """Add (or take away) one win in its day's totals; an atomic upsert, so replicas logging
    wins at the same moment both count."""
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {
        "workspace_id": win.workspace_id,
        "day": win.created_at.astimezone(UTC).date(),
        "currency": win.currency,
        "avoidance": win.avoidance,
        "wins": sign,
        "annualised_minor": sign * win.annualised_minor,
    }
    statement = insert(WinDay).values(**values)
    await session.exec(
        statement.on_conflict_do_update(
            index_elements=["workspace_id", "day", "currency", "avoidance"],
            set_={
                "wins": WinDay.wins + statement.excluded.wins,
                "annualised_minor": WinDay.annualised_minor + statement.excluded.annualised_minor,
            },
        )
    )


async def lock_author(session: AsyncSession, workspace: int, author: str) -> None:
    """Serialise one person's wins in one workspace until the transaction ends, so the hourly
    limit's count and the insert that follows are one step, whatever the replicas do at once.
    PostgreSQL: a transaction-scoped advisory lock (other people are not held up; it works
    behind PgBouncer's transaction pooling); SQLite: BEGIN IMMEDIATE holds the write lock."""
    if session.bind.dialect.name == "postgresql":
        await session.exec(  # type: ignore[call-overload]  # exec() has no text() overload
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            params={"key": f"finops-win-limit:{workspace}:{author}"},
        )


async def recent_count(
    session: AsyncSession, workspace: int, author: str, *, since: datetime
) -> int:
    statement = select(func.count()).where(
        Win.workspace_id == workspace, Win.author_id == author, Win.created_at >= since
    )
    return (await session.exec(statement)).one()


async def next_allowed(
    session: AsyncSession, workspace: int, author: str, *, since: datetime, limit: int
) -> datetime:
    """When the oldest win that fills the hourly limit leaves the window (`since` + 1 hour
    later): the moment the next win is accepted."""
    statement = (
        select(Win.created_at)
        .where(Win.workspace_id == workspace, Win.author_id == author, Win.created_at >= since)
        .order_by(col(Win.created_at).desc())
        .offset(limit - 1)
        .limit(1)
    )
    oldest = (await session.exec(statement)).first()
    if oldest is None:
        return since + timedelta(hours=1)
    if oldest.tzinfo is None:  # SQLite gives naive UTC back
        oldest = oldest.replace(tzinfo=UTC)
    return oldest + timedelta(hours=1)


async def get(session: AsyncSession, workspace: int, win_id: int) -> Win | None:
    statement = select(Win).where(Win.workspace_id == workspace, Win.id == win_id)
    return (await session.exec(statement)).first()


def _live(workspace: int, start: datetime | None, end: datetime | None):
    conditions = [Win.workspace_id == workspace, col(Win.undone_at).is_(None)]
    if start is not None:
        conditions.append(Win.created_at >= start)
    if end is not None:
        conditions.append(Win.created_at < end)
    return conditions


async def list_wins(
    session: AsyncSession,
    workspace: int,
    *,
    start: datetime | None,
    end: datetime | None,
    tag: str | None = None,
    user_id: str | None = None,
    limit: int = 20,
    order_by_value: bool = False,
    avoidance: bool | None = None,
) -> list[WinView]:
    statement = select(Win).where(
        *_filtered(workspace, start, end, tag=tag, user_id=user_id, avoidance=avoidance)
    )
    if order_by_value:
        statement = statement.where(col(Win.annualised_minor) > 0, col(Win.avoidance).is_(False))
        statement = statement.order_by(col(Win.annualised_minor).desc(), col(Win.id))
    else:
        statement = statement.order_by(col(Win.created_at).desc(), col(Win.id).desc())
    wins = list((await session.exec(statement.limit(limit))).all())
    return await _with_details(session, wins)


def _filtered(
    workspace: int,
    start: datetime | None,
    end: datetime | None,
    *,
    tag: str | None,
    user_id: str | None,
    avoidance: bool | None,
) -> list[Any]:
    conditions = _live(workspace, start, end)
    if avoidance is not None:  # `#avoidance` is a flag on the win, not a stored tag
        conditions.append(col(Win.avoidance).is_(avoidance))
    if tag is not None:
        conditions.append(col(Win.id).in_(select(WinTag.win_id).where(WinTag.tag == tag)))
    if user_id is not None:
        conditions.append(
            col(Win.id).in_(select(WinCredit.win_id).where(WinCredit.user_id == user_id))
        )
    return conditions


async def count_wins(
    session: AsyncSession,
    workspace: int,
    *,
    start: datetime | None,
    end: datetime | None,
    tag: str | None = None,
    user_id: str | None = None,
    avoidance: bool | None = None,
) -> int:
    """How many wins `list_wins` would list with no limit (a cut list says how many)."""
    conditions = _filtered(workspace, start, end, tag=tag, user_id=user_id, avoidance=avoidance)
    return (await session.exec(select(func.count()).select_from(Win).where(*conditions))).one()


async def _with_details(session: AsyncSession, wins: list[Win]) -> list[WinView]:
    ids = [w.id for w in wins]
    tags: dict[int | None, list[str]] = defaultdict(list)  # by Win.id, as `wins` holds it
    people: dict[int | None, list[tuple[str, str]]] = defaultdict(list)
    if ids:
        for row in await session.exec(select(WinTag).where(col(WinTag.win_id).in_(ids))):
            tags[row.win_id].append(row.tag)
        for credit in await session.exec(select(WinCredit).where(col(WinCredit.win_id).in_(ids))):
            people[credit.win_id].append((credit.user_id, credit.user_name))
    return [WinView(w, tuple(sorted(tags[w.id])), _author_first(w, people[w.id])) for w in wins]


def _author_first(win: Win, people: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(people, key=lambda p: (p[0] != win.author_id, p[1].lower())))


@dataclass(frozen=True, slots=True)
class Totals:
    count: int
    savings: dict[str, int]  # currency -> annualised minor units
    avoidance: dict[str, int]


async def totals(
    session: AsyncSession,
    workspace: int,
    *,
    start: datetime | None,
    end: datetime | None,
    user_id: str | None = None,
) -> Totals:
    """Count and per-currency sums; only the wins `user_id` is credited with, when given."""
    statement = (
        select(Win.avoidance, Win.currency, func.count(), func.sum(Win.annualised_minor))
        .where(*_live(workspace, start, end))
        .group_by(col(Win.avoidance), col(Win.currency))
    )
    if user_id is not None:
        statement = statement.join(WinCredit, col(WinCredit.win_id) == Win.id).where(
            WinCredit.user_id == user_id
        )
    count = 0
    savings: dict[str, int] = {}
    avoidance: dict[str, int] = {}
    for is_avoidance, currency, n, total in await session.exec(statement):
        count += n
        if total:
            (avoidance if is_avoidance else savings)[currency] = int(total)
    return Totals(count, savings, avoidance)


@dataclass(slots=True)
class Contributor:
    user_id: str
    name: str
    wins: int
    savings: dict[str, int]


async def contributors(
    session: AsyncSession,
    workspace: int,
    *,
    start: datetime | None,
    end: datetime | None,
    limit: int | None = 10,
    rank_currency: str = "USD",
    tag: str | None = None,
    avoidance: bool | None = None,
) -> list[Contributor]:
    """People credited with the most wins (activity first, as FinOps gamification advises),
    optionally of one category (`tag`) or kind. `savings` holds the wins' annualised savings,
    or, for `avoidance=True`, the cost they avoided."""
    # One pass over the credits: per person, kind and currency (then summed up here).
    statement = (
        select_columns(
            WinCredit.user_id,
            func.max(WinCredit.user_name),
            Win.avoidance,
            Win.currency,
            func.count(),
            func.sum(Win.annualised_minor),
        )
        .join(Win, col(Win.id) == WinCredit.win_id)
        .where(*_filtered(workspace, start, end, tag=tag, user_id=None, avoidance=avoidance))
        .group_by(col(WinCredit.user_id), col(Win.avoidance), col(Win.currency))
    )
    by_user: dict[str, Contributor] = {}
    counted_kind = bool(avoidance)  # savings, or with avoidance=True the cost avoided
    for user_id, name, avoided, currency, n, total in await session.exec(statement):
        person = by_user.setdefault(user_id, Contributor(user_id, name, 0, {}))
        person.name = max(person.name, name)
        person.wins += n
        if total and bool(avoided) == counted_kind:
            person.savings[currency] = person.savings.get(currency, 0) + int(total)
    ranked = sorted(
        by_user.values(), key=lambda c: (-c.wins, -c.savings.get(rank_currency, 0), c.name.lower())
    )
    return ranked[:limit]


@dataclass(frozen=True, slots=True)
class BucketTotal:
    bucket: int  # index of the interval [bounds[i], bounds[i + 1])
    avoidance: bool
    currency: str
    count: int
    annualised: int


async def totals_by_interval(
    session: AsyncSession, workspace: int, bounds: list[datetime]
) -> list[BucketTotal]:
    """Live wins and annualised sums per currency, avoidance apart, for each interval
    [bounds[i], bounds[i+1]) (ascending, aware; e.g. months in the workspace time zone).

    Exact and cheap however many wins there are: the UTC days wholly inside an interval come
    from the daily totals (`win_day`, a few rows a day), and only the UTC days that hold an
    edge are read from the wins themselves. Two grouped queries."""
    if len(bounds) < 2:
        return []
    bounds = [b.astimezone(UTC) for b in bounds]
    starts = bounds[1:-1]
    edges = sorted({b.date() for b in bounds if b.time() != time(0)})
    first, last = bounds[0].date(), bounds[-1].date()  # whole days: [first, last) less edges
    # A whole day lies in the interval of the last bound on or before its date.
    whole = _grouped(
        _interval(col(WinDay.day), [b.date() for b in starts]),
        (
            WinDay.avoidance,
            WinDay.currency,
            col(WinDay.wins).label("n"),
            col(WinDay.annualised_minor).label("total"),
        ),
        WinDay.workspace_id == workspace,
        col(WinDay.day) >= first,
        col(WinDay.day) < last,
        col(WinDay.day).not_in(edges),
    )
    statements = [whole]
    if edges:
        ranges = [  # each edge day, clipped to the whole span
            (max(start, bounds[0]), min(start + timedelta(days=1), bounds[-1]))
            for start in (datetime.combine(d, time(0), tzinfo=UTC) for d in edges)
        ]
        # The workspace inside each term of the OR: SQLite then searches the (workspace,
        # created_at) index once per range (a "multi-index OR") instead of scanning the span.
        in_edges = or_(
            *(
                and_(
                    col(Win.workspace_id) == workspace,
                    col(Win.created_at) >= a,
                    col(Win.created_at) < b,
                )
                for a, b in ranges
            )
        )
        edge_rows: tuple[Any, ...] = (
            Win.avoidance,
            Win.currency,
            literal(1).label("n"),
            col(Win.annualised_minor).label("total"),
        )
        statements.append(
            _grouped(
                _interval(col(Win.created_at), starts),
                edge_rows,
                col(Win.undone_at).is_(None),
                in_edges,
            )
        )
    sums: dict[tuple[int, bool, str], list[int]] = defaultdict(lambda: [0, 0])
    for statement in statements:
        for index, avoidance, currency, n, total in await session.exec(statement):
            entry = sums[(int(index), bool(avoidance), currency)]
            entry[0] += int(n or 0)
            entry[1] += int(total or 0)
    return [
        BucketTotal(index, avoidance, currency, n, total)
        for (index, avoidance, currency), (n, total) in sorted(sums.items())
        if n
    ]


def _interval(column: Any, starts: list[Any]) -> Any:
    """The index of the interval a value falls in, given the interior bounds (ascending)."""
    if not starts:
        return literal(0)
    return case(*((column < edge, index) for index, edge in enumerate(starts)), else_=len(starts))


def _grouped(bucket: Any, columns: tuple[Any, ...], *conditions: Any) -> Any:
    """Rows bucketed by `bucket`, summed per (bucket, kind, currency). The bucket is computed
    in a subquery so that PostgreSQL groups by the column, not by a repeated expression."""
    rows = select(bucket.label("bucket"), *columns).where(*conditions).subquery()
    return select_columns(
        rows.c.bucket,
        rows.c.avoidance,
        rows.c.currency,
        func.sum(rows.c.n),
        func.sum(rows.c.total),
    ).group_by(rows.c.bucket, rows.c.avoidance, rows.c.currency)


@dataclass(frozen=True, slots=True)
class ExportedWin:
    id: int
    created_at: datetime
    text: str
    amount_minor: int
    currency: str
    recurrence: str
    annualised_minor: int
    avoidance: bool
    author_name: str
    tags: tuple[str, ...]
    people: tuple[str, ...]  # names, the author first


async def export_batch(
    session: AsyncSession,
    workspace: int,
    after: tuple[datetime, int] | None,
    *,
    limit: int = 1000,
) -> list[ExportedWin]:
    """Live wins logged after `after` (the last one of the previous batch: its time and id),
    oldest first, with categories and people: the CSV export pages through them, so memory
    stays flat however many wins there are. Plain columns, not ORM objects; keyset paging on
    the (workspace, created_at) index, so every batch costs the same."""
    statement = (
        select_columns(
            Win.id,
            Win.created_at,
            Win.text,
            Win.amount_minor,
            Win.currency,
            Win.recurrence,
            Win.annualised_minor,
            Win.avoidance,
            Win.author_id,
            Win.author_name,
        )
        .where(*_live(workspace, None, None))
        .order_by(col(Win.created_at), col(Win.id))
        .limit(limit)
    )
    if after is not None:  # the range starts on the index; ties on the time go by id
        moment, last_id = after
        statement = statement.where(
            col(Win.created_at) >= moment,
            or_(col(Win.created_at) > moment, col(Win.id) > last_id),
        )
    rows = list(await session.exec(statement))
    if not rows:
        return []
    ids = [row[0] for row in rows]
    tags: dict[int, list[str]] = defaultdict(list)
    tag_rows = select(WinTag.win_id, WinTag.tag).where(col(WinTag.win_id).in_(ids))
    for win_id, tag in await session.exec(tag_rows):
        tags[win_id].append(tag)
    people: dict[int, list[tuple[str, str]]] = defaultdict(list)
    credit_rows = select(WinCredit.win_id, WinCredit.user_id, WinCredit.user_name).where(
        col(WinCredit.win_id).in_(ids)
    )
    for win_id, user_id, name in await session.exec(credit_rows):
        people[win_id].append((user_id, name))
    return [
        ExportedWin(
            win_id,
            created,
            text,
            amount,
            currency,
            recurrence,
            annualised,
            bool(avoidance),
            author_name,
            tuple(sorted(tags[win_id])),
            tuple(
                name
                for _, name in sorted(
                    people[win_id], key=lambda p: (p[0] != author_id, p[1].lower())
                )
            ),
        )
        for (
            win_id,
            created,
            text,
            amount,
            currency,
            recurrence,
            annualised,
            avoidance,
            author_id,
            author_name,
        ) in rows
    ]
