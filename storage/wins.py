"""Wins: recording, undoing, listing and aggregating (in SQL, never by loading every row)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Win, WinCredit, WinTag


@dataclass(frozen=True, slots=True)
class WinView:
    win: Win
    tags: tuple[str, ...]
    people: tuple[tuple[str, str], ...]  # (user id, name)


async def add_win(
    session: AsyncSession, win: Win, tags: list[tuple[str, bool]], people: list[tuple[str, str]]
) -> Win:
    session.add(win)
    await session.flush()  # assigns win.id
    for tag, is_capability in tags:
        session.add(WinTag(win_id=win.id, tag=tag, capability=is_capability))
    for user_id, name in people:
        session.add(WinCredit(win_id=win.id, user_id=user_id, user_name=name))
    await session.flush()
    return win


async def recent_count(session: AsyncSession, workspace: int, author: str, since: datetime) -> int:
    statement = select(func.count()).where(
        Win.workspace_id == workspace, Win.author_id == author, Win.created_at >= since
    )
    return (await session.exec(statement)).one()


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
    start: datetime | None,
    end: datetime | None,
    *,
    tag: str | None = None,
    user_id: str | None = None,
    limit: int = 20,
    order_by_value: bool = False,
) -> list[WinView]:
    statement = select(Win).where(*_live(workspace, start, end))
    if tag is not None:
        statement = statement.where(col(Win.id).in_(select(WinTag.win_id).where(WinTag.tag == tag)))
    if user_id is not None:
        statement = statement.where(
            col(Win.id).in_(select(WinCredit.win_id).where(WinCredit.user_id == user_id))
        )
    if order_by_value:
        statement = statement.where(col(Win.annualised_minor) > 0, col(Win.avoidance).is_(False))
        statement = statement.order_by(col(Win.annualised_minor).desc(), col(Win.id))
    else:
        statement = statement.order_by(col(Win.created_at).desc(), col(Win.id).desc())
    wins = list((await session.exec(statement.limit(limit))).all())
    return await _with_details(session, wins)


async def _with_details(session: AsyncSession, wins: list[Win]) -> list[WinView]:
    ids = [w.id for w in wins]
    tags: dict[int, list[str]] = defaultdict(list)
    people: dict[int, list[tuple[str, str]]] = defaultdict(list)
    if ids:
        for row in await session.exec(select(WinTag).where(col(WinTag.win_id).in_(ids))):
            tags[row.win_id].append(row.tag)
        for row in await session.exec(select(WinCredit).where(col(WinCredit.win_id).in_(ids))):
            people[row.win_id].append((row.user_id, row.user_name))
    return [
        WinView(w, tuple(sorted(tags[w.id])), _author_first(w, people[w.id]))  # type: ignore[index]
        for w in wins
    ]


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
    start: datetime | None,
    end: datetime | None,
    user_id: str | None = None,
) -> Totals:
    """Count and per-currency sums; only the wins `user_id` is credited with, when given."""
    statement = (
        select(Win.avoidance, Win.currency, func.count(), func.sum(Win.annualised_minor))
        .where(*_live(workspace, start, end))
        .group_by(Win.avoidance, Win.currency)
    )
    if user_id is not None:
        statement = statement.join(WinCredit, col(WinCredit.win_id) == Win.id).where(
            WinCredit.user_id == user_id
        )
    count, savings, avoidance = 0, {}, {}
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
    start: datetime | None,
    end: datetime | None,
    limit: int = 10,
    rank_currency: str = "USD",
) -> list[Contributor]:
    """People credited with the most wins (activity first, as FinOps gamification advises)."""
    live = _live(workspace, start, end)
    counts = (
        select(WinCredit.user_id, func.max(WinCredit.user_name), func.count())
        .join(Win, col(Win.id) == WinCredit.win_id)
        .where(*live)
        .group_by(WinCredit.user_id)
    )
    by_user = {u: Contributor(u, name, n, {}) for u, name, n in await session.exec(counts)}
    sums = (
        select(WinCredit.user_id, Win.currency, func.sum(Win.annualised_minor))
        .join(Win, col(Win.id) == WinCredit.win_id)
        .where(*live, col(Win.avoidance).is_(False))
        .group_by(WinCredit.user_id, Win.currency)
    )
    for user_id, currency, total in await session.exec(sums):
        if total:
            by_user[user_id].savings[currency] = int(total)
    ranked = sorted(
        by_user.values(), key=lambda c: (-c.wins, -c.savings.get(rank_currency, 0), c.name.lower())
    )
    return ranked[:limit]
