"""Work started after an ack: tracked so shutdown can drain it and tests can await it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskTracker:
    """Tracks background tasks. `spawn_work` also caps how many run at once: a burst of
    thousands of clicks then waits in line (cheaply) instead of crowding the event loop that
    must keep acking, or exhausting the database connection pool.

    Two lines: what a person is waiting for (commands, clicks) and what nobody is watching
    (events such as thousands of `team_join`s after an import), so a burst of events never
    queues ahead of someone's command."""

    def __init__(self, concurrency: int = 8, background_concurrency: int = 4) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._background_slots = asyncio.Semaphore(background_concurrency)

    def spawn_work(
        self, work: Coroutine[Any, Any, Any], name: str = "", *, background: bool = False
    ) -> asyncio.Task[Any]:
        """Handle an acked event: at most `concurrency` at a time per line, the rest queued
        in order."""
        slots = self._background_slots if background else self._slots
        return self.spawn(self._in_slot(work, slots), name)

    async def _in_slot(self, work: Coroutine[Any, Any, Any], slots: asyncio.Semaphore) -> Any:
        async with slots:
            return await work

    def spawn(self, work: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, grace: float | None = None) -> None:
        """Wait for every task, including tasks started by tasks, to finish."""
        async with asyncio.timeout(grace):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
