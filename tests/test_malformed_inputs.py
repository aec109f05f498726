"""Sixty-plus malformed inputs, as a new user types them: each answer names the problem, nothing
is stored, no traceback; on SQLite and PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from storage.models import Poll, Win, WinCredit, Workspace

# (what is typed, a piece of the answer that names the problem)
MALFORMED = [
    # subcommands and their typos are never wins
    ("win udno 3", "did you mean `win undo 3`?"),
    ("win undoo 3", "did you mean `win undo 3`?"),
    ("win Undo 3", "there is no win #3"),
    ("win edti 6 $8,000", "did you mean `win edit 6 $8,000`?"),
    ("win eidt 6 $8,000", "did you mean `win edit 6 $8,000`?"),
    ("win edit 6 $8,000", "there is no win #6"),
    ("win edit", "give the win number"),
    ("win edit six $8,000", "'six' is not a win number"),
    ("win undo", "give the win number"),
    ("win undo x", "'x' is not a win number"),
    ("win undo 0", "'0' is not a win number"),
    ("win undo 99999999999999", "is not a win number"),
    # currencies that are not ISO 4217 codes in use
    ("win Crypto 500 BTC", "'BTC' is not an ISO 4217 currency in use"),
    ("win Crypto 500 btc", "'btc' is not an ISO 4217 currency in use"),
    ("win Paid 500 ETH less", "'ETH' is not an ISO 4217 currency in use"),
    ("win Saved 500 XYZ", "'XYZ' after a number reads as a currency"),
    ("win Saved 500 DEM", "'DEM' is not an ISO 4217 currency in use"),
    ("win Saved 500 FRF", "'FRF' is not an ISO 4217 currency in use"),
    ("win Saved 500 ITL", "'ITL' is not an ISO 4217 currency in use"),
    ("win Saved 500 ABC #tagging", "'ABC' after a number reads as a currency"),
    ("win Saved 500 QQQ @jane", "'QQQ' after a number reads as a currency"),
    # recurrences we do not know or cannot annualise
    ("win Rightsized $3,200 /mnth", "'/mnth' is not a recurrence"),
    ("win Rightsized 3200/mnth", "'/mnth' is not a recurrence"),
    ("win Rightsized $3,200/mnth", "'/mnth' is not a recurrence"),
    ("win Rightsized $3,200 /qtr", "'/qtr' is not a recurrence"),
    ("win Rightsized $3,200/hr", "'/hr' is not a recurrence"),
    ("win Rightsized $3,200 /day", "'/day' is not a recurrence"),
    ("win Rightsized $3,200 /week", "'/week' is not a recurrence"),
    ("win Rightsized $3,200 /decade", "'/decade' is not a recurrence"),
    ("win Rightsized $3,200/mo per year", "give one recurrence"),
    ("win Rightsized $3,200 monthly annual", "give one recurrence"),
    # numbers with trailing garbage, broken amounts
    ("win Saved 3.2.1k", "cannot read the amount '3.2.1k'"),
    ("win Saved $3,200/mo/yr", "cannot read the amount '$3,200/mo/yr'"),
    ("win Saved 5k$", "cannot read the amount '5k$'"),
    ("win Saved $5$", "cannot read the amount '$5$'"),
    ("win Saved 3,200$/mo", "cannot read the amount"),
    ("win Saved $", "'$' has no number"),
    ("win Saved €abc", "'€abc' has no number"),
    ("win Saved $-", "'$-' has no number"),
    ("win Saved -500", "negative"),
    ("win Saved $-500", "negative"),
    ("win Saved $0", "must be more than 0"),
    ("win Saved $0.001", "must be more than 0"),
    ("win Saved $1000000000000", "too large"),
    ("win Saved 2000b", "too large"),
    ("win Two amounts $5 and $7", "two amounts"),
    ("win Two amounts 5 USD 7 EUR", "two amounts"),
    ("win Two currencies €5 USD", "two currencies"),
    # no text, too long, people
    ("win", "say what was done"),
    ("win $400/mo", "say what was done"),
    ("win #tagging @jane", "say what was done"),
    ("win " + "x" * 5000, "5,000 characters; the limit is 500"),
    ("win " + "x" * 600, "600 characters; the limit is 500"),
    ("win Cleanup $5 @here", "'@here' is not a person"),
    ("win Cleanup $5 @channel", "is not a person"),
    ("win Cleanup $5 @everyone", "is not a person"),
    ("win Cleanup $5 " + " ".join(f"@p{i}" for i in range(26)), "26 people; the limit is 10"),
    ("win Cleanup $5 " + " ".join(f"@p{i}" for i in range(11)), "11 people; the limit is 10"),
    ("win Saved €5k€", "cannot read the amount '€5k€'"),
    # other commands
    ("poll", "Usage: poll"),
    ("poll Adopt tagging?", "Usage: poll"),
    ('poll "Adopt tagging?" "Yes"', "Usage: poll"),
    ('poll "Adopt tagging?', "never closed"),
    ("vote 1", "Usage: vote"),
    ("vote x 1", "'x' is not a poll number"),
    ("committee frobnicate", "is not a committee action"),
    ("checkin frobnicate", "is not a checkin action"),
    ("metric", "Usage: metric"),
    ("config set", "Usage: config"),
    ("learn frobnicate 3", "Usage: learn"),
    ("poll clsoe 3", "did you mean `poll close 3`?"),
    ("poll reslts 3", "did you mean `poll results 3`?"),
    ("learn remvoe 3", "did you mean `learn remove 3`?"),
]


async def stored(database, workspace: str) -> tuple[int, int, int]:
    async with database.session() as session:
        counts = []
        for model in (Win, Poll):
            statement = (
                select(func.count())
                .select_from(model)
                .join(Workspace, Workspace.id == model.workspace_id)
                .where(Workspace.external_id == workspace)
            )
            counts.append((await session.exec(statement)).one())
        counts.append((await session.exec(select(func.count()).select_from(WinCredit))).one())
        return tuple(counts)


def test_the_table_is_at_least_sixty_inputs():
    assert len(MALFORMED) >= 60
    assert len({line for line, _ in MALFORMED}) == len(MALFORMED)


@pytest.mark.parametrize("line, problem", MALFORMED, ids=[m[0][:40] for m in MALFORMED])
async def test_malformed_input_is_refused_and_stores_nothing(
    chat, database, workspace, line, problem
):
    before = await stored(database, workspace)
    answer = await chat.say(line)
    assert problem.lower() in answer.lower(), answer
    assert "Traceback" not in answer and "went wrong" not in answer, answer
    assert "Logged win" not in answer and "Poll #" not in answer, answer
    assert await stored(database, workspace) == before
