"""Durable intake on Teams: an authenticated activity is answered at once and its turn
replies through the connector, also when the database is too slow to store it in time; an
invoke that cannot be stored is told so; a re-sent activity has no second effect.

"Too slow" is a real lock on the inbox held by another connection (tests/test_inbox.py)."""

from __future__ import annotations

import asyncio
import re

from tests.test_inbox import _held
from tests.test_teams import TeamsHarness, keys, openid, sdk, teams  # noqa: F401  (fixtures)


def _answers(harness: TeamsHarness, pattern: str) -> int:
    return len(re.findall(pattern, harness.texts()))


async def test_a_message_is_answered_at_once_while_the_database_is_stuck_and_replied_later(
    teams: TeamsHarness,  # noqa: F811
    database_url: str,
):
    activity = teams.activity("message_personal.json", text="win Deleted idle disks $400/mo")
    async with _held(database_url):
        response = await teams.post(activity, drain=False)
        assert response.status == 201  # answered while the inbox could not be written
        assert teams.connector.calls_to("post") == []  # nothing done yet
    await teams.settled()
    await asyncio.sleep(0.5)  # the late write lands, then its turn runs
    await teams.settled()
    assert _answers(teams, r"Logged win #\d+") == 1


async def test_an_invoke_that_cannot_be_stored_is_answered_not_saved(
    teams: TeamsHarness,  # noqa: F811
    database_url: str,
):
    await teams.say('poll "Pick" "A" "B"')
    poll_id = re.search(r"Poll #(\d+)", teams.texts())[1]
    invoke = teams.activity("invoke_adaptiveCard_action_execute.json")
    invoke["value"]["action"]["data"] = {"poll_id": poll_id, "option": "2"}
    async with _held(database_url):
        response = await teams.post(invoke, drain=False)
        body = await response.json()
    assert response.status == 200 and body["value"].startswith("Not saved")
    await teams.settled()
    await asyncio.sleep(0.5)  # the late write lands and is forgotten, not worked
    again = teams.activity("invoke_adaptiveCard_action_execute.json")
    again["value"]["action"]["data"] = {"poll_id": poll_id, "option": "2"}
    body = await (await teams.post(again)).json()
    assert body["value"].startswith("Your vote is 'B'")  # the first click counted for nothing


async def test_an_activity_sent_twice_is_worked_once(teams: TeamsHarness):  # noqa: F811
    activity = teams.activity("message_personal.json", text="win Stopped idle GPUs $900/mo")
    statuses = [(await teams.post(activity, drain=False)).status for _ in range(3)]
    await teams.settled()
    assert statuses == [201, 201, 201]
    assert _answers(teams, r"Logged win #\d+") == 1
