"""CSV exports of wins and poll results, for the dashboard's download links and
`finops-bot export wins|polls --workspace <platform>:<external id>`.

Spreadsheet-safe: a cell that a spreadsheet would read as a formula (starting with `=`, `+`,
`-`, `@`, a tab or a carriage return, or their full-width forms, even after spaces) is
prefixed with `'`, so it shows as text. Anonymous polls carry counts only: vote rows hold no
name, and none is exported. Pages through the wins in short read-only transactions, so memory
stays flat however many wins there are.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision

from bot.commands import DEFAULT_TIMEZONE
from bot.parsing.tokens import plain_mentions
from bot.win_text import tag_names
from storage import polls, wins, workspaces
from storage.engine import Database

BOM = "\ufeff"  # lets spreadsheets (Excel) read the file as UTF-8
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
BATCH = 1000
WIN_HEADER = (
    "id",
    "date",
    "logged_at_utc",
    "description",
    "amount",
    "currency",
    "recurrence",
    "annualised",
    "kind",
    "categories",
    "credited",
    "author",
)
POLL_HEADER = (
    "poll_id",
    "question",
    "state",
    "anonymous",
    "multiple_choice",
    "committee",
    "created_utc",
    "closes_utc",
    "closed_utc",
    "voters",
    "option",
    "label",
    "votes",
    "chosen_by",
)


class UnknownWorkspace(LookupError):
    pass


def safe_cell(value: object) -> str:
    """The cell as text a spreadsheet shows as is, never as a formula."""
    text = "" if value is None else str(value)
    if text.lstrip(" ").startswith(FORMULA_START):
        return "'" + text
    return text


def encode(rows: Sequence[Sequence[object]]) -> str:
    """Rows as CSV text (RFC 4180: quoted as needed, CRLF line ends), every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def _major(minor: int, currency: str) -> str:
    """`3200.00`: plain digits a spreadsheet reads as a number (no thousands separators)."""
    places = get_currency_precision(currency)
    return f"{Decimal(minor).scaleb(-places):.{places}f}"


def _utc(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else ""


async def win_batches(database: Database, workspace_id: int) -> AsyncIterator[str]:
    """The wins CSV, header first, a batch of rows at a time (live wins, oldest first)."""
    async with database.reading() as session:
        config = await workspaces.settings(session, workspace_id)
    tz = ZoneInfo(config.get("timezone", DEFAULT_TIMEZONE))
    yield encode([WIN_HEADER])
    after: tuple[datetime, int] | None = None
    while True:
        async with database.reading() as session:
            batch = await wins.export_batch(session, workspace_id, after, limit=BATCH)
        if not batch:
            return
        rows = [
            (
                win.id,
                f"{win.created_at.astimezone(tz):%Y-%m-%d}",
                _utc(win.created_at),
                plain_mentions(win.text),
                _major(win.amount_minor, win.currency) if win.amount_minor else "",
                win.currency if win.amount_minor else "",
                win.recurrence,
                _major(win.annualised_minor, win.currency) if win.amount_minor else "",
                "avoidance" if win.avoidance else "saving",
                tag_names(win.tags).replace(", ", "; "),
                "; ".join(win.people),
                win.author_name,
            )
            for win in batch
        ]
        after = (batch[-1].created_at, batch[-1].id)
        yield encode(rows)


async def poll_batches(database: Database, workspace_id: int) -> AsyncIterator[str]:
    """The poll results CSV: one row per option of every poll, with its votes. Voters are
    named only for polls that are not anonymous, as they are in chat."""
    yield encode([POLL_HEADER])
    after = 0
    while True:
        async with database.reading() as session:
            batch = await polls.after(session, workspace_id, after, limit=200)
            ids = [p.id for p in batch if p.id is not None]
            options, tallies, voters = await polls.results(session, ids)
            names = await polls.names_for(
                session, [p.id for p in batch if p.id and not p.anonymous]
            )
        if not batch:
            return
        rows = []
        for p in batch:
            assert p.id is not None
            for option in options.get(p.id, []):
                chosen = [] if p.anonymous else names.get((p.id, option.position), [])
                rows.append(
                    (
                        p.id,
                        plain_mentions(p.question),
                        "closed" if p.closed_at else "open",
                        "yes" if p.anonymous else "no",
                        "yes" if p.multi else "no",
                        "yes" if p.committee else "no",
                        _utc(p.created_at),
                        _utc(p.closes_at),
                        _utc(p.closed_at),
                        voters.get(p.id, 0),
                        option.position,
                        plain_mentions(option.label),
                        tallies.get((p.id, option.position), 0),
                        "; ".join(chosen),
                    )
                )
        after = batch[-1].id or after
        yield encode(rows)


def batches(kind: str, database: Database, workspace_id: int) -> AsyncIterator[str]:
    return (
        win_batches(database, workspace_id)
        if kind == "wins"
        else poll_batches(database, workspace_id)
    )


def parse_workspace(text: str) -> tuple[str, str]:
    """`slack:T0123ABC` -> ("slack", "T0123ABC"); `console:local` for the console."""
    platform, colon, external_id = text.partition(":")
    if not colon or not platform or not external_id:
        raise ValueError(
            f"--workspace {text!r} is not <platform>:<external id>, e.g. slack:T0123ABC, "
            "teams:<tenant id> or console:local"
        )
    return platform, external_id


async def export(database: Database, kind: str, workspace: str, *, out: str | None) -> int:
    """`finops-bot export`: the CSV to `out` (with a byte-order mark, for spreadsheets) or to
    standard output (without). Exit code 0, or 2 for an unknown workspace."""
    platform, external_id = parse_workspace(workspace)
    async with database.reading() as session:
        workspace_id = await workspaces.find(session, platform, external_id)
    if workspace_id is None:
        raise UnknownWorkspace(f"no workspace {platform}:{external_id} in this database")
    if out is None:
        handle: TextIO = sys.stdout
    else:  # opened only once the workspace is known: no empty file for a typo
        try:
            handle = await asyncio.to_thread(Path(out).open, "w", encoding="utf-8", newline="")
        except OSError as error:
            raise ValueError(f"cannot write {out}: {error.strerror or error}") from error
        handle.write(BOM)
    try:
        async for chunk in batches(kind, database, workspace_id):
            handle.write(chunk)
    finally:
        if handle is sys.stdout:
            handle.flush()
        else:
            handle.close()
    return 0
