"""Durable intake: every platform request is in the database before it is acknowledged.

The path of a request:
1. The adapter verifies it and calls `Intake.store`: the request joins the next inbox write.
   One writer task stores everything that arrived while the previous write ran in one INSERT
   (group commit), so a burst costs a few commits rather than one each. The inbox has its own
   connections (`Database.inbox_engine`: on SQLite a file of its own), so the ack never waits
   behind the work it stores.
2. Stored, it is acknowledged and worked on at once in this process (`Intake.work`); when
   the work is done its row is deleted, in batches and in a transaction of its own (never the
   work's: an anonymous vote must not share a transaction with its request's row). A command's
   answer is recorded in the work's transaction (`InboxAnswer`), so a replay after the work
   committed but before it answered still answers (kept an hour, then pruned in bulk).
3. If this process dies first, the row's lease runs out and any replica's `Intake` claims it
   and hands it to the platform's replay function, which works it like a fresh arrival. The
   bot's de-duplication of delivery ids (bot/core.py) makes a replay of finished work a no-op.

A request with the same delivery id as one still in the inbox (a platform retry, a replayed
signed request) is recognised and not stored or worked again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.tasks import TaskTracker
from storage import inbox
from storage.engine import Database
from storage.inbox import Arrival
from storage.models import InboxItem, utcnow
from storage.secret import event_key, seal, unseal

log = logging.getLogger(__name__)
WRITE_SECONDS = 10.0  # an inbox transaction that takes longer is given up (the database hangs)
ANSWERS_KEPT = timedelta(hours=1)  # or the attempts' leases, if longer
ANSWERS_PRUNED_EVERY = timedelta(minutes=1)
CLAIMED_AT_MOST = 32  # requests one process claims and holds at a time
BATCH = 500  # requests per inbox transaction at most (one INSERT; SQLite's variable limit)
SETTLE_SECONDS = 0.2  # finished rows are deleted together, this often at most
# Works off a stored request again: (row id, what the platform sent). Spawns the work.
Replay = Callable[[int, str], Coroutine[Any, Any, None]]  # an async def: spawned as a task


class NotStored(Exception):
    """The database did not take the request (unreachable, too slow): nothing was stored."""


@dataclass
class _Pending:
    arrival: Arrival  # its payload sealed
    payload: str  # as the platform sent it
    keep_if_late: bool
    stored: asyncio.Future[int | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Intake:
    def __init__(
        self,
        database: Database,
        key: bytes,
        tasks: TaskTracker,
        *,
        lease: timedelta,
        max_attempts: int,
        clock: Callable[[], datetime] = utcnow,
        works_here: bool = True,
        poll_seconds: float | None = None,
    ) -> None:
        self.database = database
        self.key = key
        self.tasks = tasks
        self.lease = lease
        self.max_attempts = max_attempts
        self.clock = clock
        # False (`serve` with FINOPS_WORKERS): requests are stored for worker processes,
        # which poll for them every `poll_seconds` (a worker: 0.05 s).
        self.works_here = works_here
        self.poll_seconds = poll_seconds or min(5.0, lease.total_seconds() / 2)
        self.replays: dict[str, Replay] = {}  # platform -> how to work one of its requests
        self._pending: list[_Pending] = []
        self._arrived = asyncio.Event()
        self._working: set[int] = set()  # row ids this process is working on
        self._keys: dict[int, str] = {}  # row id -> its key, while worked on or finished
        self._finished: list[int] = []
        self._background: list[asyncio.Task[None]] = []
        self._writer: inbox.InboxWriter | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await inbox.prepare(self.database)
        self._writer = inbox.writer(self.database)
        self._background = [
            asyncio.create_task(self._write_forever(), name="inbox-writer"),
            asyncio.create_task(self._settle_forever(), name="inbox-settle"),
        ]
        if self.works_here:  # otherwise the worker processes claim what is stored
            self._background.append(
                asyncio.create_task(self._recover_forever(), name="inbox-recover")
            )

    async def stop(self) -> None:
        """After the acked work has drained: forget what finished; what did not stays for
        another replica (or this one after a restart)."""
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background = []
        await self._settle()
        if self._writer is not None:
            await self._writer.close()

    def unfinished(self) -> set[int]:
        """Rows this process took and has not finished (they stay for another replica)."""
        return set(self._working)

    def key_of(self, row_id: int | None) -> str | None:
        """The stored request's key (its recorded answer is kept under it, bot/core.py)."""
        return self._keys.get(row_id) if row_id is not None else None

    # -- storing -----------------------------------------------------------------------------
    async def store(
        self,
        platform: str,
        delivery_id: str | None,
        payload: str,
        *,
        keep_if_late: bool = False,
        hand_off: bool = False,
    ) -> int | None:
        """Store a request before it is acknowledged: its row id, or None when a request with
        this delivery id is already in the inbox (a retry: acknowledge it, do nothing). Raises
        NotStored when the database does not take it. `hand_off`: for a worker process to
        claim at once (this process does not work it).

        Cancelling the wait (a deadline) gives the request up; should it be written anyway,
        its row is deleted unworked, or with `keep_if_late` (an event the platform will send
        again, whose retry must then be recognised) worked like any other."""
        key = (
            event_key(self.key, platform, f"inbox:{delivery_id}")
            if delivery_id
            else f"none:{secrets.token_hex(16)}"  # nothing to recognise a retry by
        )
        sealed = seal(self.key, payload)
        pending = _Pending(Arrival(platform, key, sealed, hand_off), payload, keep_if_late)
        self._pending.append(pending)
        self._arrived.set()
        return await pending.stored

    async def _write_forever(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
            if self._pending:
                self._arrived.set()  # the rest goes in the next transaction
            batch = [p for p in batch if not p.stored.done()]  # given up before written
            if batch:
                await self._write(batch)

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            assert self._writer is not None, "Intake.start() first"
            async with asyncio.timeout(WRITE_SECONDS):
                ids = await self._writer.add([p.arrival for p in batch], self.clock(), self.lease)
        except Exception as error:
            # One line, no payload: the platform retries (events) or the person is told.
            log.warning("the inbox could not store %d request(s): %r", len(batch), error)
            for pending in batch:
                if not pending.stored.done():
                    pending.stored.set_exception(NotStored(type(error).__name__))
            return
        for pending, row_id in zip(batch, ids, strict=True):
            if row_id is not None:
                self._keys[row_id] = pending.arrival.key
            if not pending.stored.done():
                pending.stored.set_result(row_id)
                if row_id is not None and not pending.arrival.handed_off:
                    self._working.add(row_id)
            elif row_id is not None and pending.arrival.handed_off:
                pass  # a worker takes it
            elif row_id is not None and pending.keep_if_late:  # stored after all: work it
                self._working.add(row_id)
                replay = self.replays[pending.arrival.platform]
                self.tasks.spawn(replay(row_id, pending.payload), name="late-arrival")
            elif row_id is not None:  # its sender stopped waiting: it was told "not saved"
                self._finished.append(row_id)

    # -- working -----------------------------------------------------------------------------
    def work(
        self,
        row_id: int | None,
        work: Coroutine[Any, Any, Any],
        name: str = "",
        *,
        background: bool = False,
        at_once: bool = False,
    ) -> None:
        """Work on a stored request after its ack (the tracked, capped queue, or `at_once`
        for what expires in seconds), then forget it. A failure is logged and forgets it
        too: the bot has already told the person something went wrong."""
        forgetting = self._then_forget(row_id, work)
        if at_once:
            self.tasks.spawn(forgetting, name=name)
        else:
            self.tasks.spawn_work(forgetting, name=name, background=background)

    def forget(self, row_id: int | None) -> None:
        """A stored request that needs no work (a platform event nobody listens to)."""
        if row_id is not None:
            self._working.discard(row_id)
            self._finished.append(row_id)

    async def _then_forget(self, row_id: int | None, work: Coroutine[Any, Any, Any]) -> None:
        try:
            await work
        finally:
            self.forget(row_id)

    async def _settle_forever(self) -> None:
        renewed = self.clock()
        while True:
            await asyncio.sleep(SETTLE_SECONDS)
            try:
                await self._settle()
                if self.clock() - renewed > self.lease / 3 and self._working:
                    await self._renew()
                    renewed = self.clock()
            except Exception:
                log.warning("the inbox could not settle finished requests", exc_info=True)

    async def _settle(self) -> None:
        if not self._finished:
            return
        done, self._finished = self._finished, []
        try:
            async with self.database.inbox_write() as connection:
                await inbox.remove(connection, done)
        except BaseException:  # a failure, or stop() cancelling the settle loop mid-delete
            self._finished.extend(done)  # next time; until then a replay would be a no-op
            raise
        for row in done:
            self._keys.pop(row, None)

    async def _renew(self) -> None:
        """Work still running (a slow database, a long platform call) keeps its lease."""
        async with self.database.inbox_write() as connection:
            until = self.clock() + self.lease
            await inbox.extend(connection, sorted(self._working), until)

    # -- recovery ----------------------------------------------------------------------------
    async def _recover_forever(self) -> None:
        every = self.poll_seconds
        pruned = self.clock()
        while True:
            try:
                await self.recover()
                if self.clock() - pruned > ANSWERS_PRUNED_EVERY:
                    await self._prune_answers()
                    pruned = self.clock()
            except Exception:
                log.warning("the inbox could not look for abandoned requests", exc_info=True)
            await asyncio.sleep(every)

    async def _prune_answers(self) -> None:
        """Recorded answers are needed only while their request may still be replayed: a
        few leases at most. Deleted in bulk now and then, not one by one on the ack path."""
        kept = max(ANSWERS_KEPT, self.lease * (self.max_attempts + 1))
        async with self.database.session() as session:
            await inbox.forget_answers(session, self.clock() - kept)

    async def recover(self) -> int:
        """Claim requests whose lease ran out (their replica died) and work them again; the
        number claimed. Requests tried `max_attempts` times are given up, with a log line."""
        room = CLAIMED_AT_MOST - len(self._working)  # no hoarding: other workers may take
        if room <= 0 or not self.replays:
            return 0
        async with self.database.inbox_write() as connection:
            rows: list[InboxItem] = await inbox.claim_expired(
                connection, sorted(self.replays), self.clock(), lease=self.lease, limit=room
            )
        claimed = 0
        for row in rows:
            assert row.id is not None
            if row.attempts > self.max_attempts:
                log.error(
                    "gave up a stored %s request after %d attempts", row.platform, row.attempts - 1
                )
                self._keys[row.id] = row.key
                self.forget(row.id)
                continue
            if row.attempts > 1:  # a worker's first claim of a handed-off request is attempt 1
                log.info(
                    "working a stored %s request again (attempt %d)", row.platform, row.attempts
                )
            self._working.add(row.id)
            self._keys[row.id] = row.key
            claimed += 1
            try:
                await self.replays[row.platform](row.id, unseal(self.key, row.payload))
            except Exception:
                log.exception("could not replay a stored %s request", row.platform)
                self._working.discard(row.id)  # its lease runs out; tried again later
        return claimed
