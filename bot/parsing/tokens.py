"""Splitting command text into words, keeping quoted phrases and `<...>` mentions whole."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.parsing.errors import UsageError, quoted

# Straight and typographic double quotes (phones and macOS turn " into “ ”); apostrophes are text.
_OPEN_QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»"}
_CLOSE_QUOTES = {'"', "”", "“", "»"}

USER_MENTION = re.compile(r"<@([A-Za-z0-9._:\-]{1,100})(?:\|([^<>]{0,200}))?>")
CHANNEL_MENTION = re.compile(r"<#([A-Za-z0-9._:\-]{1,100})(?:\|([^<>]{0,200}))?>")


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    quoted: bool = False


def split_words(text: str, *, quotes: bool = True) -> list[Word]:
    """Split on whitespace. `"..."` groups words (when `quotes`), `<...>` is never split."""
    words: list[Word] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if quotes and ch in _OPEN_QUOTES:
            end = _find_close_quote(text, i + 1, _OPEN_QUOTES[ch])
            if end < 0:
                raise UsageError(f"a quote opened at {text[i : i + 20]!r} is never closed")
            words.append(Word(text[i + 1 : end].strip(), quoted=True))
            i = end + 1
            continue
        start = i
        while i < n and not text[i].isspace():
            if text[i] == "<":  # keep `<@U1|Jane Doe>` whole even with spaces inside
                close = text.find(">", i)
                i = close + 1 if close > 0 else i + 1
            else:
                i += 1
        words.append(Word(text[start:i]))
    return words


def _find_close_quote(text: str, start: int, expected: str) -> int:
    for j in range(start, len(text)):
        if text[j] == expected or text[j] in _CLOSE_QUOTES:
            return j
    return -1


def plain_mentions(text: str) -> str:
    """Show canonical mentions as `@name` / `#name`, for text we store and display."""
    text = USER_MENTION.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    return CHANNEL_MENTION.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)


def channels_as_tags(text: str) -> str:
    """Slack's channel token `<#C77|rightsizing>` as the tag `#rightsizing`, where a channel is
    named as a category (`win ... <#C77|rightsizing>`, `wins all <#C77|rightsizing>`)."""
    return CHANNEL_MENTION.sub(lambda m: "#" + "-".join((m.group(2) or m.group(1)).split()), text)


@dataclass(frozen=True, slots=True)
class UserRef:
    user_id: str
    name: str


def user_mention(word: str) -> UserRef | None:
    match = USER_MENTION.fullmatch(word)
    if not match:
        return None
    name = (match.group(2) or "").strip() or match.group(1)
    return UserRef(match.group(1), name)


def parse_id(word: str | None, what: str) -> int:
    """A positive integer id such as a poll or win number (`#12` accepted)."""
    if word is None:
        raise UsageError(f"give the {what} number")
    cleaned = word.lstrip("#")
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 12 or int(cleaned) == 0:
        raise UsageError(f"{quoted(word)} is not a {what} number")
    return int(cleaned)
