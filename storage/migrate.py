"""Apply Alembic migrations: at start-up and with `finops-bot db upgrade`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every replica.
_MIGRATION_LOCK = 4_201_337


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(database: Database) -> str | None:
    """Bring the schema to the newest revision; returns it. Safe when replicas start together."""
    async with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Transaction-scoped, so it also works behind PgBouncer's transaction pooling.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
            )
        await connection.run_sync(_upgrade)
        return await connection.run_sync(current_revision)


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


async def write_revision(database: Database, message: str) -> str | None:
    """Autogenerate a migration for the models' differences; the new file's path, or None."""
    written: list[str] = []

    def skip_empty(_context, _revision, directives) -> None:
        if directives[0].upgrade_ops.is_empty():
            directives[:] = []

    def generate(connection: Connection) -> None:
        config = alembic_config(connection)
        head = ScriptDirectory.from_config(config).get_current_head() or "0000"
        number = f"{int(head) + 1:04d}" if head.isdigit() else None
        script = command.revision(
            config,
            message=message,
            autogenerate=True,
            rev_id=number,
            process_revision_directives=skip_empty,
        )
        if script is not None and not isinstance(script, list):
            written.append(script.path)

    async with database.engine.begin() as connection:
        await connection.run_sync(generate)
    return written[0] if written else None


class SchemaNotCurrent(Exception):
    """The database is missing or not at this version's schema; only `finops-bot db upgrade`
    and the commands that serve users (serve, console) migrate it."""

    def __init__(self, where: str, revision: str | None) -> None:
        state = f"at schema revision {revision}" if revision else "without the bot's schema"
        super().__init__(
            f"the database at {where} is {state}; this version needs {head_revision()}. "
            "Run `finops-bot db upgrade` first (`serve` and `console` do it at start-up)."
        )


async def require_current(database: Database) -> None:
    """Refuse (SchemaNotCurrent) unless the schema is at head, changing nothing: a read-only
    or operator command never creates or migrates a database as a side effect. A SQLite file
    that does not exist is not created."""
    url = database.engine.url
    where = url.render_as_string(hide_password=True)
    path = url.database or ""  # None when the URL names no database
    on_disk = url.get_backend_name() == "sqlite" and path not in ("", ":memory:")
    if on_disk and not await asyncio.to_thread(os.path.exists, path):
        raise SchemaNotCurrent(where, None)
    async with database.engine.connect() as connection:
        revision = await connection.run_sync(current_revision)
    if revision != head_revision():
        raise SchemaNotCurrent(where, revision)


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
