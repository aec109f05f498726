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
    must keep acking, or exhausting the database connection pool."""

    def __init__(self, concurrency: int = 8) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(concurrency)

    def spawn_work(self, work: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        """Handle an acked event: at most `concurrency` at a time, the rest queued in order."""
        return self.spawn(self._in_slot(work), name)

    async def _in_slot(self, work: Coroutine[Any, Any, Any]) -> Any:
        async with self._slots:
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
