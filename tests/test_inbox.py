"""Durable intake (bot/intake.py): a request is stored before it is acknowledged, worked once,
and a request its replica left behind is worked by another, on SQLite and PostgreSQL.

The Slack tests drive the real app over HTTP with signed requests against the fake Web API;
"the database cannot take the row" is a real lock held by another connection, not a mock."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from app.server import BOT, INTAKE
from bot.intake import Intake, NotStored
from bot.settings import Settings
from bot.tasks import TaskTracker
from storage import inbox
from storage.engine import Database
from storage.inbox import Arrival
from storage.models import InboxItem, Win, Workspace
from storage.secret import load_voter_key, seal, unseal
from tests.fakes.slack_api import FakeSlack
from tests.helpers import TEST_SECRET_KEY, running_bot
from tests.slack_signing import sign, slash_command_body
from tests.test_slack import SECRET, SlackHarness, running_slack

KEY = bytes(32)
LEASE = timedelta(seconds=30)


async def _rows(database: Database) -> int:
    async with database.inbox_session() as session:
        return (await session.exec(select(func.count()).select_from(InboxItem))).one()


async def _stored(database: Database, arrival: Arrival, at: datetime) -> int:
    """A row as a replica that then died would have left it."""
    await inbox.prepare(database)
    async with database.inbox_write() as connection:
        [row] = await inbox.add(connection, [arrival], at, lease=LEASE)
    assert row is not None
    return row


@asynccontextmanager
async def _intake(database: Database, **options) -> AsyncIterator[Intake]:
    intake = Intake(database, KEY, TaskTracker(), lease=LEASE, max_attempts=3, **options)
    await intake.start()
    try:
        yield intake
    finally:
        await intake.tasks.drain(10)
        await intake.stop()


async def test_a_burst_is_stored_in_few_statements_and_a_retry_is_recognised(
    database: Database,
):
    tag = uuid.uuid4().hex
    async with _intake(database) as intake:
        batches: list[int] = []  # requests per INSERT the writer ran
        write = intake._writer.add

        async def counted(arrivals, *args):
            batches.append(len(arrivals))
            return await write(arrivals, *args)

        intake._writer.add = counted
        ids = await asyncio.gather(
            *(intake.store("slack", f"{tag}:{n}", f"request {n}") for n in range(50))
        )
        again = await intake.store("slack", f"{tag}:7", "request 7, sent again")
        assert len(set(ids)) == 50 and None not in ids
        assert again is None  # the same delivery id while the first is still here
        assert sum(batches) == 51 and len(batches) <= 5  # group commit
        for row in ids:
            intake.forget(row)
    assert await _rows(database) == 0  # forgotten once done


async def test_a_request_left_by_a_dead_replica_is_worked_by_another(database: Database):
    worked: list[tuple[int, str]] = []
    now = datetime.now(UTC)
    arrival = Arrival("slack", uuid.uuid4().hex, seal(KEY, "left behind"))
    row = await _stored(database, arrival, now - LEASE * 2)
    found = asyncio.Event()
    async with _intake(database) as intake:

        async def replay(row_id: int, payload: str) -> None:
            worked.append((row_id, payload))
            if row_id == row:
                found.set()
            intake.forget(row_id)

        intake.replays["slack"] = replay
        await intake.recover()  # or the recovery loop did, in the meantime
        async with asyncio.timeout(5):
            await found.wait()
        await asyncio.sleep(0.3)  # the settle loop deletes it
    assert (row, "left behind") in worked
    async with database.inbox_session() as session:
        assert (await session.get(InboxItem, row)) is None


async def test_a_request_that_keeps_failing_is_given_up_after_its_attempts(
    database: Database, caplog
):
    now = datetime.now(UTC)
    row = await _stored(
        database, Arrival("slack", uuid.uuid4().hex, seal(KEY, "poison")), now - LEASE * 2
    )
    clock = now

    async with _intake(database, clock=lambda: clock) as intake:
        attempts = 0

        async def replay(row_id: int, payload: str) -> None:
            nonlocal attempts
            if row_id == row:
                attempts += 1
                raise RuntimeError("the work fails every time")

        intake.replays["slack"] = replay
        for _ in range(5):
            await intake.recover()
            clock += LEASE * 2
        await asyncio.sleep(0.3)
    assert attempts == 2  # stored with attempt 1; max_attempts 3
    assert "gave up a stored slack request after 3 attempts" in caplog.text
    async with database.inbox_session() as session:
        assert (await session.get(InboxItem, row)) is None


@asynccontextmanager
async def _held(database_url: str) -> AsyncIterator[None]:
    """Another connection holds the inbox so no one else can write it (the database 'cannot
    take the row'): the write lock of SQLite's inbox file, PostgreSQL's table lock."""
    other = Database(database_url)
    await inbox.prepare(other)
    try:
        async with other.inbox_engine.connect() as connection:
            if other.dialect == "sqlite":
                await connection.exec_driver_sql("COMMIT")  # the driver's own BEGIN IMMEDIATE
                await connection.exec_driver_sql("BEGIN EXCLUSIVE")
            else:
                await connection.execute(text("LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE"))
            yield
            await connection.rollback()
    finally:
        await other.dispose()


@pytest.fixture
async def slack(database_url: str) -> AsyncIterator[SlackHarness]:
    async with running_slack(database_url, FINOPS_INBOX_INTAKE_SECONDS="0.5") as harness:
        yield harness


async def _wins(slack: SlackHarness) -> int:
    database = slack.client.server.app[BOT].database
    async with database.reading() as session:
        statement = (
            select(func.count())
            .select_from(Win)
            .join(Workspace, Workspace.id == Win.workspace_id)
            .where(Workspace.external_id == slack.team)
        )
        return (await session.exec(statement)).one()


async def test_a_command_the_database_cannot_take_is_answered_not_saved_and_not_done(
    slack: SlackHarness, database_url: str
):
    body = slash_command_body(
        text="win Deleted idle disks $400/mo",
        user_id="U7",
        team_id=slack.team,
        response_url=slack.fake.response_url(),
    )
    async with _held(database_url):
        response = await slack.post(body)
        answer = await response.json()
    assert response.status == 200
    assert answer["response_type"] == "ephemeral" and answer["text"].startswith("Not saved")
    await slack.settled()
    await asyncio.sleep(0.5)  # the late write lands and is forgotten unworked
    assert await _wins(slack) == 0
    assert await _rows(slack.client.server.app[BOT].database) == 0


async def test_an_event_the_database_cannot_take_gets_a_503_and_its_retry_is_worked(
    slack: SlackHarness, database_url: str
):
    await slack.command("config community-channel <#C42|finops>")
    joined = {"type": "member_joined_channel", "user": "U8", "channel": "C42", "team": slack.team}
    event_id = "Ev" + uuid.uuid4().hex[:10].upper()
    async with _held(database_url):
        assert await slack.event(joined, event_id) == 503
    # Slack sends it again (x-slack-retry-num); now it is stored, acked and worked, once.
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    assert await slack.event(joined, event_id, retry) == 200
    await slack.settled()
    assert await slack.event(joined, event_id, {**retry, "X-Slack-Retry-Num": "2"}) == 200
    await slack.settled()
    welcomes = [c for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == "U8"]
    assert len(welcomes) == 1


async def test_a_replayed_signed_command_has_no_second_effect(slack: SlackHarness):
    url = slack.fake.response_url()
    body = slash_command_body(
        text="win Stopped idle GPUs $900/mo", user_id="U9", team_id=slack.team, response_url=url
    )
    headers = sign(body, SECRET)
    statuses = [(await slack.post(body, headers)).status for _ in range(3)]
    await slack.settled()
    assert statuses == [200, 200, 200]
    assert await _wins(slack) == 1


async def test_work_left_in_the_inbox_by_a_crash_is_answered_after_a_restart(
    database_url: str,
):
    """A command stored (and acked) by a process that died is worked by the next one: the
    win is logged and the person gets the answer at the response URL, once."""
    team = "T" + uuid.uuid4().hex[:10].upper()
    async with FakeSlack(team_id=team) as fake:
        settings = Settings(
            DATABASE_URL=database_url,
            FINOPS_SECRET_KEY=TEST_SECRET_KEY,
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
            FINOPS_INBOX_LEASE_SECONDS="1",
            _env_file=None,
        )
        url = fake.response_url()
        body = slash_command_body(
            text="win Rightsized RDS $1,200/mo", user_id="U5", team_id=team, response_url=url
        )
        payload = json.dumps(
            {"mode": "http", "content_type": "application/x-www-form-urlencoded", "body": body}
        )
        key = load_voter_key(settings.secret_key, database_url)
        database = Database(database_url)
        arrival = Arrival("slack", uuid.uuid4().hex, seal(key, payload))
        await _stored(database, arrival, datetime.now(UTC) - timedelta(minutes=5))
        await database.dispose()
        async with running_bot(settings) as (client, tasks):
            await fake.wait_for_responses(1, timeout=15)
            await tasks.drain(10)
            await client.server.app[INTAKE].recover()  # nothing left to claim
        answers = [r for r in fake.responses if r["url"] == url]
        assert len(answers) == 1 and "Logged win" in answers[0]["text"]


async def test_not_stored_is_raised_when_the_database_is_gone():
    database = Database("postgresql://postgres@127.0.0.1:9/none")  # nothing listens there
    async with _intake(database) as intake:
        with pytest.raises(NotStored):
            await intake.store("slack", "x", "y")
    await database.dispose()


async def test_what_the_inbox_keeps_is_unreadable_without_the_key(database: Database):
    """A database reader sees no message, person or vote in a stored request."""
    async with _intake(database) as intake:
        row = await intake.store("slack", uuid.uuid4().hex, "payload=U42 voted for option 2")
        async with database.inbox_session() as session:
            stored = await session.get(InboxItem, row)
        assert stored is not None and "U42" not in stored.payload and "option" not in stored.payload
        assert unseal(KEY, stored.payload) == "payload=U42 voted for option 2"
        with pytest.raises(ValueError):
            unseal(bytes(range(32)), stored.payload)
        intake.forget(row)


async def test_recorded_answers_are_pruned_once_no_replay_can_need_them(database: Database):
    now = datetime.now(UTC)
    old, fresh = uuid.uuid4().hex, uuid.uuid4().hex
    async with database.session() as session:
        await inbox.record_answer(session, old, "sealed answer", now=now - timedelta(hours=2))
        await inbox.record_answer(session, fresh, "sealed answer", now=now)
    async with _intake(database) as intake:
        await intake._prune_answers()
    async with database.reading() as session:
        assert await inbox.recorded_answer(session, old) is None
        assert await inbox.recorded_answer(session, fresh) == "sealed answer"
