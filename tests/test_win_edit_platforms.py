"""`win edit` and `win undo` change the celebration already posted, on Slack and Teams,
through the outbox and over HTTP to the fake platform APIs."""

from __future__ import annotations

import json
import re

from tests.helpers import texts
from tests.test_slack import SlackHarness, slack  # noqa: F401  (fixture)
from tests.test_teams import TeamsHarness, keys, openid, sdk, teams  # noqa: F401  (fixtures)


async def test_slack_edit_and_undo_update_the_posted_celebration(slack: SlackHarness):  # noqa: F811
    answer = await slack.command("win Deleted idle disks $400/mo #usage-optimization")
    win_id = re.search(r"Logged win #(\d+)", answer["text"])[1]
    # Only this win's calls: rows another test left in the shared database's outbox may be
    # delivered to this fake Slack too.
    mine = re.compile(rf"win #{win_id}\b")

    def calls(method: str) -> list:
        return [c for c in slack.fake.calls_to(method) if mine.search(texts(c.params))]

    assert len(calls("chat.postMessage")) == 1
    posted_ts = next(ts for (_, ts), m in slack.fake.messages.items() if mine.search(texts(m)))

    edited = await slack.command(f"win edit {win_id} Deleted idle disks $450/mo")
    assert f"Edited win #{win_id}" in edited["text"] and "450 USD/mo" in edited["text"]
    updates = calls("chat.update")
    assert [u.params["ts"] for u in updates] == [posted_ts]  # in place, no new post
    assert "450 USD/mo (5,400 USD a year)" in texts(updates[-1].params["blocks"])
    assert len(calls("chat.postMessage")) == 1

    await slack.command(f"win undo {win_id}")
    updates = calls("chat.update")
    assert len(updates) == 2 and updates[-1].params["ts"] == posted_ts
    assert "withdrawn" in updates[-1].params["text"].lower()
    assert "450 USD" not in updates[-1].params["text"]


async def test_slack_typo_of_a_subcommand_logs_nothing(slack: SlackHarness):  # noqa: F811
    answer = await slack.command("win udno 3")
    assert "did you mean `win undo 3`?" in answer["text"]
    assert slack.fake.calls_to("chat.postMessage") == []


async def test_teams_edit_and_undo_update_the_posted_card(teams: TeamsHarness):  # noqa: F811
    assert await teams.say("win Deleted idle disks $400/mo") == 201
    win_id = re.search(r"Logged win #(\d+)", teams.texts())[1]
    channel = "19:general-synthetic@thread.tacv2"
    card_ids = [a["id"] for a in teams.connector.sent(channel) if a.get("attachments")]
    assert len(card_ids) == 1  # the celebration card

    assert await teams.say(f"win edit {win_id} Deleted idle disks $450/mo") == 201
    updates = teams.connector.calls_to("update")
    assert len(updates) == 1
    assert updates[-1].activity_id == card_ids[0]  # edited in place
    assert "450 USD/mo" in json.dumps(updates[-1].json, ensure_ascii=False)

    assert await teams.say(f"win undo {win_id}") == 201
    updates = teams.connector.calls_to("update")
    assert len(updates) == 2
    assert updates[-1].activity_id == card_ids[0]
    assert "withdrawn" in json.dumps(updates[-1].json, ensure_ascii=False).lower()
