"""Watched export directories: the scheduler imports FOCUS exports as providers write them.

Clouds write an export as several part files in one folder and rewrite them in place when a
billing period is refreshed. An import replaces whole (provider, billing account, billing
period) combinations, so importing one part alone would drop the others' rows: when any
file in a folder is new or changed (size or modification time), every export file in that
folder is imported together.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import col, select

from bot.costs.importer import ExportRefused, ImportSummary, export_files, run_import
from storage.engine import Database
from storage.models import CostFile, CostWatch
from storage.upsert import insert_or_update

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Watched:
    directory: Path
    workspace_id: int | None


async def add(database: Database, directory: Path, workspace_id: int | None) -> None:
    """Watch `directory` (an absolute path)."""
    async with database.session() as session:
        await insert_or_update(
            session,
            CostWatch,
            ("directory",),
            directory=str(directory),
            workspace_id=workspace_id,
        )


async def remove(database: Database, directory: Path) -> bool:
    async with database.session() as session:
        found = await session.get(CostWatch, str(directory))
        if found is None:
            return False
        await session.delete(found)
        return True


async def watched(database: Database, extra: Path | None = None) -> list[Watched]:
    """The registered directories, plus `FINOPS_FOCUS_WATCH_DIR` (absolute; the installation's
    bill)."""
    async with database.reading() as session:
        rows = (await session.exec(select(CostWatch).order_by(col(CostWatch.directory)))).all()
    found = [Watched(Path(r.directory), r.workspace_id) for r in rows]
    if extra and all(w.directory != extra for w in found):
        found.append(Watched(extra, None))
    return found


async def changed_folders(database: Database, directory: Path) -> dict[Path, list[Path]]:
    """Folders under `directory` holding a new or changed export file -> all their exports."""
    files = await asyncio.to_thread(_stat_exports, directory)
    async with database.reading() as session:
        known = {
            r.path: (r.size, r.mtime_ns)
            for r in await session.exec(
                select(CostFile).where(col(CostFile.path).startswith(str(directory)))
            )
        }
    by_folder: dict[Path, list[Path]] = defaultdict(list)
    changed: set[Path] = set()
    for path, size, mtime_ns in files:
        by_folder[path.parent].append(path)
        if known.get(str(path)) != (size, mtime_ns):
            changed.add(path.parent)
    return {folder: by_folder[folder] for folder in sorted(changed)}


def _stat_exports(directory: Path) -> list[tuple[Path, int, int]]:
    if not directory.is_dir():
        return []
    found = []
    for path in export_files([directory]):
        stat = path.stat()
        found.append((path, stat.st_size, stat.st_mtime_ns))
    return found


async def scan(database: Database, extra: Path | None = None) -> list[ImportSummary]:
    """Import what changed in every watched directory; a refused folder is logged and
    remembered (so it is not retried every tick until its files change again)."""
    summaries = []
    for watch in await watched(database, extra):
        for folder, files in (await changed_folders(database, watch.directory)).items():
            try:
                summary = await run_import(
                    database, files, watch.workspace_id, scope=f"watched folder {folder}"
                )
                summaries.append(summary)
                log.info("imported FOCUS exports: %s", " ".join(summary.lines()[:1]))
            except (ExportRefused, OSError) as error:
                log.warning("FOCUS exports in %s not imported: %s", folder, error)
            await _remember(database, files)
    return summaries


async def _remember(database: Database, files: list[Path]) -> None:
    stats = await asyncio.to_thread(lambda: [(p, p.stat()) for p in files if p.exists()])
    async with database.session() as session:
        for path, stat in stats:
            await insert_or_update(
                session,
                CostFile,
                ("path",),
                path=str(path),
                size=stat.st_size,
                mtime_ns=stat.st_mtime_ns,
            )
