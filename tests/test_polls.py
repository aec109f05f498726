"""Polls: creation rules, voting, changing votes, deadlines, committee polls, anonymity."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from adapters.console.adapter import PLACE
from bot.events import ActionEvent, Actor
from bot.message import ChannelPost, Reply, Update
from storage.models import Poll, Vote
from tests.helpers import number, rows

POLL_ID = r"Poll #(\d+) is up"


async def test_poll_with_buttons_votes_and_changes(chat):
    outcome = await chat.outcome('poll "Adopt a tagging policy?" "Yes" "No" "Later"')
    post = next(i for i in outcome.items if isinstance(i, ChannelPost))
    assert post.subject.startswith("poll:")
    buttons = [
        b for block in post.message.blocks if hasattr(block, "buttons") for b in block.buttons
    ]
    assert [b.label for b in buttons] == ["Yes", "No", "Later"]
    poll_id = int(post.subject.split(":")[1])
    assert buttons[1].command == f"vote {poll_id} 2"

    assert "Your vote is 'No'" in await chat.say(f"vote {poll_id} 2", user="bob")
    assert "Changed your vote to 'Yes'" in await chat.say(f"vote {poll_id} 1", user="bob")
    await chat.say(f"vote {poll_id} 1", user="carol")
    results = await chat.say(f"poll results {poll_id}")
    assert "1. Yes: 2 votes (bob, carol)" in results
    assert "2. No: 0 votes" in results


async def test_button_click_records_the_vote_and_updates_in_place(chat, bot):
    poll_id = number(POLL_ID, await chat.say('poll "Pick" "A" "B"'))
    click = ActionEvent(
        actor=Actor("console", chat.workspace, "dan", "Dan"),
        place=PLACE,
        action_id="poll.vote",
        value=f"{poll_id}:2",
    )
    outcome = await bot.handle(click)
    update = next(i for i in outcome.items if isinstance(i, Update))
    assert update.subject == f"poll:{poll_id}"
    current = await bot.view(click.actor, update.subject)
    assert "2. B: 1 vote (Dan)" in str(current.blocks)


async def test_multi_choice_toggles(chat):
    poll_id = number(POLL_ID, await chat.say('poll "Topics?" "Spot" "RIs" "Tags" multi'))
    await chat.say(f"vote {poll_id} 1", user="bob")
    await chat.say(f"vote {poll_id} 3", user="bob")
    assert "1. Spot: 1 vote" in await chat.say(f"poll results {poll_id}")
    assert "Removed your vote for 'Spot'" in await chat.say(f"vote {poll_id} 1", user="bob")
    results = await chat.say(f"poll results {poll_id}")
    assert "1. Spot: 0 votes" in results and "3. Tags: 1 vote" in results


async def test_bad_polls_are_refused_and_nothing_stored(chat, database, workspace):
    bad = [
        'poll "Only one?" "Yes"',
        'poll "Unclosed "Yes" "No',
        "poll Lunch? Pizza Sushi",
        'poll Deadline "A" "B"',
        'poll "Q" "A" "B" closes',
        'poll "Q" "A" "B" closes yesterday-ish',
        'poll "' + "q" * 301 + '" "A" "B"',
        'poll "Q" "' + "o" * 76 + '" "B"',
        'poll "Q" "A" "a"',
        'poll "Q" ' + " ".join(f'"{i}"' for i in range(11)),
    ]
    for line in bad:
        answer = await chat.say(line)
        assert "Usage: poll" in answer, (line, answer)
    assert await rows(database, Poll, workspace) == 0
    for line in ["vote abc", "vote 1", "vote 999999 1"]:
        answer = await chat.say(line)
        assert "vote" in answer.lower() and "Traceback" not in answer


async def test_deadline_closes_voting_even_before_anyone_closes_it(chat, clock):
    poll_id = number(POLL_ID, await chat.say('poll "Q?" "A" "B" closes in 4h'))
    assert "Your vote is 'A'" in await chat.say(f"vote {poll_id} 1", user="bob")
    clock.now += timedelta(hours=5)
    assert "is closed" in await chat.say(f"vote {poll_id} 2", user="bob")
    assert "1. A: 1 vote" in await chat.say(f"poll results {poll_id}")
    assert "No open polls" in await chat.say("polls")


async def test_close_by_creator_or_admin_posts_results(chat):
    poll_id = number(POLL_ID, await chat.say('poll "Q?" "A" "B"', user="bob"))
    assert "Only the poll's creator" in await chat.say(f"poll close {poll_id}", user="carol")
    outcome = await chat.outcome(f"poll close {poll_id}", user="bob")
    assert any(isinstance(i, ChannelPost) and "closed" in i.message.text for i in outcome.items)
    assert "is closed" in await chat.say(f"vote {poll_id} 1", user="carol")


async def test_committee_polls(chat):
    refused = await chat.say('poll "Budget?" "A" "B" committee', user="bob")
    assert "Only steering committee members and admins" in refused
    await chat.say("committee add @maria finance")
    await chat.say("committee add @eng engineering")
    poll_id = number(POLL_ID, await chat.say('poll "Budget?" "A" "B" committee', user="maria"))
    assert "committee members only" in await chat.say(f"vote {poll_id} 1", user="bob")
    await chat.say(f"vote {poll_id} 1", user="maria")
    results = await chat.say(f"poll results {poll_id}")
    assert "1 of 2 committee members" in results
    assert "waiting for eng" in results


async def test_anonymous_poll_reveals_counts_only(chat, database, workspace):
    answer = await chat.say('poll "Rate the meeting" "Good" "Bad" anonymous committee')
    poll_id = number(POLL_ID, answer)
    await chat.say("committee add @maria finance")
    await chat.say("committee add @ada practitioner")
    outputs = [await chat.say(f"vote {poll_id} 2", user="maria")]
    outputs.append(await chat.say(f"vote {poll_id} 1", user="maria"))  # changed, still one vote
    outputs.append(await chat.say(f"poll results {poll_id}"))
    outputs.append(await chat.say("polls"))
    outputs.append(await chat.say("digest"))
    results = outputs[2]
    assert "1. Good: 1 vote" in results and "2. Bad: 0 votes" in results
    assert "1 of 2 committee members" in results
    for text in outputs[2:]:
        assert "maria" not in text, text
    async with database.session() as session:
        votes = (await session.exec(select(Vote).where(Vote.poll_id == poll_id))).all()
    assert len(votes) == 1
    assert votes[0].voter != "maria" and "maria" not in votes[0].voter
    assert votes[0].voter_name is None
    assert await rows(database, Poll, workspace) == 1


async def test_vote_reply_is_private(chat):
    poll_id = number(POLL_ID, await chat.say('poll "Q?" "A" "B"'))
    outcome = await chat.outcome(f"vote {poll_id} 1", user="bob")
    replies = [i for i in outcome.items if isinstance(i, Reply)]
    assert replies and all(r.audience.value == "asker" for r in replies)


async def test_big_polls_name_a_few_voters_and_count_the_rest(chat):
    poll_id = number(POLL_ID, await chat.say('poll "Q?" "A" "B"'))
    for n in range(30):
        await chat.say(f"vote {poll_id} 1", user=f"voter{n:02d}")
    results = await chat.say(f"poll results {poll_id}")
    assert "1. A: 30 votes (voter00, voter01" in results
    assert "and 5 others)" in results and "voter29" not in results


async def test_committee_reminder_lead_per_poll(chat, database, workspace):
    await chat.say("committee add @maria finance")
    lines = {
        "own lead": 'poll "Q?" "A" "B" committee closes in 3d remind 2h',
        "minutes": 'poll "Q?" "A" "B" committee closes in 3d remind 90m',
        "default": 'poll "Q?" "A" "B" committee closes in 3d',
        "off": 'poll "Q?" "A" "B" committee closes in 3d remind off',
        "not committee": 'poll "Q?" "A" "B" closes in 3d',
        "no deadline": 'poll "Q?" "A" "B" committee',
    }
    answers = {name: await chat.say(line) for name, line in lines.items()}
    ids = {name: number(POLL_ID, answer) for name, answer in answers.items()}
    async with database.session() as session:
        polls = {p.id: p for p in (await session.exec(select(Poll))).all() if p.id in ids.values()}
    leads = {
        name: polls[i].closes_at - polls[i].remind_at if polls[i].remind_at else None
        for name, i in ids.items()
    }
    assert leads == {
        "own lead": timedelta(hours=2),
        "minutes": timedelta(minutes=90),
        "default": timedelta(hours=24),  # FINOPS_POLL_REMINDER_HOURS
        "off": None,
        "not committee": None,
        "no deadline": None,
    }
    assert "· reminder 2 hours before ·" in str(
        (await chat.outcome(f"poll results {ids['own lead']}")).items
    )
    assert "reminder" not in await chat.say(f"poll results {ids['off']}")


async def test_bad_reminders_are_refused_and_nothing_stored(chat, database, workspace):
    bad = {
        'poll "Q?" "A" "B" committee remind 2h': "needs `closes <when>`",
        'poll "Q?" "A" "B" closes in 3d remind 2h': "needs `committee`",
        'poll "Q?" "A" "B" closes in 3d remind off': "needs `committee`",
        'poll "Q?" "A" "B" committee closes in 3d remind soon': "cannot read the reminder lead",
        'poll "Q?" "A" "B" committee closes in 3d remind 2.5h': "cannot read the reminder lead",
        'poll "Q?" "A" "B" committee closes in 3d remind -2h': "cannot read the reminder lead",
        'poll "Q?" "A" "B" committee closes in 3d remind': "say how long before the deadline",
        'poll "Q?" "A" "B" committee closes in 3d remind 2h remind 1h': "`remind` is given twice",
    }
    for line, problem in bad.items():
        answer = await chat.say(line)
        assert "Usage: poll" in answer and problem in answer.lower(), (line, answer)
    assert await rows(database, Poll, workspace) == 0
