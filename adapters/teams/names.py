"""People's and channels' names on Teams, for activities that carry only ids.

`membersAdded` never has names, so a newcomer would be welcomed (and listed in the digest) as
`29:1abc…`. The name is asked of Teams (`GET v3/conversations/{team or chat}/members/{id}`,
what botbuilder's `TeamsInfo.get_member` calls, through the turn's own connector client) and
cached per tenant and person; every activity that does carry a name (`from` on a message, the
people mentioned) fills the cache too. When Teams does not answer, the person is called
`FALLBACK`, never by their id.

Channel messages carry the channel's id only (its name comes in channel events alone), so
"Celebrated in #19:ae1f…" would name it by id: the team's channel list (`GET
v3/teams/{team}/conversations`, `TeamsInfo.get_team_channels`) names them all at once, and is
cached the same way. The General channel has no name in that list (its id is the team's): it is
"General", as Teams shows it.
"""

from __future__ import annotations

import asyncio

from botbuilder.core import BotAdapter, TurnContext
from botframework.connector.teams import TeamsConnectorClient

from adapters.teams.name_cache import (  # noqa: F401  (re-exported)
    FALLBACK,
    GENERAL,
    LOOKUP_SECONDS,
    MAX_ENTRIES,
    TTL_SECONDS,
    MemberLookup,
    NameCache,
    roster_of,
)


class MemberNames(MemberLookup):
    """The cache, filled from Teams through botbuilder's connector clients."""

    async def _member(self, turn: TurnContext, member_id: str) -> object:
        client = turn.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY]
        return await client.conversations.get_conversation_member(roster_of(turn), member_id)

    async def _channels(self, turn: TurnContext, team: str) -> list[object]:
        # botbuilder's Teams client is synchronous (requests): off the event loop.
        return await asyncio.to_thread(_team_channels, turn, team)

    def _name_parts(self, member: object) -> list[str | None]:
        more = getattr(member, "additional_properties", None) or {}
        return [more.get("givenName"), more.get("surname")]


def _team_channels(turn: TurnContext, team: str) -> list[object]:
    """The team's channels (what `TeamsInfo.get_team_channels` does, without its event loop)."""
    connector = turn.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY]
    client = TeamsConnectorClient(connector.config.credentials, turn.activity.service_url)
    return list(client.teams.get_teams_channels(team).conversations or [])
