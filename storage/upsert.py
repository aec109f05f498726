"""INSERT ... ON CONFLICT for SQLite and PostgreSQL: safe when two replicas race."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.typed import table_of


def insert_statement(session: AsyncSession, model: type[SQLModel]):
    """The dialect's INSERT for `model`, which has `on_conflict_do_nothing` and friends."""
    dialect = session.bind.dialect.name
    table = table_of(model)
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


async def insert_ignore(session: AsyncSession, model: type[SQLModel], **values: Any) -> bool:
    """Insert a row unless its key exists; True when this call inserted it."""
    statement = insert_statement(session, model).values(**values).on_conflict_do_nothing()
    result = await session.exec(statement)
    return result.rowcount == 1


async def insert_new(
    session: AsyncSession, model: type[SQLModel], rows: list[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    """Insert the rows whose key does not exist yet, in one executemany; the primary keys of
    those this call inserted (another replica may have inserted the others)."""
    if not rows:
        return []
    table = table_of(model)
    statement = (
        insert_statement(session, model)
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
    result = await (await session.connection()).execute(statement, rows)
    return [tuple(row) for row in result.all()]


async def insert_or_update(
    session: AsyncSession, model: type[SQLModel], keys: tuple[str, ...], **values: Any
) -> None:
    statement = insert_statement(session, model).values(**values)
    updates = {k: v for k, v in values.items() if k not in keys}
    await session.exec(statement.on_conflict_do_update(index_elements=list(keys), set_=updates))
