"""The local trial, with real processes: `finops-bot serve` with no Slack or Teams credentials
runs the scheduler for the console; a running console prints what it posts as it is
delivered, and a console opened later shows what it missed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import select

from storage.engine import Database
from storage.models import Poll
from tests.helpers import TEST_SECRET_KEY
from tests.test_replicas import Replica

pytestmark = pytest.mark.slow  # real `finops-bot serve` and console processes

PLATFORM_VARIABLES = ("SLACK_", "MICROSOFT", "FINOPS_TEAMS")


def local_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(PLATFORM_VARIABLES)}
    env.update(
        DATABASE_URL=database_url,
        FINOPS_SECRET_KEY=TEST_SECRET_KEY,
        FINOPS_SCHEDULER_TICK_SECONDS="0.5",
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
    )
    return env


def console(env: dict[str, str], cwd: Path, script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "console"],
        input=script,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


async def close_soon(database_url: str, poll_id: int, seconds: float = 2.0) -> None:
    """Bring a poll's deadline a few seconds ahead (a deadline is given in minutes at least)."""
    database = Database(database_url)
    try:
        async with database.session() as session:
            closes = datetime.now(UTC) + timedelta(seconds=seconds)
            await session.exec(update(Poll).where(Poll.id == poll_id).values(closes_at=closes))  # type: ignore[call-overload]
    finally:
        await database.dispose()


async def wait_closed(database_url: str, poll_id: int, seconds: float = 30.0) -> None:
    database = Database(database_url)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            async with database.reading() as session:
                poll = (await session.exec(select(Poll).where(Poll.id == poll_id))).one()
            if poll.closed_at is not None:
                return
            await asyncio.sleep(0.3)
        raise TimeoutError(f"poll {poll_id} was not closed by the running serve")
    finally:
        await database.dispose()


async def read_until(stream: asyncio.StreamReader, needle: str, seconds: float) -> str:
    seen = ""
    deadline = time.monotonic() + seconds
    while needle not in seen:
        try:
            line = await asyncio.wait_for(stream.readline(), deadline - time.monotonic())
        except TimeoutError:
            raise AssertionError(f"{needle!r} never printed; it printed:\n{seen}") from None
        if not line:
            raise AssertionError(f"the console ended before {needle!r}:\n{seen}")
        seen += line.decode()
    return seen


async def test_serve_without_credentials_posts_poll_results_to_the_console(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    env = local_env(url)
    first = console(env, tmp_path, 'poll "Ship it?" "Yes" "No" closes in 1h\nvote 1 1\n')
    assert "Poll #1 is up" in first
    serve = Replica(env, tmp_path / "serve.log")
    watching = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "app.cli", "console"),
        env=env,
        cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE,  # kept open: a console someone is sitting at
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await serve.ready()
        await close_soon(url, 1)
        # The running console prints the results as serve's scheduler posts them.
        assert watching.stdout is not None and watching.stdin is not None
        shown = await read_until(watching.stdout, "· closed ·", 30)
        assert "Ship it?" in shown and "1. Yes: 1 vote" in shown
        watching.stdin.close()
        assert await asyncio.wait_for(watching.wait(), 30) == 0

        # With no console open, the next poll closes too; a console opened later shows it.
        assert "Poll #2 is up" in console(env, tmp_path, 'poll "Later?" "A" "B" closes in 1h\n')
        await close_soon(url, 2)
        await wait_closed(url, 2)
        later = console(env, tmp_path, ":quit\n")
        assert later.index("While the console was closed:") < later.index("Later?")
        assert "· closed ·" in later
    finally:
        if watching.returncode is None:
            watching.kill()
            await watching.wait()
        serve.stop()
