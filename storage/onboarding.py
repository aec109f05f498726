"""Who has been welcomed: one welcome per person per workspace, ever."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Welcome
from storage.upsert import insert_ignore


async def claim_welcome(
    session: AsyncSession, workspace: int, user_id: str, name: str, now: datetime
) -> bool:
    """True the first time only: a retried or duplicated join does not welcome twice."""
    return await insert_ignore(
        session, Welcome, workspace_id=workspace, user_id=user_id, user_name=name, welcomed_at=now
    )


async def welcomed_between(
    session: AsyncSession, workspace: int, start: datetime, end: datetime
) -> list[str]:
    statement = (
        select(Welcome.user_name)
        .where(
            Welcome.workspace_id == workspace,
            Welcome.welcomed_at >= start,
            Welcome.welcomed_at < end,
        )
        .order_by(Welcome.welcomed_at)
        .limit(50)
    )
    return list((await session.exec(statement)).all())


async def welcomed_count(
    session: AsyncSession, workspace: int, start: datetime, end: datetime
) -> int:
    statement = select(func.count()).where(
        Welcome.workspace_id == workspace, Welcome.welcomed_at >= start, Welcome.welcomed_at < end
    )
    return (await session.exec(statement)).one()
