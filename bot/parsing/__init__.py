"""The one command grammar: words, quotes, mentions, money, recurrence, periods and dates."""

from bot.parsing.errors import UsageError

__all__ = ["UsageError"]
