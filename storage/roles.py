"""Admins' changes to the committee's default responsibility matrix."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import RoleAssignment
from storage.upsert import insert_or_update


async def assign(
    session: AsyncSession,
    workspace: int,
    persona: str,
    *,
    activity: str,
    role: str,
    by: str,
    now: datetime,
) -> None:
    await insert_or_update(
        session,
        RoleAssignment,
        ("workspace_id", "persona", "activity"),
        workspace_id=workspace,
        persona=persona,
        activity=activity,
        role=role,
        updated_by=by,
        updated_at=now,
    )


async def overrides(session: AsyncSession, workspace: int) -> dict[tuple[str, str], str]:
    statement = select(RoleAssignment).where(RoleAssignment.workspace_id == workspace)
    return {(r.persona, r.activity): r.role for r in (await session.exec(statement)).all()}
