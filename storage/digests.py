"""The digest archive: every digest as it was posted, for the dashboard."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import DigestArchive
from storage.typed import select_columns


async def archive(
    session: AsyncSession,
    workspace: int,
    *,
    week_start: date,
    period: tuple[datetime, datetime],
    scheduled: bool,
    posted_at: datetime,
    message: str,
) -> DigestArchive:
    """Keep a posted digest (`message`: bot.message_json) and the [start, end) it covers, in
    the transaction that posts it."""
    row = DigestArchive(
        workspace_id=workspace,
        week_start=week_start,
        posted_at=posted_at,
        message=message,
        period_start=period[0],
        period_end=period[1],
        scheduled=scheduled,
    )
    session.add(row)
    await session.flush()
    return row


async def recent(session: AsyncSession, workspace: int, limit: int = 12) -> list[DigestArchive]:
    """The newest posted digests, one per period: a period posted more than once (by hand
    twice the same day, or a scheduled one posted again) is listed once, by its latest post.
    The rows come without their messages (`message` is left empty)."""
    statement = (
        select_columns(
            DigestArchive.id,
            DigestArchive.week_start,
            DigestArchive.posted_at,
            DigestArchive.period_start,
            DigestArchive.period_end,
            DigestArchive.scheduled,
        )
        .where(DigestArchive.workspace_id == workspace)
        .order_by(col(DigestArchive.posted_at).desc(), col(DigestArchive.id).desc())
        .limit(limit * 4)  # room for repeats, still a short read
    )
    shown: list[DigestArchive] = []
    seen: set[tuple[object, ...]] = set()
    for i, week, posted, start, end, scheduled in await session.exec(statement):
        key = (
            (start, end, True)
            if scheduled
            # by hand: one per day covered (a rolling start moves with the clock)
            else ((start.date() if start else week), (end or posted).date(), False)
        )
        if key in seen:
            continue
        seen.add(key)
        shown.append(
            DigestArchive(
                id=i,
                workspace_id=workspace,
                week_start=week,
                posted_at=posted,
                message="",
                period_start=start,
                period_end=end,
                scheduled=scheduled,
            )
        )
        if len(shown) == limit:
            break
    return shown


async def get(session: AsyncSession, workspace: int, digest_id: int) -> DigestArchive | None:
    statement = select(DigestArchive).where(
        DigestArchive.workspace_id == workspace, DigestArchive.id == digest_id
    )
    return (await session.exec(statement)).first()


async def last_scheduled_end(
    session: AsyncSession, workspace: int, before: datetime
) -> datetime | None:
    """Where the latest scheduled digest ending before `before` stopped counting: the next
    scheduled digest starts there, so consecutive ones leave no gap and never overlap."""
    statement = select(func.max(DigestArchive.period_end)).where(
        DigestArchive.workspace_id == workspace,
        col(DigestArchive.scheduled).is_(True),
        col(DigestArchive.period_end) < before,
    )
    return (await session.exec(statement)).one()


async def latest(session: AsyncSession, workspace: int) -> DigestArchive | None:
    """The digest posted last (scheduled or by hand)."""
    statement = (
        select(DigestArchive)
        .where(DigestArchive.workspace_id == workspace)
        .order_by(col(DigestArchive.posted_at).desc(), col(DigestArchive.id).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()
