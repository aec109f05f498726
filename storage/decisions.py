"""The committee's decision log (append-only)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Decision


async def record(session: AsyncSession, decision: Decision) -> Decision:
    """Add a decision; if it supersedes one, mark that one (its text never changes)."""
    session.add(decision)
    await session.flush()
    if decision.supersedes is not None:
        old = await get(session, decision.workspace_id, decision.supersedes, lock=True)
        if old is not None:
            old.superseded_by = decision.id
            session.add(old)
    return decision


async def get(
    session: AsyncSession, workspace: int, decision_id: int, *, lock: bool = False
) -> Decision | None:
    statement = select(Decision).where(
        Decision.workspace_id == workspace, Decision.id == decision_id
    )
    if lock:
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


async def between(
    session: AsyncSession, workspace: int, *, start: datetime | None, end: datetime | None = None
) -> list[Decision]:
    """Decisions recorded in [start, end), oldest first."""
    statement = select(Decision).where(Decision.workspace_id == workspace)
    if start is not None:
        statement = statement.where(col(Decision.decided_at) >= start)
    if end is not None:
        statement = statement.where(col(Decision.decided_at) < end)
    return list((await session.exec(statement.order_by(col(Decision.id)))).all())


async def from_poll(session: AsyncSession, workspace: int, poll_id: int) -> Decision | None:
    statement = select(Decision).where(
        Decision.workspace_id == workspace,
        Decision.poll_id == poll_id,
        col(Decision.superseded_by).is_(None),
    )
    return (await session.exec(statement)).first()


async def latest(session: AsyncSession, workspace: int, limit: int = 10) -> list[Decision]:
    """The newest decisions first."""
    statement = (
        select(Decision)
        .where(Decision.workspace_id == workspace)
        .order_by(col(Decision.decided_at).desc(), col(Decision.id).desc())
        .limit(limit)
    )
    return list((await session.exec(statement)).all())
