"""Channels named the platform's way: `#name`, Slack's `<#C123|name>`, or `here`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.events import Place
from bot.parsing import UsageError
from bot.parsing.tokens import CHANNEL_MENTION


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str

    def stored(self) -> str:
        return f"{self.id}|{self.name}"

    @property
    def shown(self) -> str:
        return f"#{self.name or self.id}"

    @classmethod
    def from_stored(cls, value: str) -> Channel:
        channel_id, _, name = value.partition("|")
        return cls(channel_id, name)


def parse_channel(word: str, place: Place) -> Channel:
    if word.lower() == "here":
        return Channel(place.conversation_id, place.conversation_name or place.conversation_id)
    match = CHANNEL_MENTION.fullmatch(word)
    if match:
        return Channel(match[1], match[2] or match[1])
    name = word.lstrip("#")
    if word.startswith("#") and name and len(name) <= 80 and not any(c in name for c in "<>|"):
        return Channel(name, name)
    raise UsageError(f"{word!r} is not a channel; name it like #finops-wins, or say `here`")


def configured(config: dict[str, str], key: str) -> Channel | None:
    value = config.get(key)
    return Channel.from_stored(value) if value else None
