"""Learning links admins add per topic (a capability slug or a free topic slug)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import LearnLink
from storage.upsert import insert_ignore


async def add_link(
    session: AsyncSession,
    workspace: int,
    topic: str,
    *,
    url: str,
    title: str,
    added_by: str,
    now: datetime,
) -> bool:
    """True when added; False when the workspace already has this url under this topic."""
    # ON CONFLICT DO NOTHING: a duplicate (even from a racing replica) is an answer, not an error.
    return await insert_ignore(
        session,
        LearnLink,
        workspace_id=workspace,
        topic=topic,
        url=url,
        title=title,
        added_by=added_by,
        created_at=now,
    )


async def remove_link(session: AsyncSession, workspace: int, topic: str, *, url: str) -> str | None:
    """Delete one link; returns its title, or None when there was no such link."""
    # Select then delete (not DELETE ... RETURNING): older SQLite builds lack RETURNING.
    statement = select(LearnLink).where(
        LearnLink.workspace_id == workspace, LearnLink.topic == topic, LearnLink.url == url
    )
    link = (await session.exec(statement)).first()
    if link is None:
        return None
    await session.delete(link)
    return link.title


async def links_for(
    session: AsyncSession, workspace: int, topic: str, *, limit: int = 20
) -> list[LearnLink]:
    statement = (
        select(LearnLink)
        .where(LearnLink.workspace_id == workspace, LearnLink.topic == topic)
        .order_by(col(LearnLink.created_at), col(LearnLink.id))
        .limit(limit)
    )
    return list((await session.exec(statement)).all())


async def topic_counts(session: AsyncSession, workspace: int) -> dict[str, int]:
    """Links per topic (capability slugs and free topics alike), counted in SQL."""
    statement = (
        select(LearnLink.topic, func.count())
        .where(LearnLink.workspace_id == workspace)
        .group_by(LearnLink.topic)
    )
    return {topic: n for topic, n in await session.exec(statement)}
