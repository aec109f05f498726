"""Pacing in-place updates: at most one edit per posted message per interval, always current.

A burst of votes marks a poll dirty; one flush per interval re-reads the poll from the database
(so the final tally is exact, whichever replica recorded each vote) and hands it to the
platform's `edit` function. Platform-neutral: Slack and Teams adapters give their own `edit`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.core import Bot
from bot.events import Actor
from bot.message import Message
from bot.tasks import TaskTracker

log = logging.getLogger(__name__)
# edit(actor, conversation id, message id, message)
Edit = Callable[[Actor, str, str, Message], Awaitable[None]]
Key = tuple[str, str, str]


class UpdateCoalescer:
    def __init__(self, bot: Bot, tasks: TaskTracker, edit: Edit, interval: float = 1.0) -> None:
        self.bot = bot
        self.tasks = tasks
        self.edit = edit
        self.interval = interval
        self._pending: set[Key] = set()
        self._last: dict[Key, float] = {}  # when the last edit was sent
        self._locks: dict[Key, asyncio.Lock] = {}

    def request(self, actor: Actor, subject: str) -> None:
        key = (actor.platform, actor.workspace_id, subject)
        if key in self._pending:
            return  # the flush already scheduled will read the newest state
        self._pending.add(key)
        self.tasks.spawn(self._flush(key, actor), name=f"update-{subject}")

    async def _flush(self, key: Key, actor: Actor) -> None:
        # One flush at a time per message, so edits never overlap or arrive out of order.
        async with self._locks.setdefault(key, asyncio.Lock()):
            wait = self._last.get(key, 0.0) + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._pending.discard(key)  # before reading: a later vote schedules another flush
            subject = key[2]
            where = await self.bot.find_post(actor, subject)
            message = await self.bot.view(actor, subject)
            if where is None or message is None:
                return
            self._last[key] = time.monotonic()  # the pace counts from the edit itself
            try:
                await self.edit(actor, where[0], where[1], message)
            except Exception:
                log.exception("could not update %s in place", subject)
