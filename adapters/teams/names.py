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
import logging

from botbuilder.core import BotAdapter, TurnContext
from botframework.connector.teams import TeamsConnectorClient

from adapters.teams.name_cache import (  # noqa: F401  (re-exported)
    FALLBACK,
    GENERAL,
    LOOKUP_SECONDS,
    MAX_ENTRIES,
    TTL_SECONDS,
    NameCache,
)

log = logging.getLogger(__name__)


class MemberNames(NameCache):
    """The cache, filled from Teams through botbuilder's connector clients."""

    async def name_of(self, turn: TurnContext, tenant: str, member_id: str) -> str:
        """The person's display name: cached, else asked of Teams, else FALLBACK."""
        name = self.cached(tenant, member_id)
        if name is not None:
            return name
        try:
            client = turn.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY]
            async with asyncio.timeout(LOOKUP_SECONDS):
                member = await client.conversations.get_conversation_member(
                    roster_of(turn), member_id
                )
        except Exception as error:  # not in the roster, throttled, unreachable: no name
            log.info("Teams did not name member %s (%s)", member_id, type(error).__name__)
            return FALLBACK
        more = getattr(member, "additional_properties", None) or {}
        name = " ".join((getattr(member, "name", None) or "").split())
        if not name:  # a TeamsChannelAccount also has the parts of the name
            name = " ".join(filter(None, [more.get("givenName"), more.get("surname")]))
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
                # botbuilder's Teams client is synchronous (requests): off the event loop.
                channels = await asyncio.to_thread(_team_channels, turn, team)
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


def _team_channels(turn: TurnContext, team: str) -> list[object]:
    """The team's channels (what `TeamsInfo.get_team_channels` does, without its event loop)."""
    connector = turn.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY]
    client = TeamsConnectorClient(connector.config.credentials, turn.activity.service_url)
    return list(client.teams.get_teams_channels(team).conversations or [])


def roster_of(turn: TurnContext) -> str:
    """Whose members to ask: the team's (a channel's people are the team's), else the chat's."""
    channel_data = turn.activity.channel_data
    team = channel_data.get("team") if isinstance(channel_data, dict) else None
    if isinstance(team, dict) and team.get("id"):
        return str(team["id"])
    return (turn.activity.conversation.id or "").split(";", 1)[0]
