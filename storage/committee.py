"""The steering committee: members and their personas."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import CommitteeMember
from storage.upsert import insert_or_update


async def members(session: AsyncSession, workspace: int) -> list[CommitteeMember]:
    statement = (
        select(CommitteeMember)
        .where(CommitteeMember.workspace_id == workspace)
        .order_by(col(CommitteeMember.persona), col(CommitteeMember.user_name))
    )
    return list((await session.exec(statement)).all())


async def seat(
    session: AsyncSession, workspace: int, user_id: str, *, name: str, persona: str
) -> None:
    await insert_or_update(
        session,
        CommitteeMember,
        ("workspace_id", "user_id"),
        workspace_id=workspace,
        user_id=user_id,
        user_name=name,
        persona=persona,
    )


async def unseat(session: AsyncSession, workspace: int, user_id: str) -> bool:
    result = await session.exec(
        delete(CommitteeMember).where(
            col(CommitteeMember.workspace_id) == workspace, col(CommitteeMember.user_id) == user_id
        )
    )
    return result.rowcount > 0
