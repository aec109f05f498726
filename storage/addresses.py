"""Where the bot can write later (conversation references) and who it must not write to."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import BlockedRecipient, ConversationAddress
from storage.upsert import insert_ignore, insert_or_update


async def save(
    session: AsyncSession,
    workspace: int,
    key: str,
    *,
    reference: str,
    service_url: str,
    now: datetime,
) -> None:
    await insert_or_update(
        session,
        ConversationAddress,
        ("workspace_id", "key"),
        workspace_id=workspace,
        key=key[:300],
        reference=reference,
        service_url=service_url[:500],
        updated_at=now,
    )


async def service_urls(session: AsyncSession, workspace: int, keys: list[str]) -> dict[str, str]:
    """The stored service URL of each of `keys` that is stored."""
    statement = select(ConversationAddress.key, ConversationAddress.service_url).where(
        ConversationAddress.workspace_id == workspace,
        col(ConversationAddress.key).in_([key[:300] for key in keys]),
    )
    return dict((await session.exec(statement)).all())


async def references(session: AsyncSession, workspace: int, keys: list[str]) -> dict[str, str]:
    """The stored reference (JSON) of each of `keys` that is stored."""
    statement = select(ConversationAddress.key, ConversationAddress.reference).where(
        ConversationAddress.workspace_id == workspace,
        col(ConversationAddress.key).in_([key[:300] for key in keys]),
    )
    return dict((await session.exec(statement)).all())


async def block(
    session: AsyncSession, workspace: int, user_id: str, *, reason: str, now: datetime
) -> None:
    await insert_ignore(
        session,
        BlockedRecipient,
        workspace_id=workspace,
        user_id=user_id[:200],
        reason=reason[:200],
        blocked_at=now,
    )


async def is_blocked(session: AsyncSession, workspace: int, user_id: str) -> bool:
    statement = select(BlockedRecipient.user_id).where(
        BlockedRecipient.workspace_id == workspace, BlockedRecipient.user_id == user_id
    )
    return (await session.exec(statement)).first() is not None
