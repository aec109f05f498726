"""The committee check-in on Slack: a DM with an Answer button, a modal, a view submission.

The scheduler is driven at chosen times by a second `Bot` (another replica) on the same
database; the running app's outbox worker delivers what its ticks queue to the fake Slack.
Both bots share one shifted clock: the outbox only sends rows whose time has come, by its own
bot's clock, and the app must see the same next meeting as the scheduler.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import select

from adapters.slack.render import form_modal, message_payload
from adapters.slack.translate import view_submission_event
from app.server import BOT, SCHEDULER
from bot import message as m
from bot.core import Bot
from bot.features import meetings
from bot.scheduler import Scheduler
from storage import schedules, workspaces
from storage.engine import Database
from storage.models import Poll
from tests.helpers import number, texts
from tests.slack_signing import block_actions_body, view_submission_body
from tests.test_slack import SlackHarness, slack  # noqa: F401  (the running app + fake Slack)

# Meetings on Thursdays at 15:00 UTC; the tests start on the Wednesday before, 09:00.
MEETING = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
START = MEETING - timedelta(hours=30)
CHECKIN, REMINDER, AGENDA = (  # the defaults: 24 h before, halfway to the agenda, 1 h before
    MEETING - timedelta(hours=24),
    MEETING - timedelta(hours=12, minutes=30),
    MEETING - timedelta(hours=1),
)
MINUTE = timedelta(minutes=1)


class ShiftedClock:
    """Aware-UTC time running at real speed from wherever a test `set`s it (the outbox paces
    its sends by elapsed time: a frozen clock would stall it)."""

    def __init__(self, now: datetime) -> None:
        self.set(now)

    def set(self, now: datetime) -> None:
        self._offset = now - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._offset


@dataclass
class Replica:
    """Another replica's scheduler on the running app's database, sharing its clock."""

    scheduler: Scheduler
    clock: ShiftedClock
    platform: str
    workspace: str

    async def tick_at(self, when: datetime) -> list[str]:
        """Tick at `when`; the jobs it ran for this test's workspace (other tests' workspaces
        share the database), without their ids: `checkin`, `agenda`, `poll-close`, ..."""
        self.clock.set(when)
        ran = await self.scheduler.tick()
        mine = await self._own_jobs()
        return [job.partition(":")[0] for job in ran if job in mine]

    async def _own_jobs(self) -> set[str]:
        async with self.scheduler.bot.database.session() as session:
            workspace = await workspaces.workspace_id(session, self.platform, self.workspace)
            schedule = await schedules.find(session, workspace, meetings.KIND)
            polls = (
                await session.exec(select(Poll.id).where(Poll.workspace_id == workspace))
            ).all()
        jobs = {f"{job}:{poll}" for job in ("poll-close", "poll-remind") for poll in polls}
        if schedule is not None:
            jobs |= {f"{job}:{schedule.id}" for job in ("checkin", "checkin-remind", "agenda")}
        return jobs


@asynccontextmanager
async def replica_of(client: TestClient, platform: str, workspace: str) -> AsyncIterator[Replica]:
    """A second bot with its scheduler on the app's database; the app's own scheduler idles
    (only the test's ticks run the schedule) and the app's bot is put on the shared clock."""
    app = client.server.app
    app[SCHEDULER].platforms = set()  # its ticks (on the shared clock) now run nothing
    clock = ShiftedClock(START)
    app[BOT].clock = clock
    database = Database(app[BOT].settings.database_url)
    try:
        bot = Bot(app[BOT].settings, database, clock=clock)
        yield Replica(Scheduler(bot, {platform}), clock, platform, workspace)
    finally:
        await database.dispose()


@pytest.fixture
async def replica(slack: SlackHarness) -> AsyncIterator[Replica]:  # noqa: F811
    async with replica_of(slack.client, "slack", slack.team) as found:
        yield found


@dataclass
class Committee:
    maria: str
    sam: str
    channel: str
    questions: tuple[int, int]


async def committee_of_two(slack: SlackHarness) -> Committee:  # noqa: F811
    """As an admin, through signed slash commands: two members, a weekly meeting, two
    questions (the second tied to a metric maria answers for the record), the committee
    channel. Ids unique to the test."""
    suffix = uuid.uuid4().hex[:6].upper()
    maria, sam, channel = f"UM{suffix}", f"US{suffix}", f"CS{suffix}"
    await slack.command(f"committee add <@{maria}|maria> finance")
    await slack.command(f"committee add <@{sam}|sam> engineering")
    shown = (await slack.command("committee meeting thursday 15:00 weekly UTC"))["text"]
    assert "Next meeting: Thu 26 Nov 2026 15:00 UTC" in shown
    asked = [
        (await slack.command('checkin ask "What did your team save this month?"'))["text"],
        (
            await slack.command(
                f'checkin ask "Untagged spend share?" metric untagged-share owner <@{maria}|maria>'
            )
        )["text"],
    ]
    first, second = (number(r"question #(\d+)", answer) for answer in asked)
    configured = await slack.command(f"config committee-channel <#{channel}|steering>")
    assert "steering" in configured["text"]
    return Committee(maria, sam, channel, (first, second))


def dms_to(slack: SlackHarness, user: str) -> list[dict[str, Any]]:  # noqa: F811
    return [
        c.params for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == user
    ]


def buttons(params: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in params["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def open_form(slack: SlackHarness, user: str, name: str, key: str) -> dict[str, Any]:  # noqa: F811
    """Click "Answer the check-in" in the DM; the modal views.open received."""
    before = len(slack.fake.modals)
    status = await slack.click(key, user, name, action_id="checkin.open:0", channel="D" + user)
    assert status == 200
    await slack.settled()
    assert len(slack.fake.modals) == before + 1, slack.fake.state()
    return slack.fake.modals[-1]


def inputs(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """block id -> input element, for the modal's input blocks."""
    return {b["block_id"]: b["element"] for b in modal["blocks"] if b["type"] == "input"}


async def test_checkin_dm_modal_submission_reminder_and_agenda(
    slack: SlackHarness,  # noqa: F811
    replica: Replica,
):
    c = await committee_of_two(slack)
    q1, q2 = c.questions

    assert await replica.tick_at(CHECKIN - MINUTE) == []  # a minute early: nothing
    await slack.settled()
    assert dms_to(slack, c.maria) == dms_to(slack, c.sam) == []

    assert await replica.tick_at(CHECKIN + MINUTE) == ["checkin"]
    await slack.settled()
    [to_maria], [to_sam] = dms_to(slack, c.maria), dms_to(slack, c.sam)
    for dm in (to_maria, to_sam):
        assert "Steering committee check-in" in dm["text"]
        assert f"checkin answer {q1} &lt;answer&gt;" in dm["text"]  # the text fallback
        [answer] = buttons(dm)
        assert answer["text"]["text"] == "Answer the check-in"
        assert answer["action_id"].partition(":")[0] == "checkin.open"
    key = buttons(to_maria)[0]["value"]
    assert key == buttons(to_sam)[0]["value"]
    sections = [b["text"]["text"] for b in to_maria["blocks"] if b["type"] == "section"]
    assert f"*#{q1} What did your team save this month?*" in sections
    assert not any(b["type"] == "input" for b in to_maria["blocks"])  # modals only

    answered = await slack.command(f"checkin answer {q1} Nothing yet", user=c.maria, name="maria")
    assert f"Recorded your answer to #{q1}" in answered["text"]
    modal = await open_form(slack, c.maria, "maria", key)
    assert (modal["type"], modal["callback_id"], modal["private_metadata"]) == (
        "modal",
        "checkin.submit",
        key,
    )
    assert modal["title"]["text"] == "Check-in" and modal["submit"]["text"] == "Send"
    fields = inputs(modal)
    assert list(fields) == [f"q{q1}", f"q{q2}"]
    text, metric = fields[f"q{q1}"], fields[f"q{q2}"]
    assert (text["type"], text["multiline"], text["initial_value"]) == (
        "plain_text_input",
        True,
        "Nothing yet",
    )
    assert (metric["type"], metric["is_decimal_allowed"]) == ("number_input", True)
    assert "initial_value" not in metric  # not answered yet
    assert all(b.get("optional") for b in modal["blocks"] if b["type"] == "input")
    assert slack.fake.calls_to("views.open")[-1].params["trigger_id"]

    body = view_submission_body(
        view=modal,
        answers={f"q{q1}": "Deleted 40 idle disks", f"q{q2}": "7"},
        user_id=c.maria,
        user_name="maria",
        team_id=slack.team,
    )
    response = await slack.post(body)
    assert response.status == 200 and (await response.text()) == ""  # closes the modal
    await slack.settled()
    thanks = dms_to(slack, c.maria)[-1]
    assert f"Thanks! Recorded your answers to #{q1}, #{q2}" in thanks["text"]
    agenda = (await slack.command("committee agenda", user=c.sam, name="sam"))["text"]
    assert "maria: Deleted 40 idle disks" in agenda and "No answer yet from: sam" in agenda
    assert "untagged-share 7" in (await slack.command("metrics"))["text"]
    again = inputs(await open_form(slack, c.maria, "maria", key))  # now pre-filled
    assert again[f"q{q1}"]["initial_value"] == "Deleted 40 idle disks"
    assert again[f"q{q2}"]["initial_value"] == "7"

    assert await replica.tick_at(REMINDER - MINUTE) == []
    assert await replica.tick_at(REMINDER + 2 * MINUTE) == ["checkin-remind"]
    await slack.settled()
    assert len(dms_to(slack, c.maria)) == 2  # the check-in and the thank-you: no reminder
    [_, reminder] = dms_to(slack, c.sam)
    assert reminder["text"].startswith("Reminder:")
    assert buttons(reminder)[0]["action_id"].startswith("checkin.open")
    assert await replica.tick_at(REMINDER + 3 * MINUTE) == []

    assert await replica.tick_at(AGENDA + MINUTE) == ["agenda"]
    await slack.settled()
    [posted] = [m for (channel, _), m in slack.fake.messages.items() if channel == c.channel]
    assert "Steering committee agenda" in posted["text"]
    assert "maria: Deleted 40 idle disks" in texts(posted)

    for later in (AGENDA + 2 * MINUTE, MEETING + 5 * MINUTE):
        assert await replica.tick_at(later) == []
    await slack.settled()
    assert len([ch for ch, _ in slack.fake.messages if ch == c.channel]) == 1
    assert (len(dms_to(slack, c.maria)), len(dms_to(slack, c.sam))) == (2, 2)


async def test_a_submission_after_the_meeting_started_is_refused_privately(
    slack: SlackHarness,  # noqa: F811
    replica: Replica,
):
    c = await committee_of_two(slack)
    replica.clock.set(CHECKIN)
    modal = await open_form(slack, c.maria, "maria", "any")
    replica.clock.set(MEETING + MINUTE)  # the form stayed open past the meeting's start
    body = view_submission_body(
        view=modal, answers={f"q{c.questions[0]}": "Late"}, user_id=c.maria, team_id=slack.team
    )
    assert (await slack.post(body)).status == 200
    await slack.settled()
    [refusal] = dms_to(slack, c.maria)
    assert "has started" in refusal["text"]


async def test_a_submission_for_no_known_meeting_is_not_called_started(
    slack: SlackHarness,  # noqa: F811
    replica: Replica,
):
    """A form whose meeting key is not a meeting (an old app version, a mangled payload) is
    refused for what it is, not with "That meeting has started"."""
    c = await committee_of_two(slack)
    replica.clock.set(CHECKIN)
    modal = await open_form(slack, c.maria, "maria", "any")
    for n, key in enumerate(["not-a-meeting", "2099-01-01T15:00:00+00:00"]):
        body = view_submission_body(
            view={**modal, "private_metadata": key},
            answers={f"q{c.questions[0]}": f"Answer {n}"},
            user_id=c.maria,
            team_id=slack.team,
        )
        assert (await slack.post(body)).status == 200
        await slack.settled()
    refusals = dms_to(slack, c.maria)
    assert len(refusals) == 2
    for refusal in refusals:
        assert "not for the next committee meeting" in refusal["text"]
        assert "has started" not in refusal["text"]
    assert "Answer" not in (await slack.command("committee agenda", user=c.maria))["text"]


async def test_without_a_form_the_answer_button_answers_privately(slack: SlackHarness):  # noqa: F811
    await slack.command("committee add <@U77|maria> finance")  # no meeting, no questions
    url = slack.fake.response_url()
    body = block_actions_body(
        action_id="checkin.open:0",
        value="2026-11-26",
        user_id="U77",
        user_name="maria",
        team_id=slack.team,
        channel_id="DU77",
        response_url=url,
    )
    assert (await slack.post(body)).status == 200
    await slack.settled()
    assert slack.fake.calls_to("views.open") == []
    [answer] = [r for r in slack.fake.responses if r["url"] == url]
    assert answer["response_type"] == "ephemeral" and "nothing to answer" in answer["text"]


async def test_when_the_modal_cannot_open_the_commands_are_sent_instead(
    slack: SlackHarness,  # noqa: F811
    replica: Replica,
):
    c = await committee_of_two(slack)
    slack.fake.fail_next("views.open", status=503)
    await slack.click("key", c.maria, "maria", action_id="checkin.open:0", channel="D" + c.maria)
    await slack.settled()
    answer = slack.fake.responses[-1]
    assert answer["response_type"] == "ephemeral"
    assert f"checkin answer {c.questions[0]} &lt;answer&gt;" in answer["text"]


async def test_record_as_decision_under_a_closed_committee_poll(
    slack: SlackHarness,  # noqa: F811
    replica: Replica,
):
    c = await committee_of_two(slack)
    replica.clock.set(START)
    created = await slack.command('poll "Adopt tagging?" "Yes" "No" committee closes in 1h')
    poll = number(r"Poll #(\d+)", created["text"])
    for user, name in ((c.maria, "maria"), (c.sam, "sam")):
        assert await slack.click(f"{poll}:1", user, name) == 200
    await slack.settled()

    assert await replica.tick_at(START + timedelta(hours=2)) == ["poll-close"]
    await slack.settled()
    [results] = [
        p.params
        for p in slack.fake.calls_to("chat.postMessage")
        if p.params["channel"] == "C1" and "Record as decision" in texts(p.params)
    ]
    [record] = [b for b in buttons(results) if b["text"]["text"] == "Record as decision"]
    assert record["value"] == str(poll)
    assert (
        await slack.click(record["value"], c.maria, "maria", action_id=record["action_id"]) == 200
    )
    await slack.settled()
    decided = slack.fake.responses[-1]
    assert decided["response_type"] == "ephemeral" and decided["replace_original"] is False
    assert "Adopt tagging? → Yes (2 of 2 votes)" in decided["text"]
    assert f"(from poll #{poll})" in (await slack.command("decisions"))["text"]
    await slack.click(record["value"], c.sam, "sam", action_id=record["action_id"])
    await slack.settled()
    assert "already in the decision log" in slack.fake.responses[-1]["text"]


def test_a_modal_keeps_a_unit_answer_as_text_and_reads_back_only_what_was_typed():
    form = m.Message(
        "check-in",
        (
            m.Input("q1", "#1 Saved? <b>", "x", value="R&D: 3 VMs"),
            m.Input("q2", "#2 Untagged (metric untagged)", "x", number=True, value="12%"),
            m.Input("q3", "#3 Cost (metric cost)", "x", number=True, value="1,234.5"),
            m.Actions((m.Button("Send answers", "checkin.submit", "2026-W48", "x", True),)),
        ),
    )
    shown = message_payload(form)["blocks"]
    assert shown[0]["text"]["text"] == "*#1 Saved? &lt;b&gt;*\nYour answer: R&amp;D: 3 VMs"
    assert [b["type"] for b in shown] == ["section", "section", "section", "actions"]
    modal = form_modal(form)
    assert modal is not None
    fields = inputs(modal)
    assert fields["q1"]["initial_value"] == "R&D: 3 VMs"  # a value, not mrkdwn: not escaped
    assert (fields["q2"]["type"], fields["q2"]["multiline"]) == ("plain_text_input", False)
    assert (fields["q3"]["type"], fields["q3"]["initial_value"]) == ("number_input", "1234.5")
    assert form_modal(m.Message("no form", (m.Text("hi"),))) is None

    body = view_submission_body(
        view={**modal, "id": "V1"}, answers={"q3": "99", "q1": "Nothing"}, team_id="T9"
    )
    payload = json.loads(unquote(body.removeprefix("payload=")))
    event = view_submission_event(payload)
    assert (event.action_id, event.value) == ("checkin.submit", "2026-W48")
    assert event.inputs == (("q1", "Nothing"), ("q3", "99"))  # q2 left empty: null, skipped
    assert (event.actor.workspace_id, event.actor.user_id, event.place.is_direct) == (
        "T9",
        "U1",
        True,
    )


async def test_a_long_agenda_is_split_across_messages_with_every_section_kept(
    slack: SlackHarness,  # noqa: F811
    replica: Replica,
) -> None:
    """Eleven members with long check-in answers: posted to Slack as several messages, each
    within 50 blocks and 3,000 characters a section, nothing "shortened to fit", and every
    section (open polls, wins, metrics, decisions after the long check-ins) still there."""
    c = await committee_of_two(slack)
    suffix = c.channel[2:]
    members = [f"UX{i}{suffix}" for i in range(9)]
    for i, member in enumerate(members):
        await slack.command(f"committee add <@{member}|member{i}> engineering")
    await slack.command('poll "Adopt tagging?" "Yes" "No" committee')
    await slack.command("win Deleted idle disks $400/mo")
    await slack.command("metric coverage 72%")
    await slack.command('decide "Tag every production resource"', user=c.maria, name="maria")
    assert await replica.tick_at(CHECKIN + MINUTE) == ["checkin"]
    q1, _ = c.questions
    long = "We reviewed every account and " + "rightsized a fleet of instances, " * 28
    for i, member in enumerate([c.maria, c.sam, *members]):
        answered = await slack.command(f"checkin answer {q1} {i}: {long}", user=member)
        assert "Recorded your answer" in answered["text"], answered
    assert await replica.tick_at(AGENDA + MINUTE) == ["agenda"]
    await slack.settled()
    posted = [m for (channel, _), m in slack.fake.messages.items() if channel == c.channel]
    assert len(posted) > 1
    assert [p["text"].splitlines()[0][-8:] for p in posted] == [
        f"({i} of {len(posted)})" for i in range(1, len(posted) + 1)
    ]
    shown = "\n".join(texts(p) for p in posted)
    assert "shortened to fit" not in shown
    for p in posted:
        assert len(p["blocks"]) <= 50
        assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in p["blocks"])
    for i in range(11):  # every member's answer, whole
        assert f"{i}: We reviewed every account" in shown
    for heading in ("Open polls", "Wins since the last meeting", "Metrics", "Decisions since"):
        assert heading in shown
    assert "Adopt tagging?" in shown and "Deleted idle disks" in shown
    assert "coverage 72%" in shown and "Tag every production resource" in shown
