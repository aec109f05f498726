"""FOCUS cost aggregates: replacing what an import delivers, in bulk, and the scope filter.

Cost rows with `workspace_id` None belong to the whole installation (one organisation's bill,
seen by every workspace); rows with a workspace id were imported with `--workspace`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, text
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import money
from storage.models import ChartImage, CostDay, CostDetailDay, CostImport
from storage.typed import table_of

INSERT_BATCH = 20_000  # rows per executemany or COPY of the dict rows of replace_deliveries
# CostDay's amounts: each stored as `<name>_units` and `<name>_nanos` (storage/money.py).
MONEY = ("billed", "effective", "list", "contracted", "negotiated", "commitment")
# CostDay's columns as `insert_rows` takes them, in this order (`id` is the database's).
COLUMNS = (
    "workspace_id",
    "day",
    "provider",
    "currency",
    "billing_account",
    "sub_account",
    "billing_period",
    "service_category",
    "service",
    "region",
    "charge_category",
    "pricing_category",
    "commitment_status",
    "commitment_id",
    "tagged",
    "owner",
    "row_count",
    *(f"{name}_{part}" for name in MONEY for part in ("units", "nanos")),
)
DATES = frozenset({"day", "billing_period"})
# CostDetailDay's, likewise (the kept tag values and resources, for win scopes).
DETAIL_TABLE = "cost_detail_day"
DETAIL_COLUMNS = tuple(c.name for c in table_of(CostDetailDay).columns if c.name != "id")


CostTable = type[CostDay] | type[CostDetailDay] | type[CostImport]


def visible_to(workspace_id: int | None, table: CostTable = CostDay) -> ColumnElement[bool]:
    """Rows a workspace sees: the installation's bill and its own imports."""
    column = col(table.workspace_id)
    if workspace_id is None:
        return column.is_(None)
    return or_(column.is_(None), column == workspace_id)


def _same_scope(column: Any, workspace_id: int | None) -> ColumnElement[bool]:
    return column.is_(None) if workspace_id is None else column == workspace_id


def dates_as_text(session: AsyncSession) -> bool:
    """Whether `insert_rows` takes dates as ISO text (SQLite, as SQLAlchemy stores them there)
    rather than `date` objects (PostgreSQL's COPY)."""
    return session.bind.dialect.name == "sqlite"


async def delete_deliveries(
    session: AsyncSession, workspace_id: int | None, deliveries: Iterable[tuple[str, str, date]]
) -> None:
    """Delete what this scope holds for each (provider, billing account, billing period):
    clouds re-deliver a billing period whole, so a restated day leaves nothing stale and
    another account's or period's rows are untouched."""
    for provider, account, period in sorted(set(deliveries)):
        for table in (CostDay, CostDetailDay):
            await session.exec(
                delete(table).where(
                    _same_scope(col(table.workspace_id), workspace_id),
                    col(table.provider) == provider,
                    col(table.billing_account) == account,
                    col(table.billing_period) == period,
                )
            )


async def insert_rows(
    session: AsyncSession, batches: AsyncIterable[Sequence[tuple]], *, table: str = "cost_day"
) -> int:
    """Insert batches of CostDay rows, tuples of `COLUMNS` (or of DETAIL_COLUMNS into
    DETAIL_TABLE; amounts already split, dates as
    `dates_as_text` says), in the session's transaction, straight through the driver: COPY
    on PostgreSQL (asyncpg's copy_records_to_table), one executemany per batch on SQLite.
    Returns the number of rows inserted."""
    columns = DETAIL_COLUMNS if table == DETAIL_TABLE else COLUMNS
    connection = await session.connection()
    inserted = 0
    if connection.dialect.name == "postgresql":
        # COPY goes to the driver's connection: a statement first makes sure the session's
        # transaction has begun there, so the rows commit or roll back with it.
        await connection.execute(text("SELECT 1"))
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None  # asyncpg's connection, open while the session holds it
        async for batch in batches:
            await raw.copy_records_to_table(table, records=batch, columns=columns)
            inserted += len(batch)
        return inserted
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    async for batch in batches:
        await connection.exec_driver_sql(sql, list(batch))
        inserted += len(batch)
    return inserted


async def replace_deliveries(
    session: AsyncSession,
    workspace_id: int | None,
    deliveries: Iterable[tuple[str, str, date]],
    *,
    rows: Iterable[Mapping[str, Any]],
) -> int:
    """Delete what this scope holds for each (provider, billing account, billing period) the
    export contains (`delete_deliveries`), then insert `rows` (CostDay column values, each
    amount as one total in billionths under `<name>_nanos`, split here as stored), in the
    caller's transaction. Returns the number of rows inserted."""
    await delete_deliveries(session, workspace_id, deliveries)
    as_text = dates_as_text(session)

    def cell(name: str, value: Any) -> Any:
        return value.isoformat() if as_text and name in DATES else value

    async def batches() -> AsyncIterator[list[tuple]]:
        batch: list[tuple] = []
        for row in rows:
            values = {**money.stored(dict(row), MONEY), "workspace_id": workspace_id}
            batch.append(tuple(cell(name, values[name]) for name in COLUMNS))
            if len(batch) == INSERT_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    return await insert_rows(session, batches())


async def record_import(session: AsyncSession, entry: CostImport) -> None:
    session.add(entry)
    await session.flush()


async def save_chart(session: AsyncSession, token: str, workspace_id: int, *, png: bytes) -> None:
    session.add(ChartImage(token=token, workspace_id=workspace_id, png=png))
    await session.flush()


async def chart(session: AsyncSession, token: str) -> bytes | None:
    found = await session.get(ChartImage, token)
    return found.png if found else None
