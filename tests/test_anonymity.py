"""Anonymous votes cannot be linked to their voters from the database alone.

Each test plays the attacker of issue 16 against real traffic (signed Slack requests, Teams
activities with real tokens, the console) on SQLite and PostgreSQL: it reads the whole
database and tries every link that was found there (the vote row's transaction id shared with
a de-duplication row that names the conversation, the insertion order of the vote rows, a
reminder that names the people who have not voted) and asserts that none recovers a voter's
choice. The voters vote in the reverse order of their keyed hashes, so an order that still
followed the voting would map every voter to someone else's choice, and be caught.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, timedelta

from sqlalchemy import text
from sqlmodel import SQLModel, col, select

from app.server import BOT, DATABASE
from bot.message import DirectMessage
from storage.engine import Database
from storage.models import ConversationAddress, Poll
from storage.secret import voter_hash
from tests.helpers import number
from tests.test_scheduler import Platform, replica
from tests.test_slack import SlackHarness, slack  # noqa: F401  (fixture)
from tests.test_teams import ADMIN_AAD, TeamsHarness, keys, openid, sdk, teams  # noqa: F401

POLL_ID = r"Poll #(\d+) is up"
LABELS = ("Alpha", "Bravo", "Charlie", "Delta")
QUOTED = " ".join(f'"{label}"' for label in LABELS)
TABLES = [table.name for table in SQLModel.metadata.sorted_tables if table.name != "vote"]


def voting_order(key: bytes, poll_id: int, users: list[str]) -> list[str]:
    """The reverse of the hash order: vote rows kept in hash order then say nothing."""
    return sorted(users, key=lambda user: voter_hash(key, poll_id, user), reverse=True)


async def everything(db: Database) -> dict[str, list[tuple[str, str]]]:
    """Every row of every table but `vote`, as (transaction id or "", row text)."""
    found: dict[str, list[tuple[str, str]]] = {}
    async with db.reading() as session:
        for table in TABLES:
            if db.dialect == "postgresql":
                statement = f'SELECT t.xmin::text, t::text FROM "{table}" t'
            else:
                statement = f"SELECT '', * FROM \"{table}\""
            rows = (await session.exec(text(statement))).all()  # type: ignore[call-overload]
            found[table] = [(str(row[0]), " ".join(map(str, row[1:]))) for row in rows]
    return found


async def vote_rows(db: Database, poll_id: int) -> list[tuple[str, int, str]]:
    """The poll's vote rows in their physical order: (voter, position, transaction id)."""
    if db.dialect == "postgresql":
        statement = (
            "SELECT voter, position, xmin::text FROM vote WHERE poll_id = :p "
            "ORDER BY xmin::text::bigint, ctid"
        )
    else:
        statement = "SELECT voter, position, '' FROM vote WHERE poll_id = :p ORDER BY rowid"
    async with db.reading() as session:
        found = await session.exec(text(statement), params={"p": poll_id})  # type: ignore[call-overload]
        return [tuple(r) for r in found.all()]


async def attack(
    db: Database, poll_id: int, order: list[str], identities: dict[str, list[str]]
) -> dict[str, dict[str, set[int]]]:
    """What a reader of the database recovers, per method: person -> chosen positions.

    `order` is the order people voted in (an attacker learns it from chat activity);
    `identities` maps each person to strings that name them (user id, conversation id)."""
    votes = await vote_rows(db, poll_id)
    tables = await everything(db)
    by_voter: dict[str, set[int]] = {}
    for voter, position, _ in votes:
        by_voter.setdefault(voter, set()).add(position)
    by_order: dict[str, set[int]] = {}
    by_transaction: dict[str, set[int]] = {}

    def expanded(row_text: str) -> str:
        """A row's text plus the stored address of any conversation it names."""
        extra = [t for _, t in tables["conversation_address"] if _key_of(t) in row_text]
        return " ".join([row_text, *extra])

    def named(row_text: str) -> list[str]:
        return [p for p, names in identities.items() if any(n in row_text for n in names)]

    # 1. Insertion order (SQLite rowid; PostgreSQL xmin, then ctid) against the voting order.
    for person, voter in zip(order, dict.fromkeys(v for v, _, _ in votes), strict=False):
        by_order.setdefault(person, set()).update(by_voter[voter])
    # 2. The transaction: rows written with a vote row (same xmin) that name someone.
    if db.dialect == "postgresql":
        for _, position, xmin in votes:
            for table in tables.values():
                for row_xmin, row_text in table:
                    if row_xmin == xmin:
                        for person in named(expanded(row_text)):
                            by_transaction.setdefault(person, set()).add(position)
    # 3. The finding on SQLite: the k-th newest de-duplication row with the k-th vote row.
    else:
        async with db.reading() as session:
            newest = (
                await session.exec(  # type: ignore[call-overload]
                    text("SELECT event_id FROM inbound_event ORDER BY rowid DESC LIMIT :n"),
                    params={"n": len(by_voter)},
                )
            ).all()
        events = [row[0] for row in reversed(newest)]
        for event, voter in zip(events, dict.fromkeys(v for v, _, _ in votes), strict=False):
            for person in named(expanded(event)):
                by_transaction.setdefault(person, set()).update(by_voter[voter])
    return {"order": by_order, "transaction": by_transaction}


def _aware(at):  # type: ignore[no-untyped-def]
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _key_of(address_text: str) -> str:
    """The conversation key of a conversation_address row's text (its second column)."""
    parts = address_text.strip("()").replace(",", " ").split()
    return parts[1] if len(parts) > 1 else "\0"


def recovered(methods: dict[str, dict[str, set[int]]], truth: dict[str, int]) -> dict[str, int]:
    """How many voters each method matched to their own choice."""
    return {
        method: sum(guesses.get(person) == {chosen} for person, chosen in truth.items())
        for method, guesses in methods.items()
    }


async def assert_unlinkable(
    db: Database,
    key: bytes,
    poll_id: int,
    order: list[str],
    truth: dict[str, int],
    identities: dict[str, list[str]],
) -> None:
    votes = await vote_rows(db, poll_id)
    assert len(votes) == len(truth)
    # The rows' order is the hashes' order, and (PostgreSQL) one transaction wrote them all.
    assert [(v, p) for v, p, _ in votes] == sorted((v, p) for v, p, _ in votes)
    if db.dialect == "postgresql":
        assert len({xmin for _, _, xmin in votes}) == 1
    hashes = {voter_hash(key, poll_id, person) for person in truth}
    assert {v for v, _, _ in votes} == hashes  # keyed hashes only, no name
    # Whatever shares the vote's transaction names nobody; no row anywhere holds a hash.
    tables = await everything(db)
    xmin = votes[0][2]
    for table, rows in tables.items():
        for row_xmin, row_text in rows:
            assert not any(h in row_text for h in hashes), table
            if db.dialect == "postgresql" and row_xmin == xmin:
                names = [n for ns in identities.values() for n in ns]
                assert not any(n in row_text for n in names), (table, row_text)
    found = recovered(await attack(db, poll_id, order, identities), truth)
    assert found == {"order": 0, "transaction": 0}


def assert_no_vote_in_logs(records, people: list[str], hashes: list[str], poll_id: int, truth):
    """No log line, at any level, shows a voter's hash, their command, or them with their
    choice."""
    for record in records:
        line = record.getMessage()
        assert not any(h in line for h in hashes), line
        assert f"vote {poll_id} " not in line, line
        for person in people:
            assert not (person in line and LABELS[truth[person] - 1] in line), line


async def test_anonymous_teams_votes_cannot_be_linked_to_their_voters(
    teams: TeamsHarness,  # noqa: F811
    caplog,
):
    suffix = uuid.uuid4().hex[:8]
    people = [f"29:voter-{i}-{suffix}" for i in range(4)]
    chats = {person: f"a:personal-{i}-{suffix}" for i, person in enumerate(people)}
    directory = {person: str(uuid.uuid4()) for person in people}

    async def say(person: str, text: str) -> None:  # in their own 1:1 chat with the bot
        activity = teams.activity("message_personal.json")
        activity["from"] = {"id": person, "aadObjectId": directory[person], "name": person}
        activity["conversation"]["id"] = chats[person]
        activity["text"] = text
        assert (await teams.post(activity)).status == 201

    for person in people:  # they have talked to the bot before
        await say(person, "help")
    admin = {"id": "29:1user-alice-synthetic", "aadObjectId": ADMIN_AAD, "name": "Alice"}
    await teams.say(f'poll "Pick one" {QUOTED} anonymous', user=admin)
    poll_id = number(POLL_ID, teams.texts())
    app = teams.client.server.app
    order = voting_order(app[BOT].voter_key, poll_id, people)
    truth = {person: position for position, person in enumerate(order, start=1)}
    caplog.set_level(logging.DEBUG)  # every log line
    for person in order:  # by text: the command names the option
        await say(person, f"vote {poll_id} {truth[person]}")
    assert f"Your vote is '{LABELS[0]}'" in teams.texts()
    # Voting rewrote none of their stored 1:1 addresses, which name them.
    async with app[DATABASE].reading() as session:
        created = (await session.exec(select(Poll.created_at).where(Poll.id == poll_id))).one()
        keys = [f"user:{p}" for p in people] + list(chats.values())
        touched = await session.exec(
            select(ConversationAddress.key, ConversationAddress.updated_at).where(
                col(ConversationAddress.key).in_(keys)
            )
        )
        rows = touched.all()
    assert len(rows) == 8 and all(_aware(at) <= _aware(created) for _, at in rows), rows
    identities = {p: [p, chats[p]] for p in people}
    key = app[BOT].voter_key
    await assert_unlinkable(app[DATABASE], key, poll_id, order, truth, identities)
    hashes = [voter_hash(key, poll_id, p) for p in people]
    assert_no_vote_in_logs(caplog.records, people, hashes, poll_id, truth)


async def test_anonymous_slack_votes_cannot_be_linked_to_their_voters(
    slack: SlackHarness,  # noqa: F811
    caplog,
):
    answer = await slack.command(f'poll "Pick one" {QUOTED} anon')
    poll_id = number(POLL_ID, str(answer))
    app = slack.client.server.app
    people = [f"UV{i}{uuid.uuid4().hex[:6].upper()}" for i in range(4)]
    order = voting_order(app[BOT].voter_key, poll_id, people)
    truth = {person: position for position, person in enumerate(order, start=1)}
    caplog.set_level(logging.DEBUG)  # every log line, the SQL driver's included
    for n, person in enumerate(order):
        if n % 2:  # buttons and the text twin
            assert (await slack.click(f"{poll_id}:{truth[person]}", person, person)) == 200
            await slack.settled()
        else:
            await slack.command(f"vote {poll_id} {truth[person]}", user=person, name=person)
    await slack.settled()
    identities = {p: [p] for p in people}
    key = app[BOT].voter_key
    await assert_unlinkable(app[DATABASE], key, poll_id, order, truth, identities)
    hashes = [voter_hash(key, poll_id, p) for p in people]
    assert_no_vote_in_logs(caplog.records, people, hashes, poll_id, truth)


async def test_console_votes_in_an_anonymous_poll_are_unlinkable(chat, bot, database):
    poll_id = number(POLL_ID, await chat.say(f'poll "Pick one" {QUOTED} anon'))
    people = ["bob", "carol", "dan", "erin"]
    order = voting_order(bot.voter_key, poll_id, people)
    truth = {person: position for position, person in enumerate(order, start=1)}
    for person in order:
        await chat.say(f"vote {poll_id} {truth[person]}", user=person)
    # Changing a vote rewrites the rows again: still one transaction, still hash order.
    await chat.say(f"vote {poll_id} {truth[order[0]]}", user=order[0])
    await assert_unlinkable(database, bot.voter_key, poll_id, order, truth, {})


async def test_reminders_of_an_anonymous_poll_keep_no_recipient_once_delivered(
    chat, bot, clock, database
):
    for member in ("li", "mo", "ned"):
        await chat.say(f"committee add @{member} finance")
    poll_id = number(
        POLL_ID, await chat.say('poll "Budget?" "A" "B" committee anonymous closes in 3h')
    )
    anonymous_reminders = poll_id
    plain = number(POLL_ID, await chat.say('poll "Open?" "A" "B" committee closes in 3h'))
    await chat.say(f"vote {poll_id} 1", user="li")
    await chat.say(f"vote {plain} 1", user="li")
    platform = Platform(bot, chat.workspace)
    clock.now += timedelta(hours=2, minutes=1)  # inside the 24 h default lead: due at once
    ran = await replica(bot, platform).tick()
    assert f"poll-remind:{anonymous_reminders}" in ran and f"poll-remind:{plain}" in ran
    reminded = sorted(dm.user_id for dm in platform.items(DirectMessage))
    assert reminded == ["mo", "mo", "ned", "ned"]  # both polls' reminders were delivered
    outbox = [row for _, row in (await everything(database))["outbox"]]
    anonymous_rows = [row for row in outbox if f"poll #{poll_id} " in row]
    plain_rows = [row for row in outbox if f"poll #{plain} " in row]
    assert anonymous_rows == []  # who had not voted is not kept
    assert len(plain_rows) == 2  # a poll that is not anonymous keeps its delivered rows


async def test_the_unanimous_tally_is_what_remains(chat, bot) -> None:
    """The README's honest limit: counts are public, so when everyone chose the same option,
    the tally itself says what each voter chose. Nothing in storage adds to that."""
    poll_id = number(POLL_ID, await chat.say('poll "Same?" "Yes" "No" anon'))
    for person in ("bob", "carol"):
        await chat.say(f"vote {poll_id} 1", user=person)
    assert "1. Yes: 2 votes" in await chat.say(f"poll results {poll_id}")
    assert "bob" not in await chat.say(f"poll results {poll_id}")
