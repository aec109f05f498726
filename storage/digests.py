"""The digest archive: every digest as it was posted, for the dashboard."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import DigestArchive


async def archive(
    session: AsyncSession, workspace: int, week_start: date, posted_at: datetime, message: str
) -> DigestArchive:
    """Keep a posted digest (`message`: bot.message_json), in the transaction that posts it."""
    row = DigestArchive(
        workspace_id=workspace, week_start=week_start, posted_at=posted_at, message=message
    )
    session.add(row)
    await session.flush()
    return row


async def recent(
    session: AsyncSession, workspace: int, limit: int = 12
) -> list[tuple[int, date, datetime]]:
    """The newest posted digests: (id, week start, posted at), without their messages."""
    statement = (
        select(DigestArchive.id, DigestArchive.week_start, DigestArchive.posted_at)
        .where(DigestArchive.workspace_id == workspace)
        .order_by(col(DigestArchive.posted_at).desc(), col(DigestArchive.id).desc())
        .limit(limit)
    )
    return [(i, week, posted) for i, week, posted in await session.exec(statement)]  # type: ignore[misc]


async def get(session: AsyncSession, workspace: int, digest_id: int) -> DigestArchive | None:
    statement = select(DigestArchive).where(
        DigestArchive.workspace_id == workspace, DigestArchive.id == digest_id
    )
    return (await session.exec(statement)).first()
