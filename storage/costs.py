"""FOCUS cost aggregates: replacing a provider's days on import, and the scope filter.

Cost rows with `workspace_id` None belong to the whole installation (one organisation's bill,
seen by every workspace); rows with a workspace id were imported with `--workspace`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, or_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import money
from storage.models import ChartImage, CostDay, CostImport

INSERT_BATCH = 2_000  # rows per INSERT: well under SQLite's 32,766 bound parameters
# CostDay's amounts: each stored as `<name>_units` and `<name>_nanos` (storage/money.py).
MONEY = ("billed", "effective", "list", "contracted", "negotiated", "commitment")


def out_of_range(row: Mapping[str, Any]) -> bool:
    """An amount (in billionths, `<name>_nanos`) whose units a BIGINT cannot hold."""
    return not all(money.in_range(int(row[f"{name}_nanos"])) for name in MONEY)


def visible_to(workspace_id: int | None) -> ColumnElement[bool]:
    """Rows a workspace sees: the installation's bill and its own imports."""
    if workspace_id is None:
        return col(CostDay.workspace_id).is_(None)
    return or_(col(CostDay.workspace_id).is_(None), col(CostDay.workspace_id) == workspace_id)


def _same_scope(column: Any, workspace_id: int | None) -> ColumnElement[bool]:
    return column.is_(None) if workspace_id is None else column == workspace_id


async def replace_deliveries(
    session: AsyncSession,
    workspace_id: int | None,
    deliveries: Iterable[tuple[str, str, date]],
    rows: Iterable[Mapping[str, Any]],
) -> int:
    """Delete what this scope holds for each (provider, billing account, billing period) the
    export contains, then insert `rows` (CostDay column values, each amount as one total in
    billionths under `<name>_nanos`, split here as stored), in the caller's transaction:
    clouds re-deliver a billing period whole, so a restated day leaves nothing stale and
    another account's or period's rows are untouched. Returns the number of rows inserted."""
    for provider, account, period in sorted(set(deliveries)):
        await session.exec(  # type: ignore[call-overload]
            delete(CostDay).where(
                _same_scope(col(CostDay.workspace_id), workspace_id),
                col(CostDay.provider) == provider,
                col(CostDay.billing_account) == account,
                col(CostDay.billing_period) == period,
            )
        )
    inserted = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append({**money.stored(dict(row), MONEY), "workspace_id": workspace_id})
        if len(batch) == INSERT_BATCH:
            await session.exec(insert(CostDay), params=batch)  # type: ignore[call-overload]
            inserted += len(batch)
            batch = []
    if batch:
        await session.exec(insert(CostDay), params=batch)  # type: ignore[call-overload]
        inserted += len(batch)
    return inserted


async def record_import(session: AsyncSession, entry: CostImport) -> None:
    session.add(entry)
    await session.flush()


async def save_chart(session: AsyncSession, token: str, workspace_id: int, png: bytes) -> None:
    session.add(ChartImage(token=token, workspace_id=workspace_id, png=png))
    await session.flush()


async def chart(session: AsyncSession, token: str) -> bytes | None:
    found = await session.get(ChartImage, token)
    return found.png if found else None
