"""The one way the composition root opens the database: built from the settings, brought to
the newest schema (`serve`, `work`, `console`, `db upgrade`) or required to be there already
(every other command: a command that only reads must not change a schema), disposed of at
the end."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.settings import Settings
from storage.engine import Database
from storage.migrate import require_current, upgrade

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_database(settings: Settings, *, migrate: bool = False) -> AsyncIterator[Database]:
    async with opened(Database(settings.database_url), migrate=migrate) as database:
        yield database


@asynccontextmanager
async def opened(database: Database, *, migrate: bool) -> AsyncIterator[Database]:
    """`open_database` for a Database built earlier (the server builds it with the app, so
    the adapters get it in their constructors; it connects only at start-up)."""
    try:
        if migrate:
            revision = await upgrade(database)
            log.info("database ready at schema revision %s", revision)
        else:
            await require_current(database)
        yield database
    finally:
        await database.dispose()
