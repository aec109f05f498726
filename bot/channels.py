"""The channels a workspace's configuration names (`digest-channel`, `wins-channel`, ...)."""

from __future__ import annotations

from bot.parsing.channel import Channel


def configured(config: dict[str, str], key: str) -> Channel | None:
    value = config.get(key)
    return Channel.from_stored(value) if value else None
