"""The inbox: platform requests stored before they are acknowledged (see bot/intake.py).

A row lives only while its request is being worked on: the receiving process deletes it when
the work is done. Its lease says how long that process is trusted to finish; once it has run
out, any replica may claim the row and work it again (the bot's own de-duplication of event
ids makes a second run after a finished first one do nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboxItem


@dataclass(frozen=True, slots=True)
class Arrival:
    """A request to store: its platform, the keyed hash of its delivery id, what was sent."""

    platform: str
    key: str
    payload: str


async def add(
    session: AsyncSession, arrivals: Sequence[Arrival], now: datetime, lease: timedelta
) -> list[int | None]:
    """Store each arrival, leased to this process until `now + lease`, in one statement; its
    row id, or None when a request with the same key is already here (a platform's retry of
    it, or an earlier arrival in the same batch)."""
    if not arrivals:
        return []
    dialect = session.bind.dialect.name  # type: ignore[union-attr]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = InboxItem.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "platform": a.platform,
            "key": a.key,
            "payload": a.payload,
            "attempts": 1,
            "received_at": now,
            "lease_until": now + lease,
        }
        for a in arrivals
    ]
    statement = (
        insert(table)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.platform, table.c.key)
    )
    result = await session.exec(statement)  # type: ignore[call-overload]
    stored = {(platform, key): row_id for row_id, platform, key in result.all()}
    ids: list[int | None] = []
    for arrival in arrivals:  # a key's first arrival gets its row; any other, None
        ids.append(stored.pop((arrival.platform, arrival.key), None))
    return ids


async def claim_expired(
    session: AsyncSession,
    platforms: Sequence[str],
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[InboxItem]:
    """Rows of `platforms` whose lease has run out (their process died or gave up), oldest
    first, leased anew to the caller. Commit right after, before working on them."""
    statement = (
        select(InboxItem)
        .where(col(InboxItem.lease_until) <= now, col(InboxItem.platform).in_(list(platforms)))
        .order_by(col(InboxItem.id))
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
        statement = statement.with_for_update(skip_locked=True)
    rows = list((await session.exec(statement)).all())
    for row in rows:
        row.attempts += 1
        row.lease_until = now + lease
        session.add(row)
    return rows


async def remove(session: AsyncSession, ids: Sequence[int]) -> None:
    """The work on these rows is done (or given up): forget them."""
    if ids:
        statement = delete(InboxItem).where(col(InboxItem.id).in_(list(ids)))
        await session.exec(statement)  # type: ignore[call-overload]


async def extend(session: AsyncSession, ids: Sequence[int], until: datetime) -> None:
    """Keep the lease of rows still being worked on (a slow database, a long call)."""
    if ids:
        statement = (
            update(InboxItem).where(col(InboxItem.id).in_(list(ids))).values(lease_until=until)
        )
        await session.exec(statement)  # type: ignore[call-overload]


async def waiting(session: AsyncSession) -> int:
    """How many requests are stored and not yet done (for `outbox`-style status and tests)."""
    return (await session.exec(select(func.count()).select_from(InboxItem))).one()


async def record_answer(session: AsyncSession, row_id: int, answer: str) -> None:
    """Keep the bot's answer with the request, in the work's own transaction."""
    statement = update(InboxItem).where(col(InboxItem.id) == row_id).values(answer=answer)
    await session.exec(statement)  # type: ignore[call-overload]


async def recorded_answer(session: AsyncSession, row_id: int) -> str | None:
    """The answer a finished first attempt recorded, if any."""
    statement = select(InboxItem.answer).where(col(InboxItem.id) == row_id)
    return (await session.exec(statement)).first()
