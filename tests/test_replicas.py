"""Real processes: three `finops-bot serve` replicas on one PostgreSQL database.

Each replica is started as a user would (`python -m app.cli serve`), with its own port, talking
to an in-process fake Slack over HTTP. These tests take real time (up to about a minute and a
half each): the digest waits for its minute.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import func, select

from bot.core import Bot
from bot.events import Actor, CommandEvent, JoinScope, MemberJoinedEvent, Place
from bot.settings import Settings
from storage.engine import Database
from storage.models import OutboxMessage, Workspace
from tests.fakes.slack_api import FakeSlack
from tests.helpers import TEST_SECRET_KEY

pytestmark = pytest.mark.slow  # real `finops-bot serve` processes

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "UADMIN"
SECRET_KEY = TEST_SECRET_KEY
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Replica:
    """One `finops-bot serve` process; its output goes to a log file kept for failures."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
                env=env,
                cwd=log.parent,  # no stray .env file from the repository is read
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, seconds: float = 60.0) -> None:
        url = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + seconds
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"replica exited early:\n{self.log.read_text()}")
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"replica not ready in {seconds}s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """As a crash or an OOM kill: no shutdown, no draining."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def replicas(
    count: int, database_url: str, fake: FakeSlack, logs: Path, **settings: str
) -> AsyncIterator[list[Replica]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "FINOPS_", "Microsoft", "DATABASE_URL", "PORT", "HOST"))
    }
    env |= {
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "FINOPS_SECRET_KEY": SECRET_KEY,
        "FINOPS_ADMINS": ADMIN,
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": "replica-test-signing-secret",
        "SLACK_API_URL": fake.api_url,
        "HOST": "127.0.0.1",
        "FINOPS_SCHEDULER_TICK_SECONDS": "1",
        **settings,
    }
    started = [Replica(env, logs / f"replica-{n}.log") for n in range(count)]
    try:
        await asyncio.gather(*(r.ready() for r in started))
        yield started
    finally:
        # Stopped from threads, all at once: `stop` blocks until the process exits, and a
        # replica shutting down still talks to the fakes (and proxies) on this event loop, so
        # blocking the loop would hold its shutdown until `stop` gives up and kills it.
        await asyncio.gather(*(asyncio.to_thread(replica.stop) for replica in started))


async def in_workspace(database_url: str, team: str, *commands: str) -> Bot:
    """Set the workspace up through the bot's own commands, as an admin would in Slack."""
    settings = Settings(
        DATABASE_URL=database_url,
        FINOPS_SECRET_KEY=SECRET_KEY,
        FINOPS_ADMINS=ADMIN,
        _env_file=None,
    )
    bot = Bot(settings, Database(database_url))
    for command in commands:
        event = CommandEvent(Actor("slack", team, ADMIN, "ada"), Place("C1", "general"), command)
        answer = " ".join(r.message.text for r in (await bot.handle(event)).replies())
        assert "Usage" not in answer and "Sorry" not in answer, answer
    return bot


async def test_a_digest_due_in_a_minute_is_posted_once_though_a_replica_dies_and_slack_says_429(
    postgresql_url: str, tmp_path: Path
):
    team = "T" + uuid.uuid4().hex[:10].upper()
    async with FakeSlack(team_id=team) as fake:
        due = (datetime.now(UTC) + timedelta(seconds=75)).replace(second=0, microsecond=0)
        bot = await in_workspace(
            postgresql_url,
            team,
            "config digest-channel <#C9|finops-digest>",
            f"digest schedule {WEEKDAYS[due.weekday()]} {due:%H:%M} UTC",
        )
        await bot.database.dispose()
        async with replicas(3, postgresql_url, fake, tmp_path) as running:
            fake.fail_next("chat.postMessage", status=429, retry_after=1)
            await asyncio.sleep((due - datetime.now(UTC)).total_seconds() - 2)
            running[0].kill()  # just before the digest is due
            due_at = time.monotonic() + (due - datetime.now(UTC)).total_seconds()
            await fake.wait_for("chat.postMessage", 2, timeout=40)
            await asyncio.sleep(5)  # five more ticks on each live replica: no second digest
        posts = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == "C9"]
        assert [c.status for c in posts] == [429, 200]
        assert "FinOps weekly digest" in posts[1].params["text"]
        assert due_at - 0.5 <= posts[0].at <= due_at + 5  # at its minute (ticks every second)
        assert posts[1].at - posts[0].at >= 1.0  # Retry-After honoured
        assert len(fake.messages) == 1


async def test_killing_a_replica_mid_fan_out_loses_nothing_and_duplicates_nothing(
    postgresql_url: str, tmp_path: Path
):
    people = 240
    team = "T" + uuid.uuid4().hex[:10].upper()
    async with FakeSlack(team_id=team) as fake:
        fake.delay = 0.05  # posts are in flight when the replica dies
        bot = await in_workspace(postgresql_url, team, "config welcome-workspace-joins on")
        for n in range(people):
            actor = Actor("slack", team, f"U{n:04d}", f"person {n}")
            await bot.handle(MemberJoinedEvent(actor, Place(""), scope=JoinScope.WORKSPACE))
        async with replicas(
            3,
            postgresql_url,
            fake,
            tmp_path,
            FINOPS_OUTBOX_SLACK_RATE="20",
            FINOPS_OUTBOX_LEASE_SECONDS="3",
        ) as running:
            await fake.wait_for("chat.postMessage", people // 3, timeout=60)
            running[0].kill()
            await fake.wait_for("chat.postMessage", people, timeout=90, ok=True)
            await asyncio.sleep(5)  # the dead replica's claims have been taken over by now
        posted = Counter(channel for channel, _ in fake.messages)
        assert sorted(posted) == sorted(f"DU{n:04d}" for n in range(people))  # none lost
        assert set(posted.values()) == {1}  # none twice
        # The dead replica's claims were taken over as uncertain: Slack was asked first.
        assert fake.calls_to("conversations.history")
        async with bot.database.session() as session:
            statement = (
                select(OutboxMessage.status, func.count())
                .join(Workspace, Workspace.id == OutboxMessage.workspace_id)
                .where(Workspace.external_id == team)
                .group_by(OutboxMessage.status)
            )
            assert dict((await session.exec(statement)).all()) == {"sent": people}
        await bot.database.dispose()
