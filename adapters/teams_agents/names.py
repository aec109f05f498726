"""People's and channels' names (adapters/teams/names.py) asked of Teams through the Agents
SDK's connector: the turn's `TeamsConnectorClient` has `get_conversation_member` (a
TeamsChannelAccount) and `fetch_channel_list` (`GET v3/teams/{team}/conversations`), both async,
so nothing runs in a thread here. The cache, the fallback and the General channel's name are
shared with the botbuilder adapter (adapters/teams/name_cache.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from adapters.teams.name_cache import FALLBACK, GENERAL, LOOKUP_SECONDS, NameCache

log = logging.getLogger(__name__)


class AgentsMemberNames(NameCache):
    async def name_of(self, turn: TurnContext, tenant: str, member_id: str) -> str:
        """The person's display name: cached, else asked of Teams, else FALLBACK."""
        name = self.cached(tenant, member_id)
        if name is not None:
            return name
        try:
            async with asyncio.timeout(LOOKUP_SECONDS):
                member = await _client(turn).get_conversation_member(roster_of(turn), member_id)
        except Exception as error:  # not in the roster, throttled, unreachable: no name
            log.info("Teams did not name member %s (%s)", member_id, type(error).__name__)
            return FALLBACK
        name = " ".join((getattr(member, "name", None) or "").split())
        if not name:  # a TeamsChannelAccount also has the parts of the name
            parts = [getattr(member, "given_name", None), getattr(member, "surname", None)]
            name = " ".join(filter(None, parts))
        if not name:
            return FALLBACK
        self.remember(tenant, member_id, name)
        return name

    async def channel_name(self, turn: TurnContext, tenant: str, team: str, *, channel: str) -> str:
        """A team channel's name: cached, else from the team's channel list, else ""."""
        key = "channel:" + channel
        name = self.cached(tenant, key)
        if name is not None:
            return name
        try:
            async with asyncio.timeout(LOOKUP_SECONDS):
                channels = await _client(turn).fetch_channel_list(team)
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


def _client(turn: TurnContext) -> Any:
    """The turn's connector (a TeamsConnectorClient, from RestChannelServiceClientFactory)."""
    client = turn.services.get(ConnectorClientBase)  # type: ignore[type-abstract]  # the SDK keys its services by this abstract class
    if client is None:
        raise LookupError("this turn has no connector client")
    return client


def roster_of(turn: TurnContext) -> str:
    """Whose members to ask: the team's (a channel's people are the team's), else the chat's."""
    channel_data = turn.activity.channel_data
    team = channel_data.get("team") if isinstance(channel_data, dict) else None
    if isinstance(team, dict) and team.get("id"):
        return str(team["id"])
    return (turn.activity.conversation.id or "").split(";", 1)[0]
