"""Delivering the outbox: every message the bot sends on its own, from any replica, once.

The core writes posts, direct messages and update requests to the `outbox` table in the same
transaction as the change that causes them (bot/core.py). This worker claims due rows (see
storage/outbox.py for how replicas share them), paces them per workspace, hands each to the
platform's Transport, and settles it: sent, retried later, or dead after `max_attempts`.

- A rate limit (429) waits for its Retry-After and does not count as an attempt.
- A timeout, a connection error or a 5xx may have reached the platform: the row is retried with
  exponential backoff and jitter and marked uncertain, and before it is sent again the Transport
  is asked whether the platform already has it (Slack: the outbox id in message metadata).
- A replica that dies mid-send leaves its rows `sending`; when their lease runs out another
  replica takes them over, also as uncertain.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.events import Actor
from bot.message import Message
from bot.message_json import from_dict
from bot.platform import Delivery, NotDelivered, RateLimited, Transport, Undeliverable
from storage import deliveries, workspaces
from storage import outbox as store
from storage.engine import Database
from storage.models import utcnow

log = logging.getLogger(__name__)
BACKOFF_BASE, BACKOFF_CAP = 2.0, 300.0  # seconds


class Pace:
    """Evenly spaced sends (one every 1/rate seconds) within this process; a rate limit
    pauses it for its Retry-After."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate if rate > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        at = max(now, self._next)
        self._next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, time.monotonic() + seconds)


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# The current state of a subject (`poll:12`, `win:3`, `home`), as the bot shows it: Bot.view.
View = Callable[[Actor, str], Awaitable[Message | None]]


class OutboxWorker:
    """Claims due rows, sends each through its platform's Transport, settles it. What it
    needs of the core is `view` (an update or a home tab is rendered when sent, as it is
    then); the bot wakes it (`wake`) when a transaction that queued messages commits."""

    def __init__(
        self,
        database: Database,
        view: View,
        transports: dict[str, Transport],
        *,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = 8,
        lease: timedelta = timedelta(minutes=2),
        concurrency: int = 16,
        idle_seconds: float = 0.5,
        workspace: str | None = None,
        owner: str | None = None,
    ) -> None:
        self.database = database
        self.view = view
        self.clock = clock
        self.transports = transports
        self.max_attempts = max_attempts
        self.lease = lease
        self.concurrency = concurrency
        self.idle_seconds = idle_seconds
        self.workspace = workspace  # deliver only this workspace's rows (console, tests)
        self.owner = owner or owner_name()  # who holds a claim: host:pid by default
        self._paces: dict[tuple[str, str], Pace] = {}
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="outbox")

    def wake(self) -> None:
        self._wakeup.set()

    async def stop(self) -> None:
        """Finish the sends in flight; what is still pending stays for any replica."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            await self._task
            self._task = None

    async def _loop(self) -> None:
        """Keep up to `concurrency` sends in flight: claim as slots free up, so the next
        rows go out while earlier ones are still waiting for the platform's answer."""
        running: set[asyncio.Task[None]] = set()
        while not self._stopping:
            claimed: list[tuple[Transport, store.Claimed]] = []
            free = self.concurrency - len(running)
            if free > 0:
                try:
                    claimed = await self._claim(free)
                except Exception:
                    log.exception("outbox claim failed; retrying shortly")
            running |= {asyncio.create_task(self._deliver(t, c)) for t, c in claimed}
            if claimed and len(running) < self.concurrency:
                continue  # more may be due at once
            self._wakeup.clear()
            woken = asyncio.create_task(self._wakeup.wait())
            done, _ = await asyncio.wait(
                running | {woken}, timeout=self.idle_seconds, return_when=FIRST_COMPLETED
            )
            woken.cancel()
            running -= done
        await asyncio.gather(*running, return_exceptions=True)  # finish what is in flight

    async def drain(self) -> int:
        """Deliver until nothing is due now; returns how many rows were handled."""
        total = 0
        while handled := await self.run_once():
            total += handled
        return total

    # -- one round ---------------------------------------------------------------------------
    async def run_once(self) -> int:
        """One round: claim due rows of every platform this worker serves, deliver them all."""
        claimed = await self._claim(self.concurrency)
        await asyncio.gather(*(self._deliver(t, c) for t, c in claimed))
        return len(claimed)

    async def _claim(self, limit: int) -> list[tuple[Transport, store.Claimed]]:
        found: list[tuple[Transport, store.Claimed]] = []
        for platform, transport in self.transports.items():
            if len(found) >= limit:
                break
            async with self.database.session() as session:
                claimed = await store.claim(
                    session,
                    platform,
                    self.clock(),
                    owner=self.owner,
                    lease=self.lease,
                    interval=timedelta(seconds=transport.conversation_interval),
                    limit=limit - len(found),
                    workspace=self.workspace,
                )
            found += [(transport, c) for c in claimed]
        return found

    async def _deliver(self, transport: Transport, claimed: store.Claimed) -> None:
        delivery = delivery_of(claimed)
        row = claimed.row
        assert row.id is not None  # a claimed row is a stored one
        pace = self._paces.setdefault(
            (claimed.platform, claimed.workspace), Pace(transport.workspace_rate)
        )
        try:
            # No call may outlive the claim: once the lease ends another replica may take the
            # row over and send it again while this call could still land (the platforms'
            # sessions carry their own, shorter, timeouts too).
            async with asyncio.timeout(self.lease.total_seconds() / 2):
                found = await transport.find_sent(delivery) if delivery.uncertain else None
                if found is None:
                    await pace.wait()
                    sent = await self._send(transport, delivery)
            if found is not None:
                log.info("outbox %s had reached %s already; not sent again", row.id, row.kind)
                await self._sent(delivery, found)
                return
            await self._sent(delivery, sent)
        except RateLimited as limited:
            pace.pause(limited.retry_after)
            retry_at = self.clock() + timedelta(seconds=limited.retry_after)
            await self._retry(row.id, str(limited), retry_at, uncertain=False, counted=False)
        except Undeliverable as error:
            log.warning("outbox %s (%s) cannot be delivered: %s", row.id, row.kind, error)
            await self._settle(row.id, store.DEAD, error=str(error), forget=delivery.forget)
        except Exception as error:  # a timeout, a 5xx: it may or may not have arrived
            unknown = not isinstance(error, NotDelivered)
            await self._failed(
                row.id,
                row.attempts,
                error,
                uncertain=unknown or row.uncertain,
                forget=delivery.forget,
            )

    async def _send(self, transport: Transport, delivery: Delivery) -> str:
        if delivery.kind == "home":  # the person's tab as it is now, published by the transport
            person = Actor(delivery.platform, delivery.workspace, delivery.user_id, delivery.name)
            tab = await self.view(person, "home")
            return await transport.send(replace(delivery, message=tab)) if tab else ""
        if delivery.kind != "update":
            return await transport.send(delivery)
        where = await self._find_post(delivery)
        current = await self.view(delivery.actor, delivery.subject)
        if where is None or current is None:
            return ""  # never posted (or gone): nothing to update
        await transport.edit(delivery, where[0], where[1], message=current)
        return where[1]

    async def _sent(self, delivery: Delivery, message_id: str) -> None:
        async with self.database.session() as session:
            await store.settle(
                session,
                delivery.id,
                self.owner,
                status=store.SENT,
                now=self.clock(),
                message_id=message_id,
                forget=delivery.forget,
            )
            if delivery.kind == "post" and delivery.subject and message_id:
                await self._remember_post(session, delivery, message_id)

    async def _remember_post(
        self, session: AsyncSession, delivery: Delivery, message_id: str
    ) -> None:
        """Note where a post about `subject` went (in the settling transaction), so any
        replica can update it later."""
        workspace = await workspaces.workspace_id(session, delivery.platform, delivery.workspace)
        await deliveries.remember_post(
            session,
            workspace,
            delivery.subject,
            conversation_id=delivery.conversation,
            message_id=message_id,
            now=self.clock(),
        )

    async def _find_post(self, delivery: Delivery) -> tuple[str, str] | None:
        """Where the post about `delivery.subject` went: (conversation, message id)."""
        async with self.database.session() as session:
            workspace = await workspaces.workspace_id(
                session, delivery.platform, delivery.workspace
            )
            found = await deliveries.find_post(session, workspace, delivery.subject)
            return (found.conversation_id, found.message_id) if found else None

    async def _failed(
        self, row_id: int, attempts: int, error: Exception, *, uncertain: bool, forget: bool = False
    ) -> None:
        reason = f"{type(error).__name__}: {error}"[:500]
        if attempts >= self.max_attempts:
            log.error("outbox %s dead after %d attempts: %s", row_id, attempts, reason)
            await self._settle(row_id, store.DEAD, error=reason, forget=forget)
            return
        delay = min(BACKOFF_BASE * 2 ** (attempts - 1), BACKOFF_CAP) * random.uniform(0.5, 1.5)
        log.info("outbox %s failed (%s); retrying in %.1f s", row_id, reason, delay)
        retry_at = self.clock() + timedelta(seconds=delay)
        await self._retry(row_id, reason, retry_at, uncertain=uncertain, counted=True)

    async def _retry(
        self, row_id: int, reason: str, at: datetime, *, uncertain: bool, counted: bool
    ) -> None:
        await self._settle(
            row_id,
            store.PENDING,
            error=reason,
            retry_at=at,
            uncertain=uncertain,
            count_attempt=counted,
        )

    async def _settle(self, row_id: int, status: str, **details) -> None:
        async with self.database.session() as session:
            await store.settle(
                session, row_id, self.owner, status=status, now=self.clock(), **details
            )


def delivery_of(claimed: store.Claimed) -> Delivery:
    row = claimed.row
    payload = json.loads(row.payload) if row.payload else {}
    return Delivery(
        id=row.id or 0,
        platform=claimed.platform,
        workspace=claimed.workspace,
        kind=row.kind,
        conversation=row.conversation,
        subject=row.subject,
        message=from_dict(payload["message"]) if "message" in payload else None,
        name=payload.get("name", ""),
        fallback_url=payload.get("fallback_url", ""),
        uncertain=row.uncertain,
        created_at=row.created_at,
        forget=bool(payload.get("forget")),
    )
