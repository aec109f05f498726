"""People's and channels' names (adapters/teams/names.py) asked of Teams through the Agents
SDK's connector: the turn's `TeamsConnectorClient` has `get_conversation_member` (a
TeamsChannelAccount) and `fetch_channel_list` (`GET v3/teams/{team}/conversations`), both async,
so nothing runs in a thread here. The cache, the fallback and the General channel's name are
shared with the botbuilder adapter (adapters/teams/name_cache.py)."""

from __future__ import annotations

from typing import Any

from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from adapters.teams.name_cache import MemberLookup, roster_of


class AgentsMemberNames(MemberLookup):
    """The cache, filled from Teams through the Agents SDK's connector."""

    async def _member(self, turn: TurnContext, member_id: str) -> object:
        return await _client(turn).get_conversation_member(roster_of(turn), member_id)

    async def _channels(self, turn: TurnContext, team: str) -> list[object]:
        return list(await _client(turn).fetch_channel_list(team))

    def _name_parts(self, member: object) -> list[str | None]:
        return [getattr(member, "given_name", None), getattr(member, "surname", None)]


def _client(turn: TurnContext) -> Any:
    """The turn's connector (a TeamsConnectorClient, from RestChannelServiceClientFactory)."""
    client = turn.services.get(ConnectorClientBase)  # type: ignore[type-abstract]  # the SDK keys its services by this abstract class
    if client is None:
        raise LookupError("this turn has no connector client")
    return client
