"""The committee check-in on Teams: a card with inputs in a 1:1 chat, submitted with its values.

As on Slack (tests/test_checkins_slack.py), another replica's scheduler ticks at chosen times
on the shared database and clock, and the running app's outbox worker delivers to the fake
Bot Framework connector.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from tests.helpers import number
from tests.schema_validation import validate_adaptive_card
from tests.test_checkins_slack import (
    AGENDA,
    CHECKIN,
    MEETING,
    MINUTE,
    REMINDER,
    START,
    Replica,
    replica_of,
)
from tests.test_teams import ADMIN_AAD, TeamsHarness, keys, openid, sdk, teams  # noqa: F401

GENERAL = "19:general-synthetic@thread.tacv2"  # the channel of the shared samples
ALICE = {"id": "29:1user-alice-synthetic", "aadObjectId": ADMIN_AAD, "name": "Alice"}


@pytest.fixture
async def replica(teams: TeamsHarness) -> AsyncIterator[Replica]:  # noqa: F811
    async with replica_of(teams.client, "teams", teams.tenant) as found:
        yield found


@pytest.fixture
def card_schema(shared_dir):
    return shared_dir / "schemas/adaptive-card-1.5/adaptive-card.schema.json"


@dataclass
class Committee:
    maria: dict[str, str]
    sam: dict[str, str]
    questions: tuple[int, int]


async def say(
    teams: TeamsHarness,  # noqa: F811
    text: str,
    *,
    user: dict[str, str] = ALICE,
    mentions: tuple[dict[str, str], ...] = (),
) -> str:
    """`@FinOps <text>` in the General channel, `<at>Name</at>` in `text` mentioning
    `mentions`; returns the text of everything the bot sent while answering."""
    activity = teams.activity("message_channel_mention.json")
    activity["from"] = user
    activity["text"] = f"<at>FinOps</at> {text}"
    activity["entities"] = activity["entities"][:1] + [
        {"type": "mention", "mentioned": person, "text": f"<at>{person['name']}</at>"}
        for person in mentions
    ]
    before = len(teams.connector.calls)
    assert (await teams.post(activity)).status == 201
    return json.dumps([c.json for c in teams.connector.calls[before:]], ensure_ascii=False)


async def committee_of_two(teams: TeamsHarness) -> Committee:  # noqa: F811
    suffix = uuid.uuid4().hex[:8]
    maria = {"id": f"29:maria-{suffix}", "name": "Maria"}
    sam = {"id": f"29:sam-{suffix}", "name": "Sam"}
    assert "Maria" in await say(teams, "committee add <at>Maria</at> finance", mentions=(maria,))
    assert "Sam" in await say(teams, "committee add <at>Sam</at> engineering", mentions=(sam,))
    shown = await say(teams, "committee meeting thursday 15:00 weekly UTC")
    assert "Next meeting: Thu 26 Nov 2026 15:00 UTC" in shown
    asked = [
        await say(teams, 'checkin ask "What did your team save this month?"'),
        await say(
            teams,
            'checkin ask "Untagged spend share?" metric untagged-share unit % owner <at>Maria</at>',
            mentions=(maria,),
        ),
    ]
    first, second = (number(r"question #(\d+)", answer) for answer in asked)
    await say(teams, "config committee-channel here")
    return Committee(maria, sam, (first, second))


def chat_with(teams: TeamsHarness, person: dict[str, str]) -> str | None:  # noqa: F811
    """The 1:1 chat the bot opened with `person` (create conversation), if any."""
    for conversation, members in teams.connector.members.items():
        if members and members[0].get("id") == person["id"]:
            return conversation
    return None


def cards_in(teams: TeamsHarness, conversation: str | None) -> list[tuple[str, dict[str, Any]]]:  # noqa: F811
    """(activity id, card) for each card in a conversation, oldest first."""
    if conversation is None:
        return []
    return [
        (activity["id"], attachment["content"])
        for activity in teams.connector.sent(conversation)
        for attachment in activity.get("attachments") or []
    ]


def forms_in(teams: TeamsHarness, conversation: str | None) -> list[dict[str, Any]]:  # noqa: F811
    """The cards with inputs (check-ins and reminders) in a conversation."""
    return [
        card
        for _, card in cards_in(teams, conversation)
        if any(e["type"].startswith("Input.") for e in card["body"])
    ]


def elements(card: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in card["body"] if e["type"] == kind]


def submit_button(card: dict[str, Any], title: str) -> dict[str, Any]:
    return next(
        action
        for action_set in elements(card, "ActionSet")
        for action in action_set["actions"]
        if action["title"] == title
    )


def in_chat(teams, conversation: str, person: dict[str, str], value: dict[str, Any], reply_to: str):  # noqa: F811
    """What Teams sends for an Action.Submit in a 1:1 chat: a message activity whose value is
    the button's data with each input's value merged in under the input's id."""
    activity = teams.activity("message_adaptive_card_action_submit.json")
    activity["from"] = person
    activity["conversation"] = {
        "id": conversation,
        "conversationType": "personal",
        "tenantId": teams.tenant,
    }
    activity["channelData"] = {"tenant": {"id": teams.tenant}}
    activity["replyToId"] = reply_to
    activity["value"] = value
    return activity


def said_in(teams: TeamsHarness, conversation: str | None) -> str:  # noqa: F811
    return json.dumps(teams.connector.sent(conversation or ""), ensure_ascii=False)


async def test_checkin_card_submission_reminder_and_agenda(
    teams: TeamsHarness,  # noqa: F811
    replica: Replica,
    card_schema,
):
    c = await committee_of_two(teams)
    q1, q2 = c.questions

    assert await replica.tick_at(CHECKIN - MINUTE) == []
    await teams.settled()
    assert chat_with(teams, c.maria) is None and chat_with(teams, c.sam) is None

    assert await replica.tick_at(CHECKIN + MINUTE) == ["checkin"]
    await teams.settled()
    maria_chat, sam_chat = chat_with(teams, c.maria), chat_with(teams, c.sam)
    [(form_id, form)] = cards_in(teams, maria_chat)
    assert len(forms_in(teams, sam_chat)) == 1
    assert validate_adaptive_card(form, card_schema) == []
    fields = {e["id"]: e for e in form["body"] if e["type"].startswith("Input.")}
    assert list(fields) == [f"q{q1}", f"q{q2}"]
    assert (fields[f"q{q1}"]["type"], fields[f"q{q1}"]["isMultiline"]) == ("Input.Text", True)
    assert fields[f"q{q1}"]["label"] == f"#{q1} What did your team save this month?"
    assert fields[f"q{q2}"]["type"] == "Input.Number" and "value" not in fields[f"q{q2}"]
    send = submit_button(form, "Send answers")
    assert send["type"] == "Action.Submit" and send["data"]["action_id"] == "checkin.submit"

    # Teams merges the inputs into the button's data; the reply stays in the 1:1 chat.
    value = {**send["data"], f"q{q1}": "Deleted 40 idle disks", f"q{q2}": "7"}
    before = len(teams.connector.calls)
    assert (await teams.post(in_chat(teams, maria_chat, c.maria, value, form_id))).status == 201
    answers = teams.connector.calls[before:]
    assert {call.conversation_id for call in answers} == {maria_chat}
    assert f"Thanks! Recorded your answers to #{q1}, #{q2}" in json.dumps([a.json for a in answers])

    agenda = await say(teams, "committee agenda", user=c.sam)
    assert "Maria: Deleted 40 idle disks" in agenda and "No answer yet from: Sam" in agenda
    assert "untagged-share 7" in await say(teams, "metrics")

    assert await replica.tick_at(REMINDER - MINUTE) == []
    assert await replica.tick_at(REMINDER + 2 * MINUTE) == ["checkin-remind"]
    await teams.settled()
    assert len(forms_in(teams, maria_chat)) == 1  # she answered: no reminder
    [_, reminder] = forms_in(teams, sam_chat)
    assert reminder["body"][0]["text"].startswith("Reminder:")
    assert {e["type"] for e in reminder["body"]} >= {"Input.Text", "Input.Number"}
    assert await replica.tick_at(REMINDER + 3 * MINUTE) == []

    assert await replica.tick_at(AGENDA + MINUTE) == ["agenda"]
    await teams.settled()
    posted = [card for _, card in cards_in(teams, GENERAL) if "committee agenda" in str(card)]
    assert len(posted) == 1 and "Maria: Deleted 40 idle disks" in json.dumps(posted[0])

    for later in (AGENDA + 2 * MINUTE, MEETING + 5 * MINUTE):
        assert await replica.tick_at(later) == []
    await teams.settled()
    assert len([1 for _, card in cards_in(teams, GENERAL) if "committee agenda" in str(card)]) == 1
    assert (len(forms_in(teams, maria_chat)), len(forms_in(teams, sam_chat))) == (1, 2)


async def test_a_prefilled_form_and_an_action_execute_submission(
    teams: TeamsHarness,  # noqa: F811
    replica: Replica,
    card_schema,
):
    c = await committee_of_two(teams)
    q1, q2 = c.questions
    await say(teams, f"checkin answer {q2} 12.5", user=c.maria)
    await say(teams, f"checkin answer {q1} Nothing yet", user=c.maria)
    assert await replica.tick_at(CHECKIN + MINUTE) == ["checkin"]
    await teams.settled()
    maria_chat = chat_with(teams, c.maria)
    [(_, form)] = cards_in(teams, maria_chat)
    assert validate_adaptive_card(form, card_schema) == []
    fields = {e["id"]: e for e in form["body"] if e["type"].startswith("Input.")}
    assert fields[f"q{q1}"]["value"] == "Nothing yet"
    assert fields[f"q{q2}"] == {**fields[f"q{q2}"], "type": "Input.Number", "value": 12.5}

    invoke = teams.activity("invoke_adaptiveCard_action_execute.json")
    invoke["from"] = c.maria
    invoke["conversation"] = {"id": maria_chat, "conversationType": "personal"}
    invoke["conversation"]["tenantId"] = teams.tenant
    key = submit_button(form, "Send answers")["data"]["value"]
    invoke["value"]["action"] = {
        "type": "Action.Execute",
        "verb": "checkin.submit",
        "data": {"value": key, f"q{q1}": "Changed my mind", f"q{q2}": 9.5, "other": "x"},
    }
    response = await teams.post(invoke)
    assert response.status == 200
    body = await response.json()
    assert body["statusCode"] == 200
    assert f"Recorded your answers to #{q1}, #{q2}" in body["value"]
    # The number field's 9.5 is in the question's unit, so the bot's own example still works.
    assert "untagged-share 9.5%" in await say(teams, "metrics")
    assert "Recorded untagged-share: 8%" in await say(teams, "metric untagged-share 8%")


async def test_record_as_decision_under_a_closed_committee_poll(
    teams: TeamsHarness,  # noqa: F811
    replica: Replica,
):
    c = await committee_of_two(teams)
    replica.clock.set(START)
    created = await say(teams, 'poll "Adopt tagging?" "Yes" "No" committee closes in 1h')
    poll = number(r"Poll #(\d+)", created)
    for person in (c.maria, c.sam):
        vote = teams.activity("message_adaptive_card_action_submit.json")
        vote["from"] = person
        vote["value"] = {"action_id": "poll.vote", "value": f"{poll}:1"}
        assert (await teams.post(vote)).status == 201

    assert await replica.tick_at(START + timedelta(hours=2)) == ["poll-close"]
    await teams.settled()
    [results] = [card for _, card in cards_in(teams, GENERAL) if "Record as decision" in str(card)]
    record = submit_button(results, "Record as decision")
    assert record["data"] == {"action_id": "decision.from_poll", "value": str(poll)}

    click = teams.activity("message_adaptive_card_action_submit.json")
    click["from"] = c.maria
    click["value"] = record["data"]
    assert (await teams.post(click)).status == 201
    # A click in the channel is answered privately, in a 1:1 chat: Teams has no ephemerals.
    assert "Adopt tagging? → Yes (2 of 2 votes)" in said_in(teams, chat_with(teams, c.maria))
    assert "Adopt tagging? → Yes" not in said_in(teams, GENERAL)
    assert f"(from poll #{poll})" in await say(teams, "decisions")
