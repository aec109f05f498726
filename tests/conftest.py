"""Shared fixtures: every storage-touching test runs on SQLite and on PostgreSQL.

PostgreSQL comes from FINOPS_TEST_POSTGRES_URL (default: the local server, trust auth). Where no
server answers, those tests skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.console.adapter import ConsoleSession
from bot.core import Bot
from bot.events import Actor, Place
from bot.message import Outcome
from bot.settings import Settings
from storage.engine import Database
from tests.helpers import (
    IN_CI,
    POSTGRES_URL,
    TEST_SECRET_KEY,
    create_postgres_database,
    drop_postgres_database,
    migrate,
    shared_path,
)

ADMIN = "ada"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL `postgresql`, so that `-m "not postgresql"`
    selects the SQLite side only: the "postgresql" case of a fixture parametrized over both
    (`database_url` and the modules' own) and every test of `postgresql_url`."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        on_postgresql = any(isinstance(p, str) and p == "postgresql" for p in params)
        if on_postgresql or "postgresql_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgresql)


def run_now(work):  # type: ignore[no-untyped-def]
    """Run a coroutine to its end from a sync fixture, also when the first test to ask for it
    is async (an event loop is running then, and asyncio.run refuses): in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    try:
        url = run_now(create_postgres_database())
    except Exception as error:  # no server, refused, wrong credentials
        reason = f"PostgreSQL not reachable at {POSTGRES_URL} ({type(error).__name__}: {error})"
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true the PostgreSQL tests must run", pytrace=False)
        pytest.skip(reason + "; set FINOPS_TEST_POSTGRES_URL to run these tests")
    run_now(migrate(url))
    yield url
    run_now(drop_postgres_database(url))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'bot.db'}"
    run_now(migrate(url))
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


class Clock:
    """The bot's clock, settable by tests (aware UTC)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))  # a Wednesday


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        FINOPS_ADMINS=ADMIN,
        FINOPS_SECRET_KEY=TEST_SECRET_KEY,
        _env_file=None,
    )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url)
    yield db
    await db.dispose()


@pytest.fixture
def workspace() -> str:
    """A workspace of its own per test, so tests sharing one database never see each other."""
    return f"ws-{uuid.uuid4().hex[:12]}"


class Chat:
    """Drives the bot through the console adapter, as a person typing commands would."""

    def __init__(self, bot: Bot, workspace: str) -> None:
        self.bot = bot
        self.workspace = workspace

    async def say(self, line: str, user: str = ADMIN) -> str:
        return "\n".join(await ConsoleSession(self.bot, user, self.workspace).say(line))

    async def outcome(self, line: str, user: str = ADMIN) -> Outcome:
        from adapters.console.adapter import PLACE, to_canonical
        from bot.events import CommandEvent

        session = ConsoleSession(self.bot, user, self.workspace)
        return await self.bot.handle(CommandEvent(session.actor(), PLACE, to_canonical(line)))

    def actor(self, user: str = ADMIN) -> Actor:
        return ConsoleSession(self.bot, user, self.workspace).actor()

    @property
    def place(self) -> Place:
        from adapters.console.adapter import PLACE

        return PLACE

    async def join(self, user: str) -> str:
        return "\n".join(await ConsoleSession(self.bot, ADMIN, self.workspace).say(f":join {user}"))


@pytest.fixture
def bot(settings: Settings, database: Database, clock: Clock) -> Bot:
    return Bot(settings, database, clock=clock)


@pytest.fixture
def chat(bot: Bot, workspace: str) -> Chat:
    return Chat(bot, workspace)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` beside the repository: reference samples. A user's clone has none."""
    return shared_path()


@pytest.fixture
def sdk() -> str:
    """Which Teams adapter the `teams` harness (tests/test_teams.py) runs: botbuilder unless a
    test says `@pytest.mark.parametrize("sdk", TEAMS_SDKS)` to run on both SDKs."""
    return "botbuilder"
