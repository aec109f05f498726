"""Storage: migrations match the models, URL forms, and concurrent writers on one database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

from bot.events import Actor, CommandEvent, Place
from storage.engine import Database, DatabaseURLError, async_url
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from storage.models import Win
from tests.helpers import create_postgres_database, drop_postgres_database, rows


async def test_migrations_match_the_models(database: Database):
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    async with database.engine.connect() as connection:
        assert await connection.run_sync(current_revision) == head_revision()


@pytest.mark.parametrize(
    ("written", "driver"),
    [
        ("sqlite:///bot.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///bot.db", "sqlite+aiosqlite"),
        ("postgresql://u:p@db.internal/finops", "postgresql+asyncpg"),
        ("postgres://u:p@db.internal/finops", "postgresql+asyncpg"),
        ("postgresql+psycopg2://u:p@db.internal/finops", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u:p@db.internal/finops", "postgresql+asyncpg"),
    ],
)
def test_database_url_forms(written: str, driver: str):
    url = async_url(written)
    assert url.drivername == driver
    assert url.database in ("bot.db", "finops")


@pytest.mark.parametrize("bad", ["mysql://u@h/db", "not a url", ""])
def test_unsupported_database_urls_are_refused(bad: str):
    with pytest.raises(DatabaseURLError):
        async_url(bad)


async def test_concurrent_writers_lose_nothing(settings, clock, workspace):
    """Two bots with their own engines (as two processes would be) log wins at once."""
    from bot.core import Bot

    bots = [Bot(settings, Database(settings.database_url), clock=clock) for _ in range(2)]
    place = Place("console", "console")

    async def log(bot: Bot, user: str) -> list[str]:
        answers = []
        for i in range(10):
            event = CommandEvent(Actor("console", workspace, user, user), place, f"win W{i} $10")
            outcome = await bot.handle(event)
            answers += [item.message.text for item in outcome.items]
        return answers

    try:
        results = await asyncio.gather(log(bots[0], "u1"), log(bots[1], "u2"))
    finally:
        for bot in bots:
            await bot.database.dispose()
    assert not any("went wrong" in text for answers in results for text in answers)
    assert await rows(bots[0].database, Win, workspace) == 20


REMINDER_REVISION = "0006"  # poll.remind_at, backfilled for open committee polls


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A database of its own, with no schema yet (the shared ones are at head already)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    request.getfixturevalue("postgresql_url")  # skips, or fails under CI, without a server
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


async def test_reminder_migration_backfills_open_committee_polls(empty_database_url: str):
    def table(name: str, *names: str) -> sa.TableClause:  # the models have newer columns
        return sa.table(
            name,
            *(sa.column(n, UTCDateTime()) if n.endswith("_at") else sa.column(n) for n in names),
        )

    workspace = table("workspace", "id", "platform", "external_id", "created_at")
    poll = table(
        "poll",
        *("id", "workspace_id", "creator_id", "creator_name", "question", "anonymous", "multi"),
        *("committee", "conversation_id", "conversation_name", "created_at", "closes_at"),
        *("closed_at", "remind_at"),
    )
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    deadline = now + timedelta(days=2)
    polls = {  # id: (committee, closes_at, closed_at)
        1: (True, deadline, None),  # open committee poll with a deadline: reminded 24 h before
        2: (True, now - timedelta(hours=1), now - timedelta(hours=1)),  # closed
        3: (False, deadline, None),  # not a committee poll
        4: (True, None, None),  # no deadline
    }

    def before(connection) -> None:  # type: ignore[no-untyped-def]
        down = ScriptDirectory.from_config(alembic_config()).get_revision(REMINDER_REVISION)
        command.upgrade(alembic_config(connection), down.down_revision)
        connection.execute(
            workspace.insert().values(id=1, platform="console", external_id="w", created_at=now)
        )
        for poll_id, (committee, closes_at, closed_at) in polls.items():
            connection.execute(
                poll.insert().values(
                    id=poll_id,
                    workspace_id=1,
                    creator_id="ada",
                    creator_name="ada",
                    question="Q?",
                    anonymous=False,
                    multi=False,
                    committee=committee,
                    conversation_id="c",
                    conversation_name="c",
                    created_at=now,
                    closes_at=closes_at,
                    closed_at=closed_at,
                )
            )

    database = Database(empty_database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(before)
        await upgrade(database)
        async with database.engine.connect() as connection:
            stored = await connection.execute(sa.select(poll.c.id, poll.c.remind_at))
            reminders = {poll_id: remind_at for poll_id, remind_at in stored}
    finally:
        await database.dispose()
    assert reminders == {1: deadline - timedelta(hours=24), 2: None, 3: None, 4: None}


async def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path):
    import os
    import stat

    from tests.helpers import migrate

    url = f"sqlite:///{tmp_path / 'private.db'}"
    old = os.umask(0o022)  # a usual umask, which would give 0644
    try:
        await migrate(url)
        database = Database(url)
        try:
            async with database.session() as session:  # a write: the WAL holds it for now
                await session.exec(sa.text("CREATE TABLE probe (x INTEGER)"))
            names = ["private.db", "private.db-wal", "private.db-shm"]
            modes = {n: stat.S_IMODE((tmp_path / n).stat().st_mode) for n in names}
            assert modes == dict.fromkeys(names, 0o600)
        finally:
            await database.dispose()
    finally:
        os.umask(old)


async def test_old_deduplication_keys_are_pruned_but_once_ever_keys_stay(database):
    from storage.deliveries import claim_event, prune_events

    old, recent = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)
    tag = f"{id(database)}-{datetime.now(UTC).timestamp()}"
    async with database.session() as session:
        assert await claim_event(session, "slack", f"old-{tag}", now=old)
        assert await claim_event(session, "slack", f"intro:{tag}", now=old)
        assert await claim_event(session, "slack", f"new-{tag}", now=recent)
    async with database.session() as session:
        await prune_events(session, recent - timedelta(days=1))
    async with database.session() as session:
        assert await claim_event(session, "slack", f"old-{tag}", now=recent)  # forgotten: new again
        assert not await claim_event(session, "slack", f"intro:{tag}", now=recent)
        assert not await claim_event(session, "slack", f"new-{tag}", now=recent)


async def test_the_anonymity_migration_rewrites_earlier_votes_in_hash_order(
    empty_database_url: str,
):
    """Votes cast before revision 0016 were stored in voting order beside a de-duplication
    row naming the Teams conversation; after it, the rows follow the hashes and the raw
    keys and delivered reminders are gone (the once-ever `intro:` keys stay)."""
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    voters = ["f" * 48, "a" * 48, "c" * 48]  # voting order, not hash order

    def before(connection) -> None:  # type: ignore[no-untyped-def]
        command.upgrade(alembic_config(connection), "0014")  # the revision before ours
        connection.execute(
            sa.text(
                "INSERT INTO workspace (id, platform, external_id, created_at) "
                "VALUES (1, 'teams', 't', :now)"
            ),
            {"now": now},
        )
        for poll_id, anonymous in ((1, True), (2, False)):
            connection.execute(
                sa.text(
                    "INSERT INTO poll (id, workspace_id, creator_id, creator_name, question, "
                    "anonymous, multi, committee, conversation_id, conversation_name, created_at)"
                    " VALUES (:id, 1, 'ada', 'ada', 'Q?', :anon, false, false, 'c', 'c', :now)"
                ),
                {"id": poll_id, "anon": anonymous, "now": now},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO poll_option (poll_id, position, label) VALUES (:p, 1, 'A'), "
                    "(:p, 2, 'B'), (:p, 3, 'C')"
                ),
                {"p": poll_id},
            )
        for position, voter in enumerate(voters, start=1):
            for poll_id in (1, 2):
                connection.execute(
                    sa.text(
                        "INSERT INTO vote (poll_id, voter, position, voter_name) "
                        "VALUES (:p, :v, :pos, NULL)"
                    ),
                    {"p": poll_id, "v": voter, "pos": position},
                )
            connection.execute(
                sa.text(
                    "INSERT INTO inbound_event (platform, event_id, received_at) "
                    "VALUES ('teams', :e, :now)"
                ),
                {"e": f"a:personal-{position}:17000000{position}", "now": now},
            )
        connection.execute(
            sa.text(
                "INSERT INTO inbound_event (platform, event_id, received_at) "
                "VALUES ('teams', 'intro:19:general', :now)"
            ),
            {"now": now},
        )

    database = Database(empty_database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(before)
        await upgrade(database)
        order = "xmin::text::bigint, ctid" if database.dialect == "postgresql" else "rowid"
        async with database.engine.connect() as connection:
            stored = await connection.execute(
                sa.text(f"SELECT poll_id, voter FROM vote ORDER BY {order}")
            )
            by_poll: dict[int, list[str]] = {}
            for poll_id, voter in stored:
                by_poll.setdefault(poll_id, []).append(voter)
            events = await connection.execute(sa.text("SELECT event_id FROM inbound_event"))
            kept = [row[0] for row in events]
    finally:
        await database.dispose()
    assert by_poll[1] == sorted(voters)  # anonymous: hash order
    assert by_poll[2] == voters  # named votes are left as they were
    assert kept == ["intro:19:general"]
