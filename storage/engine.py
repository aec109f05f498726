"""Database URLs, the async engine, and sessions."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel.ext.asyncio.session import AsyncSession


def _no_statement_debug(record: logging.LogRecord) -> bool:
    """aiosqlite's DEBUG log repeats every statement with its bound values, and SQLAlchemy's
    every result row (people's text, votes): never let them through, whatever level logging is
    configured at."""
    return record.levelno > logging.DEBUG


logging.getLogger("aiosqlite").addFilter(_no_statement_debug)
# SQLAlchemy's engine logs result rows at DEBUG (`hide_parameters` covers bound values only).
logging.getLogger("sqlalchemy.engine.Engine").addFilter(_no_statement_debug)

# The plain forms people write, mapped to the async driver we ship.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
}


class DatabaseURLError(ValueError):
    pass


def async_url(url: str) -> URL:
    """Turn `sqlite:///bot.db` or `postgresql://u:p@h/db` into the async-driver URL."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse text
        raise DatabaseURLError(
            f"DATABASE_URL {url!r} is not a database URL; "
            "e.g. sqlite:///finops-bot.db or postgresql://user:pass@localhost/finops"
        ) from exc
    driver = _ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername)
    if driver not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise DatabaseURLError(
            f"DATABASE_URL uses {parsed.drivername!r}; supported: sqlite and postgresql"
        )
    return parsed.set(drivername=driver)


def shown_url(url: str) -> str:
    """The URL fit for logs and error messages: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unreadable DATABASE_URL)"


def sqlite_file(url: str) -> Path | None:
    parsed = async_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """`hide_parameters`: the driver's statement log (DEBUG, `echo`) and errors never show the
    values bound, which are people's messages and votes. `options`: for PostgreSQL's pool."""
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        if (path := sqlite_file(url)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)  # `sqlite:///data/bot.db` just works
        engine = create_async_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True)
        if path is not None:  # on first connect: a command that never connects creates nothing
            event.listen(engine.sync_engine, "do_connect", lambda *_: _create_private(path))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_async_engine(parsed, **({"pool_pre_ping": True} | options), hide_parameters=True)


def _create_private(path: Path) -> None:
    """A new database file is created 0600 (empty: SQLite takes it as a new database); SQLite
    gives its -wal and -shm files the database file's permissions, so they are 0600 too."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # We issue BEGIN ourselves (below) instead of the driver's deferred BEGIN.
    dbapi_connection.isolation_level = None
    # WAL lets a second process (another console, `serve`) read while one writes;
    # foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives the
    # process being killed (what an acknowledged request must survive), and only a power cut
    # or OS crash can lose the last commits. FULL cost ~10-20 ms per ack (BENCHMARKS.md).
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows are overwritten, not left in free pages (an anonymous vote rewrites the
    # poll's rows; the old order must not linger in the file).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    # A deferred transaction that reads and then writes fails with "database is locked" when
    # another process wrote in between; taking the write lock up front makes writers queue.
    # Read-only sessions (`Database.reading`) never write, so they take no lock: in WAL mode
    # they read a snapshot while writers go on.
    options = connection.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return  # one statement, atomic by itself (the intake's insert)
    connection.exec_driver_sql(
        "BEGIN" if options.get("finops_read_only", False) else "BEGIN IMMEDIATE"
    )


class Database:
    """The engine plus a session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._writer = asyncio.Lock()  # SQLite: see `session` (asyncio's Lock is FIFO)
        self._inbox_engine: AsyncEngine | None = None  # see `inbox_engine`
        self._readers = async_sessionmaker(
            self.engine.execution_options(finops_read_only=True),
            class_=AsyncSession,
            expire_on_commit=False,
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on any error.

        On SQLite, one writer at a time per process, first come first served: SQLite's own
        busy handler lets waiters poll with growing sleeps, so a fresh transaction could keep
        overtaking one that has waited long (the outbox's settle behind a burst of joins).
        Other processes still queue on SQLite's lock (BEGIN IMMEDIATE, busy_timeout)."""
        if self.dialect != "sqlite":
            async with self._sessions() as session, session.begin():
                yield session
            return
        async with self._writer, self._sessions() as session, session.begin():
            yield session

    @property
    def inbox_engine(self) -> AsyncEngine:
        """Where the inbox (bot/intake.py) lives, so that storing a request never waits behind
        the work it stores. PostgreSQL: the same database, through a small pool of its own
        (no pre-ping: a round trip per request; a dropped connection fails one intake, which
        the platform retries). SQLite: a file of its own beside the database, `<file>.inbox`
        (its own write lock; 0600 and WAL like the main file). An in-memory SQLite database
        keeps it in the same database."""
        if self._inbox_engine is None:
            path = sqlite_file(self.url) if self.dialect == "sqlite" else None
            if self.dialect != "sqlite":
                self._inbox_engine = create_engine(
                    self.url, pool_size=2, max_overflow=4, pool_pre_ping=False
                )
            elif path is not None:
                inbox_file = path.with_name(path.name + ".inbox")
                self._inbox_engine = create_engine(f"sqlite:///{inbox_file}")
            else:
                self._inbox_engine = self.engine
        return self._inbox_engine

    @asynccontextmanager
    async def inbox_write(self) -> AsyncIterator[AsyncConnection]:
        """A connection to the inbox in autocommit: each statement is its own transaction (the
        intake's one INSERT costs one round trip)."""
        async with self.inbox_engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def inbox_session(self) -> AsyncIterator[AsyncSession]:
        """A transaction on the inbox (reads, for status and tests; the intake writes through
        `inbox_write`, one statement at a time)."""
        if self.inbox_engine is self.engine:
            async with self.session() as session:
                yield session
            return
        factory = async_sessionmaker(self.inbox_engine, class_=AsyncSession, expire_on_commit=False)
        async with factory() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only (the dashboard, exports): on SQLite it takes no write lock,
        so it neither waits for writers nor holds them up. Nothing is committed: closing the
        session rolls its transaction back."""
        async with self._readers() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._inbox_engine is not None and self._inbox_engine is not self.engine:
            await self._inbox_engine.dispose()
