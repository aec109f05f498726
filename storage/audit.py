"""The audit trail: who undid, closed, configured or removed what."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditEntry


async def record(
    session: AsyncSession,
    workspace: int,
    actor_id: str,
    *,
    action: str,
    subject: str,
    detail: str = "",
) -> None:
    session.add(
        AuditEntry(
            workspace_id=workspace,
            actor_id=actor_id,
            action=action,
            subject=subject,
            detail=detail[:2000],
        )
    )
