"""Storage: migrations match the models, URL forms, and concurrent writers on one database."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from bot.events import Actor, CommandEvent, Place
from storage.engine import Database, DatabaseURLError, async_url
from storage.migrate import current_revision, head_revision
from storage.models import Win
from tests.helpers import rows


async def test_migrations_match_the_models(database: Database):
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    async with database.engine.connect() as connection:
        assert await connection.run_sync(current_revision) == head_revision()


@pytest.mark.parametrize(
    ("written", "driver"),
    [
        ("sqlite:///bot.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///bot.db", "sqlite+aiosqlite"),
        ("postgresql://u:p@db.internal/finops", "postgresql+asyncpg"),
        ("postgres://u:p@db.internal/finops", "postgresql+asyncpg"),
        ("postgresql+psycopg2://u:p@db.internal/finops", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u:p@db.internal/finops", "postgresql+asyncpg"),
    ],
)
def test_database_url_forms(written: str, driver: str):
    url = async_url(written)
    assert url.drivername == driver
    assert url.database in ("bot.db", "finops")


@pytest.mark.parametrize("bad", ["mysql://u@h/db", "not a url", ""])
def test_unsupported_database_urls_are_refused(bad: str):
    with pytest.raises(DatabaseURLError):
        async_url(bad)


async def test_concurrent_writers_lose_nothing(settings, clock, workspace):
    """Two bots with their own engines (as two processes would be) log wins at once."""
    from bot.core import Bot

    bots = [Bot(settings, Database(settings.database_url), clock=clock) for _ in range(2)]
    place = Place("console", "console")

    async def log(bot: Bot, user: str) -> list[str]:
        answers = []
        for i in range(10):
            event = CommandEvent(Actor("console", workspace, user, user), place, f"win W{i} $10")
            outcome = await bot.handle(event)
            answers += [item.message.text for item in outcome.items]
        return answers

    try:
        results = await asyncio.gather(log(bots[0], "u1"), log(bots[1], "u2"))
    finally:
        for bot in bots:
            await bot.database.dispose()
    assert not any("went wrong" in text for answers in results for text in answers)
    assert await rows(bots[0].database, Win, workspace) == 20
