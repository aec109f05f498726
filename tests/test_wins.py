"""Wins, end to end through the console adapter, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta

from sqlmodel import func, select

from adapters.console.adapter import PLACE
from bot.core import Bot
from bot.events import Actor, CommandEvent
from bot.message import ChannelPost, DirectMessage, Reply
from storage.engine import Database
from storage.models import Win, Workspace


async def count_wins(database, workspace: str) -> int:
    async with database.session() as session:
        statement = (
            select(func.count())
            .select_from(Win)
            .join(Workspace, Workspace.id == Win.workspace_id)
            .where(Workspace.external_id == workspace)
        )
        return (await session.exec(statement)).one()


async def test_win_is_recorded_celebrated_and_credited(chat, database, workspace):
    outcome = await chat.outcome("win Rightsized 40 dev VMs $3,200/mo #rightsizing @jane")
    kinds = [type(item) for item in outcome.items]
    assert kinds == [ChannelPost, DirectMessage, Reply]
    post, dm, reply = outcome.items
    assert "Rightsized 40 dev VMs" in post.message.text
    assert dm.user_id == "jane"
    assert "win undo " in reply.message.text
    listing = await chat.say("wins")
    assert "3,200 USD/mo (38,400 USD a year)" in listing
    assert "ada, jane" in listing
    assert await count_wins(database, workspace) == 1


async def test_acceptance_example_totals_39900(chat):
    await chat.say("win Rightsized 40 dev VMs $3,200/mo #usage-optimization")
    await chat.say("win Deleted idle disks 1.5k USD one-time")
    assert "annualised savings 39,900 USD" in await chat.say("wins")


async def test_bad_input_stores_nothing(chat, database, workspace):
    for line in ["win", "win $", "win Saved -500", "win " + "x" * 5000, "win a $5 and $7"]:
        answer = await chat.say(line)
        assert "Usage: win" in answer and "Example:" in answer, line
        assert "Traceback" not in answer
    assert await count_wins(database, workspace) == 0


def win_id(answer: str) -> int:
    return int(re.search(r"Logged win #(\d+)", answer)[1])


async def test_undo_by_author_or_admin_only(chat):
    logged = win_id(await chat.say("win Deleted snapshots $100", user="bob"))
    refused = await chat.say(f"win undo {logged}", user="carol")
    assert "Only the author" in refused
    assert f"Undid win #{logged}" in await chat.say(f"win undo {logged}", user="bob")
    assert "none yet" in await chat.say("wins")


async def test_rate_limit_per_person_per_hour(chat, clock, settings):
    limit = settings.win_rate_limit
    for i in range(limit):
        assert "Logged win" in await chat.say(f"win Cleanup {i} $1", user="bob")
    refused = await chat.say("win One too many $1", user="bob")
    assert f"{limit} wins in the last hour" in refused
    assert "Logged win" in await chat.say("win Someone else $1", user="carol")
    clock.now += timedelta(minutes=61)
    assert "Logged win" in await chat.say("win Later $1", user="bob")


async def test_rate_limit_holds_when_twenty_arrive_at_once(settings, clock, workspace):
    """20 wins from one person at the same moment, through four bots with their own
    connection pools (replicas), limit 5: exactly 5 are stored, 15 refused."""
    limited = settings.model_copy(update={"win_rate_limit": 5})
    replicas = [Database(limited.database_url) for _ in range(4)]
    try:
        bots = [Bot(limited, database, clock=clock) for database in replicas]
        actor = Actor("console", workspace, "bob", "Bob")
        await bots[0].handle(CommandEvent(actor, PLACE, "help"))  # the workspace row first
        outcomes = await asyncio.gather(
            *(
                bots[i % 4].handle(CommandEvent(actor, PLACE, f"win Burst {i} $1"))
                for i in range(20)
            )
        )
        answers = [" ".join(r.message.text for r in o.replies()) for o in outcomes]
        assert sum("Logged win" in a for a in answers) == 5, answers
        assert sum("in the last hour, the limit" in a for a in answers) == 15, answers
        assert await count_wins(replicas[0], workspace) == 5
    finally:
        for database in replicas:
            await database.dispose()


async def test_credits_avoidance_and_filters(chat):
    await chat.say("win Blocked oversized GPU request $20k/mo #avoidance @li @li @ada")
    await chat.say("win Bought savings plan 5k/mo #commitments @li")
    await chat.say("win Tagged every bucket #tagging")
    listing = await chat.say("wins")
    assert "(avoidance)" in listing
    assert "annualised savings 60,000 USD · cost avoided 240,000 USD" in listing
    assert "ada, li" in listing  # author first, each person once
    only_rate = await chat.say("wins #rate-optimization")
    assert "Bought savings plan" in only_rate and "Blocked" not in only_rate
    only_li = await chat.say("wins all @li")
    assert "Bought savings plan" in only_li and "Tagged every bucket" not in only_li
    board = await chat.say("leaderboard")
    assert "🥇 ada: 3 wins, 60,000 USD annualised" in board
    assert "li: 2 wins, 60,000 USD annualised" in board


async def test_edit_replaces_the_win_and_totals_follow_for_author_or_admin(
    chat, database, workspace
):
    logged = win_id(await chat.say("win Deleted idle disks $400/mo @jane", user="bob"))
    assert "annualised savings 4,800 USD" in await chat.say("wins")
    refused = await chat.say(f"win edit {logged} Deleted idle disks $1", user="carol")
    assert "Only the author" in refused
    edited = await chat.say(
        f"win edit {logged} Deleted idle disks and snapshots $450/mo", user="bob"
    )
    assert f"Edited win #{logged}: Deleted idle disks and snapshots (450 USD/mo" in edited
    listing = await chat.say("wins")
    assert "annualised savings 5,400 USD" in listing and "1 win " in listing
    assert "jane" not in listing  # the people were replaced too; the author stays
    assert "Edited win" in await chat.say(f"win edit {logged} Deleted disks 2k EUR/yr")  # admin
    assert "annualised savings 2,000 EUR" in await chat.say("wins")
    assert await count_wins(database, workspace) == 1
    await chat.say(f"win undo {logged}")
    assert "was undone" in await chat.say(f"win edit {logged} Again $5")


async def test_an_edit_of_the_figures_alone_keeps_the_text_tags_and_people(chat, database):
    logged = win_id(await chat.say("win Rightsized VMs $300/mo #rightsizing @jane", user="bob"))
    edited = await chat.say(f"win edit {logged} $8,000/mo", user="bob")
    assert f"Edited win #{logged}: Rightsized VMs (8,000 USD/mo" in edited
    listing = await chat.say("wins")
    assert f"#{logged} Rightsized VMs: 8,000 USD/mo (96,000 USD a year) · bob, jane" in listing
    assert f"#{logged} Rightsized VMs: 8,000 USD/mo" in await chat.say("wins all #rightsizing")
    # New people (or tags) given with the figures replace the old ones, as a whole edit does.
    await chat.say(f"win edit {logged} $9/mo @li", user="bob")
    assert f"#{logged} Rightsized VMs: 9 USD/mo (108 USD a year) · bob, li" in await chat.say(
        "wins"
    )
    assert f"#{logged} Rightsized VMs" in await chat.say("wins all #rightsizing")  # tag kept


async def test_the_leaderboard_filters_by_category_and_avoidance(chat):
    await chat.say("win Rightsized VMs $300/mo #rightsizing", user="bob")
    await chat.say("win Deleted disks $100/mo", user="li")
    await chat.say("win Stopped a dev env $50/mo #avoidance", user="li")
    board = await chat.say("leaderboard")
    assert "li: 2 wins, 1,200 USD annualised" in board  # avoidance is not a saving
    avoided = await chat.say("leaderboard all #avoidance")
    assert "Leaderboard all time in #avoidance" in avoided
    assert "li: 1 win, 600 USD avoided a year" in avoided and "bob" not in avoided
    rightsizing = await chat.say("leaderboard #rightsizing")
    assert "bob: 1 win, 3,600 USD annualised" in rightsizing and "li:" not in rightsizing
    assert "ranks everyone" in await chat.say("leaderboard @bob")


async def test_rate_limit_says_when_the_next_win_is_accepted(chat, clock, settings):
    limit = settings.win_rate_limit
    first = clock.now
    for i in range(limit):
        await chat.say(f"win Cleanup {i} $1", user="bob")
        clock.now += timedelta(minutes=1)
    refused = await chat.say("win One too many $1", user="bob")
    next_at = first + timedelta(hours=1, seconds=59)  # the workspace time zone is UTC here
    assert f"the next one is accepted from {next_at:%H:%M}" in refused


async def test_avoidance_filter_and_me(chat):
    await chat.say("win Blocked oversized GPU request $20k/mo #avoidance", user="bob")
    await chat.say("win Bought savings plan $5k/mo", user="carol")
    avoided = await chat.say("wins all #avoidance")
    assert "Blocked oversized GPU request" in avoided and "savings plan" not in avoided
    for mine in ("wins all mine", "wins all @me"):
        listing = await chat.say(mine, user="carol")
        assert "Bought savings plan" in listing and "GPU" not in listing
    assert "is not a person" in await chat.say("wins all @here")


async def test_control_characters_and_bidi_overrides_never_reach_storage(chat):
    answer = await chat.say("win Deleted\x00 idle\u202e disks\x07 $400")
    assert "Logged win" in answer
    listing = await chat.say("wins")
    assert "Deleted idle disks" in listing
    assert "\x00" not in listing and "\u202e" not in listing and "\x07" not in listing


async def test_a_cut_list_of_wins_says_how_many_there_are(chat):
    for n in range(22):
        await chat.say(f"win Cleanup {n} $10", user="ada" if n % 2 else "bob")
    listed = await chat.say("wins")
    assert "The latest 20 of 22 wins; narrow the period or filter." in listed
    assert "of 11 wins" not in await chat.say("wins @bob")  # 11 fit: nothing is cut


async def test_debug_logging_never_writes_message_text(chat, caplog):
    """At DEBUG, with SQLAlchemy's own loggers turned up too (they stay at WARNING unless
    asked), the statements are logged and the values bound to them (people's text) are not,
    neither by the engine nor by the driver (aiosqlite logs every call at DEBUG)."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    assert "Logged win" in await chat.say("win Zanzibar-quokka cleanup $5", user="bob")
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)  # it was on
    assert "Zanzibar-quokka" not in caplog.text
