"""The inbox: platform requests stored before they are acknowledged (see bot/intake.py).

A row lives only while its request is being worked on: the receiving process deletes it when
the work is done. Its lease says how long that process is trusted to finish; once it has run
out, any replica may claim the row and work it again (the bot's own de-duplication of event
ids makes a second run after a finished first one do nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import asyncpg
from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.engine import Database, async_url, sqlite_file
from storage.models import InboxAnswer, InboxItem
from storage.typed import table_of


@dataclass(frozen=True, slots=True)
class Arrival:
    """A request to store: its platform, the keyed hash of its delivery id, what was sent.
    `handed_off`: not leased to the storing process, so a worker process claims it at once
    (`finops-bot serve` with FINOPS_WORKERS)."""

    platform: str
    key: str
    payload: str
    handed_off: bool = False

    def attempts(self) -> int:
        return 0 if self.handed_off else 1

    def lease_until(self, now: datetime, lease: timedelta) -> datetime:
        return now if self.handed_off else now + lease


async def prepare(database: Database) -> None:
    """SQLite: make the inbox's own file and table if they are not there yet (the migrations
    make the bot's database; PostgreSQL's inbox is in it)."""
    if database.inbox_engine is not database.engine and database.dialect == "sqlite":
        async with database.inbox_engine.begin() as connection:
            table = table_of(InboxItem)
            await connection.run_sync(table.create, checkfirst=True)


async def add(
    connection: AsyncConnection, arrivals: Sequence[Arrival], now: datetime, *, lease: timedelta
) -> list[int | None]:
    """Store each arrival, leased to this process until `now + lease`, in one statement; its
    row id, or None when a request with the same key is already here (a platform's retry of
    it, or an earlier arrival in the same batch)."""
    if not arrivals:
        return []
    dialect = connection.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = table_of(InboxItem)
    rows = [
        {
            "platform": a.platform,
            "key": a.key,
            "payload": a.payload,
            "attempts": a.attempts(),
            "received_at": now,
            "lease_until": a.lease_until(now, lease),
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
    connection: AsyncConnection,
    platforms: Sequence[str],
    now: datetime,
    *,
    lease: timedelta,
    limit: int,
) -> list[InboxItem]:
    """Rows of `platforms` whose lease has run out (their process died, or they were handed
    off to a worker), oldest first, leased anew to the caller: one UPDATE ... RETURNING, so on
    SQLite the inbox's write lock is held for that statement only, never across awaits."""
    table = table_of(InboxItem)
    due = (
        select(table.c.id)
        .where(table.c.lease_until <= now, table.c.platform.in_(list(platforms)))
        .order_by(table.c.id)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":  # replicas never wait on each other's rows
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(attempts=table.c.attempts + 1, lease_until=now + lease)
        .returning(*table.c)
    )
    rows = (await connection.execute(statement)).all()
    return sorted((InboxItem(**row._mapping) for row in rows), key=lambda item: item.id or 0)


async def remove(connection: AsyncConnection, ids: Sequence[int]) -> None:
    """The work on these rows is done (or given up): forget them."""
    if ids:
        table = table_of(InboxItem)
        await connection.execute(delete(table).where(table.c.id.in_(list(ids))))


async def extend(connection: AsyncConnection, ids: Sequence[int], until: datetime) -> None:
    """Keep the lease of rows still being worked on (a slow database, a long call)."""
    if ids:
        table = table_of(InboxItem)
        statement = update(table).where(table.c.id.in_(list(ids))).values(lease_until=until)
        await connection.execute(statement)


async def record_answer(session: AsyncSession, key: str, answer: str, *, now: datetime) -> None:
    """Keep the bot's answer to a stored request, in the work's own transaction."""
    session.add(InboxAnswer(key=key, answer=answer, created_at=now))


async def recorded_answer(session: AsyncSession, key: str) -> str | None:
    """The answer a finished first attempt recorded, if any."""
    found = await session.get(InboxAnswer, key)
    return found.answer if found is not None else None


async def forget_answers(session: AsyncSession, before: datetime) -> int:
    """Answers recorded before `before`: their requests are long done or given up."""
    statement = delete(InboxAnswer).where(col(InboxAnswer.created_at) < before)
    result = await session.exec(statement)
    return result.rowcount


# -- the intake's writers: one statement per batch, below the ORM (the ack waits for it) -------

_COLUMNS = "platform, key, payload, attempts, received_at, lease_until"


class InboxWriter(Protocol):
    async def add(
        self, arrivals: Sequence[Arrival], now: datetime, lease: timedelta
    ) -> list[int | None]: ...

    async def close(self) -> None: ...


def writer(database: Database) -> InboxWriter:
    """The fastest way to the inbox this database allows: SQLite's own module on a thread of
    its own (the event loop is never in the way), or one asyncpg connection and one prepared
    statement for any batch. What they store is exactly what `add` above stores."""
    if database.dialect == "postgresql":
        return _PostgresWriter(database.url)
    path = sqlite_file(database.url)
    if path is None:  # an in-memory database: only the engine's own connection sees it
        return _EngineWriter(database)
    return _SqliteWriter(path.with_name(path.name + ".inbox"))


def _ids(arrivals: Sequence[Arrival], returned: Iterable[Sequence[Any]]) -> list[int | None]:
    stored = {(platform, key): row_id for row_id, platform, key in returned}
    return [stored.pop((a.platform, a.key), None) for a in arrivals]


class _EngineWriter:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(
        self, arrivals: Sequence[Arrival], now: datetime, lease: timedelta
    ) -> list[int | None]:
        async with self.database.inbox_write() as connection:
            return await add(connection, arrivals, now, lease=lease)

    async def close(self) -> None:
        pass


def _sqlite_time(moment: datetime) -> str:
    """How SQLAlchemy's DateTime stores a (UTC) moment in SQLite, so queries compare right."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class _SqliteWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-writer")
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            for pragma in ("journal_mode=WAL", "busy_timeout=30000", "synchronous=NORMAL"):
                connection.execute(f"PRAGMA {pragma}")
            self._connection = connection
        return self._connection

    def _insert(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(rows))
        statement = (
            f"INSERT INTO inbox ({_COLUMNS}) VALUES {values} "
            "ON CONFLICT DO NOTHING RETURNING id, platform, key"
        )
        parameters = [value for row in rows for value in row]
        return self._connect().execute(statement, parameters).fetchall()

    async def add(
        self, arrivals: Sequence[Arrival], now: datetime, lease: timedelta
    ) -> list[int | None]:
        received = _sqlite_time(now)
        rows = [
            (
                a.platform,
                a.key,
                a.payload,
                a.attempts(),
                received,
                _sqlite_time(a.lease_until(now, lease)),
            )
            for a in arrivals
        ]
        loop = asyncio.get_running_loop()
        return _ids(arrivals, await loop.run_in_executor(self._thread, self._insert, rows))

    async def close(self) -> None:
        def closing() -> None:
            if self._connection is not None:
                self._connection.close()

        await asyncio.get_running_loop().run_in_executor(self._thread, closing)
        self._thread.shutdown(wait=False)


class _PostgresWriter:
    STATEMENT = (
        f"INSERT INTO inbox ({_COLUMNS}) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], "
        "$5::timestamptz[], $6::timestamptz[]) "
        "ON CONFLICT DO NOTHING RETURNING id, platform, key"
    )

    def __init__(self, url: str) -> None:
        self.dsn = async_url(url).set(drivername="postgresql").render_as_string(False)
        self._connection: asyncpg.Connection | None = None

    async def add(
        self, arrivals: Sequence[Arrival], now: datetime, lease: timedelta
    ) -> list[int | None]:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self.dsn, timeout=5)
        columns = (
            [a.platform for a in arrivals],
            [a.key for a in arrivals],
            [a.payload for a in arrivals],
            [a.attempts() for a in arrivals],
            [now] * len(arrivals),
            [a.lease_until(now, lease) for a in arrivals],
        )
        try:
            returned = await self._connection.fetch(self.STATEMENT, *columns)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            await self.close()  # a new connection next time
            raise
        return _ids(arrivals, returned)

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
