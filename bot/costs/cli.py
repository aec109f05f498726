"""`finops-bot focus import [PATH...] [--workspace P:ID] [--watch DIR | --unwatch DIR]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.costs import watch
from bot.costs.importer import ExportRefused, export_files, run_import
from bot.dashboard.exports import parse_workspace
from storage import workspaces
from storage.engine import Database


def _fail(message: str, status: int = 1) -> int:
    print(f"finops-bot: {message}", file=sys.stderr)
    return status


def check(args: argparse.Namespace) -> int | None:
    """The arguments' problem, said, as an exit status (2); None when they are usable."""
    paths: list[Path] = list(args.paths)
    if args.unwatch:
        if paths or args.watch:
            return _fail("--unwatch takes no paths and no --watch", 2)
    elif not paths and not args.watch:
        return _fail("give the export files or directories to import, or --watch DIR", 2)
    for path in [*paths, *([args.watch] if args.watch else [])]:
        if not path.exists():
            return _fail(f"{path}: no such file or directory", 2)
    return None


async def run(database: Database, args: argparse.Namespace) -> int:
    """Exit status 0 when imported, 1 when a file was refused (nothing changed)."""
    paths: list[Path] = list(args.paths)
    if args.unwatch:
        if await watch.remove(database, args.unwatch.resolve()):
            print(f"No longer watching {args.unwatch.resolve()}.")
            return 0
        return _fail(f"{args.unwatch} was not watched", 2)
    workspace_id, scope = None, "the whole installation"
    if args.workspace:
        try:
            platform, external_id = parse_workspace(args.workspace)
        except ValueError as error:
            return _fail(str(error), 2)
        async with database.reading() as session:
            workspace_id = await workspaces.find(session, platform, external_id)
        if workspace_id is None:
            return _fail(f"no workspace {platform}:{external_id} in this database", 2)
        scope = f"workspace {platform}:{external_id}"
    files = export_files(paths)
    status = 0
    if files:
        status = await _import(database, files, workspace_id, scope=scope)
    if args.watch and status == 0:
        await watch.add(database, args.watch.resolve(), workspace_id)
        for summary in await watch.scan(database):
            print("\n".join(summary.lines()))
        print(
            f"Watching {args.watch.resolve()}: `finops-bot serve` imports new or rewritten "
            "exports there (every export of a changed folder, together)."
        )
    elif paths and not files:
        return _fail("no .csv, .csv.gz or .parquet files found there", 2)
    return status


async def _import(
    database: Database, files: list[Path], workspace_id: int | None, *, scope: str
) -> int:
    with _progress_bar() as advance:
        try:
            summary = await run_import(database, files, workspace_id, scope=scope, progress=advance)
        except ExportRefused as error:
            return _fail(f"{error}. Nothing was imported.")
    print("\n".join(summary.lines()))
    return 0


@contextmanager
def _progress_bar() -> Iterator[Callable[[float], None] | None]:
    """tqdm's bar on a terminal (the share of the reading done), nothing in a pipe or a log."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=100, unit="%", desc="Reading", leave=False) as bar:

        def advance(share: float) -> None:  # called from the reading thread
            bar.update(max(0.0, round(share * 100, 1) - bar.n))

        yield advance
