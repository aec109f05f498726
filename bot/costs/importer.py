"""`finops-bot focus import`: read exports, then replace the covered days in one transaction.

Reading happens first, off the event loop (bot/costs/reader.py); nothing is written until
every file has been read, so a refused or unreadable file changes nothing. The write deletes
what this scope holds for each (provider, billing account, billing period) the export
contains and inserts the new aggregates in the same transaction, streamed from DuckDB in
batches (each fetched off the event loop while the previous one is written): importing an
export again replaces its deliveries instead of adding to them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.costs.kpis import OWNER_TAGS_KEY, SCOPE_TAGS_KEY
from bot.costs.reader import ExportData, ExportRefused, ProviderPart, Wanted, read_exports
from storage import cost_scope, costs
from storage.engine import Database
from storage.models import CostImport, Setting, utcnow
from storage.money import MAX_UNITS

EXPORT_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_IMPORT_LOCK = 0x666F637573  # "focus": imports of several processes take turns on PostgreSQL

__all__ = ["ExportRefused", "ImportSummary", "export_files", "run_import"]


@dataclass
class ImportSummary:
    files: list[str]
    rows_read: int
    rows_stored: int  # aggregate rows written
    skipped: dict[str, int]
    notes: dict[str, int]
    missing: list[str]
    providers: dict[str, ProviderPart] = field(default_factory=dict)
    scope: str = "the whole installation"
    replaced: set[tuple[str, str, date]] = field(default_factory=set)  # provider, account, period
    details_stored: int = 0  # CostDetailDay rows written: per scope tag value and resource
    wanted: Wanted = field(default_factory=Wanted)

    def lines(self) -> list[str]:
        skipped = sum(self.skipped.values())
        out = [
            f"Imported {len(self.files)} file{'s' if len(self.files) != 1 else ''} for "
            f"{self.scope}: {self.rows_read:,} rows read, {skipped:,} skipped, "
            f"{self.rows_stored:,} daily aggregates stored."
        ]
        for reason, rows in sorted(self.skipped.items()):
            out.append(f"  skipped {rows:,} rows: {reason}")
        for provider, part in sorted(self.providers.items()):
            out.append(
                f"  {provider}: {part.first_day:%Y-%m-%d} to {part.last_day:%Y-%m-%d}, "
                f"{part.rows:,} rows"
            )
        for provider, account, period in sorted(self.replaced):
            out.append(
                f"  replaced {provider} billing account {account or '(none)'}, "
                f"billing period {period:%Y-%m}"
            )
        if self.wanted.detail:
            kept = (
                [f"tag keys {', '.join(self.wanted.scope_tags)}"] if self.wanted.scope_tags else []
            )
            if self.wanted.resources:
                count = len(self.wanted.resources)
                kept.append(f"{count} resource{'s' if count != 1 else ''} scoped by wins")
            out.append(
                f"  kept for win scopes: {' and '.join(kept)} ({self.details_stored:,} daily rows)"
            )
        for note, rows in sorted(self.notes.items()):
            out.append(f"  note: {note}: {rows:,} rows")
        if self.missing:
            out.append(
                "  note: columns absent, read as empty (the KPIs using them show n/a or 0): "
                + ", ".join(sorted(self.missing))
            )
        if not self.providers:
            out.append("  Nothing was stored: no usable rows.")
        return out


def export_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given, and the exports inside directories (recursively), in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.name.lower().endswith(EXPORT_SUFFIXES)
            )
        else:
            found.append(path)
    return found


async def wanted(database: Database, workspace_id: int | None) -> Wanted:
    """What this import reads besides the daily aggregates, of the workspace, or of every
    workspace for the installation's bill: the tag keys that name an owner
    (`cost-owner-tags`, in workspace order, without repeats), and what win scopes need (the
    `cost-scope-tags` keys and the resources live wins are scoped to)."""
    async with database.reading() as session:
        return Wanted(
            owner_tags=await _listed_keys(session, workspace_id, OWNER_TAGS_KEY),
            scope_tags=await _listed_keys(session, workspace_id, SCOPE_TAGS_KEY),
            resources=await cost_scope.scoped_resources(session, workspace_id),
        )


async def _listed_keys(session: AsyncSession, workspace_id: int | None, setting: str) -> list[str]:
    statement = select(Setting).where(Setting.key == setting)
    if workspace_id is not None:
        statement = statement.where(Setting.workspace_id == workspace_id)
    keys: list[str] = []
    for row in await session.exec(statement.order_by(col(Setting.workspace_id))):
        for key in row.value.split(","):
            if key.strip() and key.strip().casefold() not in (k.casefold() for k in keys):
                keys.append(key.strip())
    return keys


async def run_import(
    database: Database,
    paths: Sequence[Path],
    workspace_id: int | None = None,
    *,
    scope: str = "the whole installation",
    progress: Callable[[float], None] | None = None,
    now: datetime | None = None,
) -> ImportSummary:
    """Read every file, then replace the days they cover. Raises ExportRefused (nothing
    changed) for a file that is not a usable FOCUS export."""
    reads = await wanted(database, workspace_id)
    data = await asyncio.to_thread(read_exports, list(paths), reads, progress)
    try:
        return await _write(database, data, workspace_id, scope=scope, now=now)
    finally:
        data.close()


async def _write(
    database: Database,
    data: ExportData,
    workspace_id: int | None,
    *,
    scope: str,
    now: datetime | None,
) -> ImportSummary:
    summary = _summary(data, scope)
    if not data.aggregates:
        return summary
    if data.beyond:
        raise ExportRefused(
            f"{data.beyond:,} rows sum to an amount beyond {MAX_UNITS:,} units of their currency "
            "in one day and dimension, more than can be stored exactly; nothing was imported"
        )
    async with database.session() as session:
        if session.bind.dialect.name == "postgresql":
            await session.exec(  # type: ignore[call-overload]  # exec() has no text() overload
                text("SELECT pg_advisory_xact_lock(:key)"), params={"key": _IMPORT_LOCK}
            )
        await costs.delete_deliveries(session, workspace_id, data.deliveries())
        as_text = costs.dates_as_text(session)
        rows = data.batches(costs.COLUMNS, workspace_id, dates_as_text=as_text)
        async with aclosing(_prefetched(rows)) as batches:
            summary.rows_stored = await costs.insert_rows(session, batches)
        details = data.batches(
            costs.DETAIL_COLUMNS, workspace_id, table="detail", dates_as_text=as_text
        )
        async with aclosing(_prefetched(details)) as batches:
            summary.details_stored = await costs.insert_rows(
                session, batches, table=costs.DETAIL_TABLE
            )
        for provider, part in summary.providers.items():
            await costs.record_import(
                session,
                CostImport(
                    workspace_id=workspace_id,
                    provider=provider,
                    first_day=part.first_day,
                    last_day=part.last_day,
                    row_count=part.rows,
                    period_end=data.period_end.get(provider) or _day_end(part.last_day),
                    source=", ".join(data.files)[:1000],
                    imported_at=now or utcnow(),  # utcnow: the column's default
                ),
            )
    return summary


async def _prefetched(batches: Iterator[list[tuple]]) -> AsyncGenerator[list[tuple], None]:
    """The batches, each fetched in a thread while the caller writes the one before."""
    ahead = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
    try:
        while (batch := await ahead) is not None:
            ahead = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            yield batch
    finally:
        if not ahead.done():  # a fetch still running in its thread: let it end first
            await asyncio.wait([ahead])


def _summary(data: ExportData, scope: str) -> ImportSummary:
    return ImportSummary(
        files=data.files,
        rows_read=data.rows_read,
        rows_stored=0,
        skipped=dict(data.skipped),
        notes=dict(data.notes),
        missing=sorted(data.missing),
        providers=dict(data.providers),
        scope=scope,
        replaced=data.deliveries(),
        wanted=data.wanted,
    )


def _day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), UTC)
