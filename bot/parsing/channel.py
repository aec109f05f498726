"""Channels named the platform's way: `#name`, Slack's `<#C123|name>`, or `here`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.events import Place
from bot.parsing.errors import UsageError
from bot.parsing.tokens import CHANNEL_MENTION


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    team: str = ""  # Teams: the channel's team, so joining the team counts as joining it

    def stored(self) -> str:
        return f"{self.id}|{self.name}" + (f"|{self.team}" if self.team else "")

    @property
    def shown(self) -> str:
        """`#finops-wins`; a conversation without a name (a Teams chat) is never shown by its
        id (`a:1…`, `19:…@thread.v2`)."""
        return f"#{self.name}" if self.name else "a chat without a name"

    def where_from(self, place: Place) -> str:
        """`in #finops-wins`, or "here" for the nameless conversation `place` is in."""
        return "here" if not self.name and place.conversation_id == self.id else f"in {self.shown}"

    @classmethod
    def from_stored(cls, value: str) -> Channel:
        channel_id, _, rest = value.partition("|")
        name, _, team = rest.partition("|")
        return cls(channel_id, name, team)

    def holds(self, place: Place) -> bool:
        """Is `place` this channel, or (Teams) its team?"""
        return place.conversation_id == self.id or bool(self.team and place.team_id == self.team)


def parse_channel(word: str, place: Place) -> Channel:
    if word.lower() == "here":
        return Channel(place.conversation_id, place.conversation_name, place.team_id or "")
    match = CHANNEL_MENTION.fullmatch(word)
    if match:
        return Channel(match[1], match[2] or match[1])
    name = word.lstrip("#")
    if word.startswith("#") and name and len(name) <= 80 and not any(c in name for c in "<>|"):
        return Channel(name, name)
    raise UsageError(f"{word!r} is not a channel; name it like #finops-wins, or say `here`")
