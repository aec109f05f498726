"""Dashboard screen links (`dashboard screen`): long-lived links for a shared display, each a
row that says whether it still opens the page (revoked or not) and when it last did."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import DashboardScreen

# `last_used_at` is written at most this often per screen (a wall reloads every few minutes).
USE_GRANULARITY = timedelta(minutes=5)


async def create(
    session: AsyncSession, workspace: int, user_id: str, *, user_name: str, now: datetime
) -> DashboardScreen:
    row = DashboardScreen(
        workspace_id=workspace, created_at=now, created_by=user_id, created_by_name=user_name
    )
    session.add(row)
    await session.flush()
    return row


async def listed(session: AsyncSession, workspace: int) -> list[DashboardScreen]:
    """The workspace's screen links still valid, oldest first."""
    statement = (
        select(DashboardScreen)
        .where(DashboardScreen.workspace_id == workspace, col(DashboardScreen.revoked_at).is_(None))
        .order_by(col(DashboardScreen.id))
    )
    return list(await session.exec(statement))


async def get(session: AsyncSession, workspace: int, screen_id: int) -> DashboardScreen | None:
    statement = select(DashboardScreen).where(
        DashboardScreen.workspace_id == workspace, DashboardScreen.id == screen_id
    )
    return (await session.exec(statement)).first()


async def revoke(
    session: AsyncSession, workspace: int, screen_id: int, *, user_id: str, now: datetime
) -> DashboardScreen | None:
    """Revoke a screen link of the workspace; None when it has none by that id."""
    row = await get(session, workspace, screen_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = now, user_id
        session.add(row)
        await session.flush()
    return row


async def touch(session: AsyncSession, screen_id: int, now: datetime) -> None:
    """Note that the screen link was used, unless that was noted in the last few minutes."""
    await session.exec(
        update(DashboardScreen)
        .where(
            col(DashboardScreen.id) == screen_id,
            or_(
                col(DashboardScreen.last_used_at).is_(None),
                col(DashboardScreen.last_used_at) < now - USE_GRANULARITY,
            ),
        )
        .values(last_used_at=now)
    )
