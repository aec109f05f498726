"""Who has been welcomed: one welcome per person per workspace, ever."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Welcome, Workspace
from storage.upsert import insert_ignore

NAMED = 50  # newcomers named in a digest; the rest are counted


async def claim_welcome(
    session: AsyncSession, workspace: int, user_id: str, *, name: str, now: datetime
) -> bool:
    """True the first time only: a retried or duplicated join does not welcome twice."""
    return await insert_ignore(
        session, Welcome, workspace_id=workspace, user_id=user_id, user_name=name, welcomed_at=now
    )


async def welcomed_between(
    session: AsyncSession, workspace: int, *, start: datetime, end: datetime
) -> list[str]:
    statement = (
        select(Welcome.user_name)
        .where(
            Welcome.workspace_id == workspace,
            Welcome.welcomed_at >= start,
            Welcome.welcomed_at < end,
        )
        .order_by(col(Welcome.welcomed_at))
        .limit(NAMED)
    )
    return list((await session.exec(statement)).all())


async def welcomed_count(
    session: AsyncSession, workspace: int, *, start: datetime, end: datetime
) -> int:
    statement = select(func.count()).where(
        Welcome.workspace_id == workspace, Welcome.welcomed_at >= start, Welcome.welcomed_at < end
    )
    return (await session.exec(statement)).one()


async def welcomed_in_window(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[Welcome, Workspace]]:
    """People welcomed in [start, end), in every workspace (for the follow-ups)."""
    statement = (
        select(Welcome, Workspace)
        .join(Workspace, col(Workspace.id) == Welcome.workspace_id)
        .where(Welcome.welcomed_at >= start, Welcome.welcomed_at < end)
        .order_by(col(Welcome.welcomed_at))
        .limit(500)
    )
    return list((await session.exec(statement)).all())
