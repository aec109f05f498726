"""The cache of people's and channels' names on Teams, and how it is filled, whatever the SDK:
see adapters/teams/names.py for why it exists. Each SDK's subclass says only how to ask Teams
(`_member`, `_channels`, `_name_parts`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
FALLBACK = "newcomer"
GENERAL = "General"  # the team's first channel, which Teams lists without a name
TTL_SECONDS = 6 * 3600  # people rename themselves rarely; a day-old name is still fine
MAX_ENTRIES = 10_000
LOOKUP_SECONDS = 5.0


class NameCache:
    """Display names per tenant and id (`channel:<id>` for channels), for a while, bounded."""

    def __init__(
        self,
        *,
        ttl: float = TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._names: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    def remember(self, tenant: str, member_id: str, name: str) -> None:
        if not member_id or not name or name == member_id:
            return
        key = (tenant, member_id)
        self._names[key] = (self.clock() + self.ttl, name)
        self._names.move_to_end(key)
        while len(self._names) > self.max_entries:
            self._names.popitem(last=False)

    def cached(self, tenant: str, member_id: str) -> str | None:
        found = self._names.get((tenant, member_id))
        if found is None or found[0] < self.clock():
            return None
        return found[1]


class MemberLookup(NameCache):
    """The cache, filled from Teams through the turn's connector."""

    async def _member(self, turn: Any, member_id: str) -> object:
        """The member (a TeamsChannelAccount) as Teams gives it."""
        raise NotImplementedError

    async def _channels(self, turn: Any, team: str) -> list[object]:
        """The team's channels as Teams lists them."""
        raise NotImplementedError

    def _name_parts(self, member: object) -> list[str | None]:
        """The member's given name and surname, for a member without a display name."""
        raise NotImplementedError

    async def name_of(self, turn: Any, tenant: str, member_id: str) -> str:
        """The person's display name: cached, else asked of Teams, else FALLBACK."""
        name = self.cached(tenant, member_id)
        if name is not None:
            return name
        try:
            async with asyncio.timeout(LOOKUP_SECONDS):
                member = await self._member(turn, member_id)
        except Exception as error:  # not in the roster, throttled, unreachable: no name
            log.info("Teams did not name member %s (%s)", member_id, type(error).__name__)
            return FALLBACK
        name = " ".join((getattr(member, "name", None) or "").split())
        if not name:  # a TeamsChannelAccount also has the parts of the name
            name = " ".join(filter(None, self._name_parts(member)))
        if not name:
            return FALLBACK
        self.remember(tenant, member_id, name)
        return name

    async def channel_name(self, turn: Any, tenant: str, team: str, *, channel: str) -> str:
        """A team channel's name: cached, else from the team's channel list, else ""."""
        key = "channel:" + channel
        name = self.cached(tenant, key)
        if name is not None:
            return name
        try:
            async with asyncio.timeout(LOOKUP_SECONDS):
                channels = await self._channels(turn, team)
        except Exception as error:  # not in the team any more, throttled, unreachable
            log.info("Teams did not list the channels of %s (%s)", team, type(error).__name__)
            return ""
        for found in channels:
            found_id = getattr(found, "id", None) or ""
            shown = (getattr(found, "name", None) or "").strip()
            self.remember(
                tenant, "channel:" + found_id, shown or (GENERAL if found_id == team else "")
            )
        return self.cached(tenant, key) or (GENERAL if channel == team else "")


def roster_of(turn: Any) -> str:
    """Whose members to ask: the team's (a channel's people are the team's), else the chat's."""
    channel_data = turn.activity.channel_data
    team = channel_data.get("team") if isinstance(channel_data, dict) else None
    if isinstance(team, dict) and team.get("id"):
        return str(team["id"])
    return (turn.activity.conversation.id or "").split(";", 1)[0]
