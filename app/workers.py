"""`serve` with FINOPS_WORKERS=N: N `finops-bot work` processes do the work the serving process
stores and acknowledges (bot/intake.py), so the acks never wait for the work's CPU. Each is
restarted if it exits; each exits at once if the serving process dies (it watches its
parent), so a killed `serve` leaves no worker behind."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)
RESTART_SECONDS = 1.0  # a worker that exited is started again after this
STOP_SECONDS = 25.0  # a worker finishes its work within this on SIGTERM (it drains for 20 s)
PARENT = "FINOPS_WORKER_PARENT"  # the serving process's pid, for the worker to watch


class WorkerProcesses:
    def __init__(self, count: int) -> None:
        self.count = count
        self._processes: list[asyncio.subprocess.Process | None] = [None] * count
        self._supervisors: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        self._supervisors = [
            asyncio.create_task(self._supervise(n), name=f"worker-{n}") for n in range(self.count)
        ]

    async def _supervise(self, n: int) -> None:
        while not self._stopping:
            env = {**os.environ, PARENT: str(os.getpid())}
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app.cli", "work", env=env
            )
            self._processes[n] = process
            log.info("started worker process %d (pid %d)", n, process.pid)
            code = await process.wait()
            if not self._stopping:
                log.error("worker process %d exited with %s; starting it again", n, code)
                await asyncio.sleep(RESTART_SECONDS)

    async def stop(self) -> None:
        """SIGTERM each worker (it finishes what it claimed), then wait; kill what is left."""
        self._stopping = True
        running = [p for p in self._processes if p is not None and p.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_SECONDS):
                await asyncio.gather(*(p.wait() for p in running))
        except TimeoutError:
            for process in running:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        for task in self._supervisors:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def watch_parent() -> None:
    """In a worker started by `serve`: once the serving process is gone (killed), exit at
    once, as it did: what this worker had claimed is taken over by the next one when its
    lease runs out, exactly as after any crash."""
    parent = os.environ.get(PARENT)
    if not parent:
        return
    while os.getppid() == int(parent):  # noqa: ASYNC110 (polling the parent is portable)
        await asyncio.sleep(1.0)
    log.error("the serving process is gone; this worker exits with it")
    logging.shutdown()
    os._exit(1)
