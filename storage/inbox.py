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
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.engine import Database
from storage.models import InboxAnswer, InboxItem


@dataclass(frozen=True, slots=True)
class Arrival:
    """A request to store: its platform, the keyed hash of its delivery id, what was sent."""

    platform: str
    key: str
    payload: str


async def prepare(database: Database) -> None:
    """SQLite: make the inbox's own file and table if they are not there yet (the migrations
    make the bot's database; PostgreSQL's inbox is in it)."""
    if database.inbox_engine is not database.engine and database.dialect == "sqlite":
        async with database.inbox_engine.begin() as connection:
            table = InboxItem.__table__  # type: ignore[attr-defined]
            await connection.run_sync(table.create, checkfirst=True)


async def add(
    connection: AsyncConnection, arrivals: Sequence[Arrival], now: datetime, lease: timedelta
) -> list[int | None]:
    """Store each arrival, leased to this process until `now + lease`, in one statement; its
    row id, or None when a request with the same key is already here (a platform's retry of
    it, or an earlier arrival in the same batch)."""
    if not arrivals:
        return []
    dialect = connection.dialect.name
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
    result = await connection.execute(statement)
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


async def record_answer(session: AsyncSession, key: str, answer: str, now: datetime) -> None:
    """Keep the bot's answer to a stored request, in the work's own transaction."""
    session.add(InboxAnswer(key=key, answer=answer, created_at=now))


async def recorded_answer(session: AsyncSession, key: str) -> str | None:
    """The answer a finished first attempt recorded, if any."""
    found = await session.get(InboxAnswer, key)
    return found.answer if found is not None else None


async def forget_answers(session: AsyncSession, before: datetime) -> int:
    """Answers recorded before `before`: their requests are long done or given up."""
    statement = delete(InboxAnswer).where(col(InboxAnswer.created_at) < before)
    result = await session.exec(statement)  # type: ignore[call-overload]
    return result.rowcount
