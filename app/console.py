"""`finops-bot console`: the database and the bot for a local session, then the console
adapter (adapters/console) talks to them. The person at the terminal is an admin."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from adapters.console.adapter import converse, local_user
from app.database import opened
from bot.core import Bot
from bot.settings import Settings
from storage.engine import Database


def run(settings: Settings, as_user: str | None, stdin: TextIO = sys.stdin) -> int:
    asyncio.run(_run(settings, as_user, stdin))
    return 0


async def _run(settings: Settings, as_user: str | None, stdin: TextIO) -> None:
    admin = local_user()
    database = Database(settings.database_url)
    bot = Bot(settings, database, extra_admins=frozenset({admin}))  # checks the key first
    async with opened(database, migrate=True):
        await converse(bot, as_user or admin, stdin)
