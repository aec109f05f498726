"""Workspaces and their `config` settings."""

from __future__ import annotations

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Setting, Workspace
from storage.upsert import insert_ignore, insert_or_update


async def workspace_id(session: AsyncSession, platform: str, external_id: str) -> int:
    """The workspace's row id, created on first sight (race-free across replicas)."""
    found = await _find(session, platform, external_id)
    if found is not None:
        return found
    await insert_ignore(session, Workspace, platform=platform, external_id=external_id)
    found = await _find(session, platform, external_id)
    assert found is not None
    return found


async def find(session: AsyncSession, platform: str, external_id: str) -> int | None:
    """The workspace's row id, or None: for readers (the dashboard), which create nothing."""
    return await _find(session, platform, external_id)


async def _find(session: AsyncSession, platform: str, external_id: str) -> int | None:
    statement = select(Workspace.id).where(
        Workspace.platform == platform, Workspace.external_id == external_id
    )
    return (await session.exec(statement)).first()


async def settings(session: AsyncSession, workspace: int) -> dict[str, str]:
    rows = await session.exec(select(Setting).where(Setting.workspace_id == workspace))
    return {row.key: row.value for row in rows}


async def set_setting(session: AsyncSession, workspace: int, key: str, *, value: str) -> None:
    await insert_or_update(
        session, Setting, ("workspace_id", "key"), workspace_id=workspace, key=key, value=value
    )


async def unset_setting(session: AsyncSession, workspace: int, key: str) -> None:
    await session.exec(
        delete(Setting).where(col(Setting.workspace_id) == workspace, col(Setting.key) == key)
    )
