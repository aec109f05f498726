"""Real `finops-bot serve` processes: nothing acknowledged is lost.

1. Ten signed slash commands and five `member_joined_channel` events are acked by a replica
   that is then SIGKILLed before anything it does reaches Slack (the fake Slack counts a call
   only once it has "arrived", `arrival_delay`). A new replica, started afterwards, answers
   every command once at its response URL and welcomes every newcomer once.
2. With PostgreSQL unreachable (a TCP proxy in front of it, pulled), events get a 503 and
   commands a "not saved" answer; once it is back, Slack's retries of the events are worked
   once and the unsaved commands never run.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import func, select

from storage.engine import Database
from storage.models import Win, Workspace
from tests.fakes.slack_api import FakeSlack
from tests.slack_signing import event_body, sign, slash_command_body
from tests.test_replicas import Replica, in_workspace, replicas

pytestmark = pytest.mark.slow  # real `finops-bot serve` processes

SIGNING_SECRET = "replica-test-signing-secret"  # what tests.test_replicas gives its replicas
COMMANDS, JOINS = 10, 5
FAST = {"FINOPS_INBOX_LEASE_SECONDS": "2", "FINOPS_OUTBOX_LEASE_SECONDS": "3"}


async def _post(replica: Replica, body: str, content_type: str, **headers: str):
    url = f"http://127.0.0.1:{replica.port}/slack/events"
    signed = {"Content-Type": content_type, **sign(body, SIGNING_SECRET), **headers}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=signed) as response,
    ):
        return response.status, await response.text()


def _command(fake: FakeSlack, team: str, n: int) -> tuple[str, str]:
    url = fake.response_url()
    body = slash_command_body(
        text=f"win Cleaned up bucket {n} ${100 + n}/mo",
        user_id=f"UC{n:02d}",
        team_id=team,
        response_url=url,
    )
    return url, body


def _join(team: str, n: int) -> tuple[str, str]:
    event = {"type": "member_joined_channel", "user": f"UJ{n:02d}", "channel": "C42", "team": team}
    event_id = "Ev" + uuid.uuid4().hex[:10].upper()
    return event_id, event_body(event, event_id=event_id, team_id=team)


async def _wins(database_url: str, team: str) -> int:
    database = Database(database_url)
    try:
        async with database.reading() as session:
            statement = (
                select(func.count())
                .select_from(Win)
                .join(Workspace, Workspace.id == Win.workspace_id)
                .where(Workspace.external_id == team)
            )
            return (await session.exec(statement)).one()
    finally:
        await database.dispose()


@pytest.mark.parametrize("workers", ["0", "1"], ids=["in-process", "one-worker"])
async def test_a_replica_killed_right_after_its_acks_loses_nothing(
    database_url: str, tmp_path: Path, workers: str
):
    """Also with FINOPS_WORKERS=1: the serving process only stores and acks, its worker
    process works; killing `serve` takes the worker with it."""
    team = "T" + uuid.uuid4().hex[:10].upper()
    async with FakeSlack(team_id=team) as fake:
        for n in range(JOINS):
            user = f"UJ{n:02d}"
            fake.users[user] = {"id": user, "name": f"joiner{n}", "profile": {"display_name": ""}}
        bot = await in_workspace(database_url, team, "config community-channel <#C42|finops>")
        await bot.database.dispose()
        commands = [_command(fake, team, n) for n in range(COMMANDS)]
        joins = [_join(team, n) for n in range(JOINS)]
        for name in ("first", "second"):
            (tmp_path / name).mkdir()
        fake.arrival_delay = 60.0  # nothing the first replica sends gets through before it dies
        options = {**FAST, "FINOPS_WORKERS": workers}
        async with replicas(1, database_url, fake, tmp_path / "first", **options) as [first]:
            acks = await asyncio.gather(
                *(_post(first, body, "application/x-www-form-urlencoded") for _, body in commands),
                *(_post(first, body, "application/json") for _, body in joins),
            )
            await asyncio.sleep(0.5)  # a worker has claimed them by now
            first.kill()
        await asyncio.sleep(2.5)  # its worker process notices and exits too
        assert [status for status, _ in acks] == [200] * (COMMANDS + JOINS)
        assert fake.responses == [] and fake.calls_to("chat.postMessage") == []
        fake.arrival_delay = 0.0
        async with replicas(1, database_url, fake, tmp_path / "second", **options):
            await fake.wait_for_responses(COMMANDS, timeout=60)
            # Ten celebrations in the channel and five welcome DMs.
            await fake.wait_for("chat.postMessage", COMMANDS + JOINS, timeout=60, ok=True)
            await asyncio.sleep(3)  # time for any second answer to show up
        answered = Counter(r["url"] for r in fake.responses)
        assert answered == Counter({url: 1 for url, _ in commands})
        assert all("Logged win" in r["text"] for r in fake.responses)
        welcomed = Counter(
            c.params["channel"]
            for c in fake.calls_to("chat.postMessage")
            if c.ok and c.params["channel"].startswith("UJ")
        )
        assert welcomed == Counter({f"UJ{n:02d}": 1 for n in range(JOINS)})
        assert await _wins(database_url, team) == COMMANDS


class Plug:
    """A TCP proxy to PostgreSQL that a test can pull: while pulled, every connection,
    open or new, is cut at once (as a database that went away)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.connected = True
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def __aenter__(self) -> Plug:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_exc) -> None:
        self.pull()
        assert self._server is not None
        self._server.close()

    def pull(self) -> None:
        self.connected = False
        for writer in list(self._open):
            writer.close()
        self._open.clear()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.connected:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._open |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self._open.discard(writer)


async def test_with_postgresql_unreachable_events_get_503_and_their_retries_are_worked_once(
    postgresql_url: str, tmp_path: Path
):
    team = "T" + uuid.uuid4().hex[:10].upper()
    real = make_url(postgresql_url)
    async with FakeSlack(team_id=team) as fake, Plug(real.host, real.port or 5432) as plug:
        for n in range(JOINS):
            user = f"UJ{n:02d}"
            fake.users[user] = {"id": user, "name": f"joiner{n}", "profile": {"display_name": ""}}
        bot = await in_workspace(postgresql_url, team, "config community-channel <#C42|finops>")
        await bot.database.dispose()
        proxied = real.set(host="127.0.0.1", port=plug.port).render_as_string(hide_password=False)
        async with replicas(1, proxied, fake, tmp_path, **FAST) as [replica]:
            plug.pull()
            joins = [_join(team, n) for n in range(JOINS)]
            refused = await asyncio.gather(
                *(_post(replica, body, "application/json") for _, body in joins)
            )
            url, command = _command(fake, team, 1)
            status, answer = await _post(replica, command, "application/x-www-form-urlencoded")
            assert [s for s, _ in refused] == [503] * JOINS
            assert status == 200 and "Not saved" in answer
            plug.connected = True  # back: Slack retries each event (with its retry headers)
            retried = await asyncio.gather(
                *(
                    _post(replica, body, "application/json", **{"X-Slack-Retry-Num": "1"})
                    for _, body in joins
                )
            )
            assert [s for s, _ in retried] == [200] * JOINS
            await fake.wait_for("chat.postMessage", JOINS, timeout=60, ok=True)
            await asyncio.sleep(3)
        welcomed = Counter(c.params["channel"] for c in fake.calls_to("chat.postMessage") if c.ok)
        assert welcomed == Counter({f"UJ{n:02d}": 1 for n in range(JOINS)})
        assert [r for r in fake.responses if r["url"] == url] == []  # the command never ran
        assert await _wins(postgresql_url, team) == 0
