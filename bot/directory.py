"""Where the bot can write later, and to whom it must not: stored conversation addresses.

Platforms that cannot message someone by user id alone (Teams needs a conversation reference
and the tenant's service URL) keep their addresses here, in the database, so any replica can
reach anyone. Reads take no write lock (`Database.reading`): a private reply costs one lookup
(`reach`), not one transaction per question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.events import Actor
from storage import addresses, deliveries, workspaces
from storage.engine import Database
from storage.models import utcnow

TENANT = "tenant"  # the key of the workspace's own entry (its service URL)


def user_key(user_id: str) -> str:
    """The key of someone's 1:1 chat."""
    return f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class Reach:
    """What the bot knows about writing to one person, from one read."""

    blocked: bool  # they removed the bot: do not write
    chat: str | None  # their 1:1 chat's stored reference (JSON), if the bot has one
    tenant: str | None  # the workspace's entry (JSON), to open a 1:1 chat when there is none


class Directory:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    async def save(
        self,
        actor: Actor,
        entries: dict[str, tuple[str, str]],
        *,
        refresh: frozenset[str] | None = None,
    ) -> None:
        """Store `key -> (reference JSON, service URL)` entries in one transaction. With
        `refresh`, only those keys are always rewritten; the others are written when they are
        new or their service URL changed (a 1:1 chat's address does not change, and rewriting
        it at every message would record when each person wrote, e.g. just before a vote)."""
        async with self.database.session() as session:
            workspace = await workspaces.workspace_id(session, actor.platform, actor.workspace_id)
            known = (
                {}
                if refresh is None
                else await addresses.service_urls(session, workspace, list(entries))
            )
            for key, (reference, service_url) in entries.items():
                unchanged = known.get(key[:300]) == service_url[:500]
                if refresh is not None and key not in refresh and unchanged:
                    continue
                await addresses.save(
                    session,
                    workspace,
                    key,
                    reference=reference,
                    service_url=service_url,
                    now=self.clock(),
                )

    async def reach(self, actor: Actor, user_id: str) -> Reach:
        """Whether `user_id` blocked the bot, their 1:1 chat and the tenant's entry, at once."""
        async with self.database.reading() as session:
            workspace = await workspaces.find(session, actor.platform, actor.workspace_id)
            if workspace is None:
                return Reach(blocked=False, chat=None, tenant=None)
            stored = await addresses.references(session, workspace, [user_key(user_id), TENANT])
            return Reach(
                blocked=await addresses.is_blocked(session, workspace, user_id),
                chat=stored.get(user_key(user_id)),
                tenant=stored.get(TENANT),
            )

    async def address(self, actor: Actor, key: str) -> str | None:
        """The stored reference (JSON) for a conversation id, `user:<id>` or `tenant`."""
        async with self.database.reading() as session:
            workspace = await workspaces.find(session, actor.platform, actor.workspace_id)
            if workspace is None:
                return None
            return (await addresses.references(session, workspace, [key])).get(key)

    async def block(self, actor: Actor, user_id: str, reason: str) -> None:
        async with self.database.session() as session:
            workspace = await workspaces.workspace_id(session, actor.platform, actor.workspace_id)
            await addresses.block(session, workspace, user_id, reason=reason, now=self.clock())

    async def first_time(self, actor: Actor, key: str) -> bool:
        """True once per `key` ever (e.g. `intro:<team>`), across replicas and restarts."""
        async with self.database.session() as session:
            return await deliveries.claim_event(session, actor.platform, key, now=self.clock())
