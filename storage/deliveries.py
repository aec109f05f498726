"""What platforms sent us (de-duplication) and what we posted that may change later."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundEvent, PostedMessage
from storage.upsert import insert_ignore, insert_or_update


async def claim_event(
    session: AsyncSession, platform: str, event_id: str, *, now: datetime
) -> bool:
    """True for the first delivery of `event_id`. Inside the work's transaction, a retry that
    races the first delivery waits for it and then sees the row (PostgreSQL unique index,
    SQLite's write lock); if the work fails, the claim rolls back with it and a retry may run."""
    return await insert_ignore(
        session, InboundEvent, platform=platform, event_id=event_id[:100], received_at=now
    )


async def prune_events(session: AsyncSession, before: datetime) -> int:
    """Forget de-duplication keys received before `before`: platforms retry (and signed
    requests can be replayed) for minutes, not days. The once-ever keys (`intro:…`, from
    `Bot.first_time`) stay."""
    statement = delete(InboundEvent).where(
        col(InboundEvent.received_at) < before, col(InboundEvent.event_id).not_like("intro:%")
    )
    result = await session.exec(statement)
    return result.rowcount


async def remember_post(
    session: AsyncSession,
    workspace: int,
    subject: str,
    *,
    conversation_id: str,
    message_id: str,
    now: datetime,
) -> None:
    await insert_or_update(
        session,
        PostedMessage,
        ("workspace_id", "subject"),
        workspace_id=workspace,
        subject=subject,
        conversation_id=conversation_id,
        message_id=message_id,
        posted_at=now,
    )


async def find_post(session: AsyncSession, workspace: int, subject: str) -> PostedMessage | None:
    statement = select(PostedMessage).where(
        PostedMessage.workspace_id == workspace, PostedMessage.subject == subject
    )
    return (await session.exec(statement)).first()
