"""Small helpers shared by the test modules."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel, select

from app.server import create_app
from bot.settings import Settings
from bot.tasks import TaskTracker
from storage.engine import Database, async_url
from storage.migrate import upgrade
from storage.models import Workspace

POSTGRES_URL = os.environ.get(
    "FINOPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Under CI, what a test needs must be there: a missing prerequisite fails instead of skipping.
IN_CI = os.environ.get("CI", "").lower() == "true"
# Reference material (samples, official schemas) beside the repository, not in it.
SHARED = Path(__file__).resolve().parents[2] / "shared"

# A FINOPS_SECRET_KEY strong enough to be accepted (weak ones are refused at start-up).
TEST_SECRET_KEY = "rJ3vQ8xN0cWm5tYp2LkHs7Gd9FbZq4Ue1XaVo6Ti_Cn"


def shared_path(*parts: str) -> Path:
    """`SHARED.joinpath(*parts)`, which must exist: when it does not, the test is skipped (a clone
    outside the team workspace has no ../shared), or fails under CI=true."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is absent (../shared sits beside the repo, not in it)"
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true this test must run", pytrace=False)
        pytest.skip(reason)
    return path


def number(pattern: str, text: str) -> int:
    """The first integer captured by `pattern` in `text` (e.g. a poll or win id)."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in:\n{text}"
    return int(match[1])


async def rows(database: Database, model: type[SQLModel], workspace: str) -> int:
    """How many rows of a workspace-scoped table belong to `workspace`."""
    async with database.session() as session:
        statement = (
            select(func.count())
            .select_from(model)
            .join(Workspace, Workspace.id == model.workspace_id)  # type: ignore[attr-defined]
            .where(Workspace.external_id == workspace)
        )
        return (await session.exec(statement)).one()


async def create_postgres_database() -> str:
    # Unique per session; under pytest-xdist each worker's session has its own, named after it.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    name = f"finops_test_{worker}{'_' if worker else ''}{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(async_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return async_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    name = async_url(url).database
    admin = create_async_engine(async_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def migrate(url: str) -> None:
    database = Database(url)
    try:
        await upgrade(database)
    finally:
        await database.dispose()


@asynccontextmanager
async def running_bot(
    settings: Settings, *, start_timeout: float = 60.0, **options: Any
) -> AsyncIterator[tuple[TestClient, TaskTracker]]:
    """The bot's HTTP app, built as `finops-bot serve` builds it, served on 127.0.0.1; on exit
    the work it acked is drained and the app shut down."""
    tasks = TaskTracker()
    client = TestClient(TestServer(create_app(settings, tasks=tasks, **options), host="127.0.0.1"))
    try:
        async with asyncio.timeout(start_timeout):
            await client.start_server()
        yield client, tasks
    finally:
        await tasks.drain(10)
        app = client.server.app
        await client.close()
        await _forget_unfinished(settings, app)


async def _forget_unfinished(settings: Settings, app: Any) -> None:
    """Requests this bot acked and did not finish (a test that ends with work hung on a fake)
    stay in the inbox, as after a crash, and a later test's bot on the same database would
    work them against a fake that is gone: remove them."""
    from app.server import INTAKE
    from storage import inbox

    intake = app.get(INTAKE)
    if intake is None or not intake.unfinished():
        return
    database = Database(settings.database_url)
    try:
        async with database.inbox_write() as connection:
            await inbox.remove(connection, sorted(intake.unfinished()))
    finally:
        await database.dispose()


def texts(payload: Any) -> str:
    """Every piece of text in a platform payload, as one string for assertions."""
    return json.dumps(payload, ensure_ascii=False)


async def outbox_settled(
    client: TestClient,
    platform: str,
    workspace: str,
    seconds: float = 15.0,
) -> None:
    """Wait until the running bot's outbox holds nothing unsent for `workspace` (delivered,
    or dead): what a command queued has then reached the fake platform."""
    from app.server import DATABASE, OUTBOX
    from storage import outbox

    app = client.server.app
    async with asyncio.timeout(seconds):
        while True:
            async with app[DATABASE].session() as session:
                if await outbox.unsettled(session, platform, workspace) == 0:
                    return
            app[OUTBOX].wake()
            await asyncio.sleep(0.02)
