"""`finops-bot outbox`: what waits, what failed, and putting dead messages back in line."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from storage import outbox
from storage.engine import Database


async def show(database: Database, status: str | None, limit: int) -> int:
    async with database.session() as session:
        counts = await outbox.counts(session)
        rows = await outbox.listing(session, status, limit)
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in outbox.STATUSES)
    print(f"Outbox: {summary}.")
    if not rows:
        print(f"No {status} messages." if status else "The outbox is empty.")
        return 0
    for row, workspace in rows:
        when = row.sent_at or row.not_before
        print(
            f"#{row.id}  {row.status:<7}  {workspace.platform}:{workspace.external_id}  "
            f"{row.kind} -> {row.conversation}  attempts {row.attempts}  "
            f"{when:%Y-%m-%d %H:%M:%S} UTC"
            + (f"  last error: {row.last_error}" if row.last_error else "")
        )
    if status == outbox.DEAD:
        print("Put them back in line with: finops-bot outbox retry --all-dead (or retry ID ...)")
    return 0


async def retry(database: Database, ids: list[int] | None) -> int:
    async with database.session() as session:
        count = await outbox.retry_dead(session, ids, datetime.now(UTC))
    print(f"{count} dead message(s) queued again; a running bot delivers them shortly.")
    missing = len(set(ids)) - count if ids else 0
    if missing:  # a typo'd id is an error for scripts, not a silent success
        print(f"finops-bot: {missing} of the ids given are not dead messages", file=sys.stderr)
        return 1
    return 0
