"""The `learn` link grammar: one http(s) URL word."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.parsing.errors import UsageError

MAX_URL = 500


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "…"


def parse_url(word: str) -> str:
    """An http(s) link with a host. Chat apps may wrap links as `<url>` or `<url|label>`."""
    url = word.strip().removeprefix("<").removesuffix(">").split("|", 1)[0]
    if len(url) > MAX_URL:
        raise UsageError(f"the link is {len(url):,} characters long; the limit is {MAX_URL}")
    try:
        parts = urlsplit(url)
        web = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        web = False
    if not web:
        raise UsageError(
            f"{_shown(url)!r} is not a web link; it must start with http:// or https://"
        )
    if any(ch.isspace() or ord(ch) < 32 or ch in '<>"' for ch in url):
        raise UsageError(f"{_shown(url)!r} contains characters a link cannot have")
    return url
