"""The steering committee's rhythm: meetings, check-ins, the agenda, decisions and roles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot import recurrence_times as times
from bot.events import ActionEvent
from bot.message import ChannelPost, DirectMessage
from storage.models import CheckinAnswer, CheckinQuestion, Decision, Metric, RoleAssignment
from tests.helpers import number, rows
from tests.test_scheduler import Platform, replica

# The test clock: Wednesday 2026-11-25 10:00 UTC. Meetings on Thursdays at 15:00 UTC.
MEETING = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


async def committee_of_two(chat) -> tuple[int, int]:
    """Two members, a weekly meeting and two questions (the second tied to a metric that
    maria answers for the record)."""
    await chat.say("committee add <@maria|maria> finance")
    await chat.say("committee add <@sam|sam> engineering")
    await chat.say("committee meeting thursday 15:00 weekly UTC")
    asked = [
        await chat.say('checkin ask "What did your team save this month?"'),
        await chat.say(
            'checkin ask "Untagged spend share, in %?" metric untagged-share owner <@maria|maria>'
        ),
    ]
    first, second = (number(r"question #(\d+)", a) for a in asked)
    return first, second


async def test_the_agenda_shows_answers_silence_open_polls_and_decisions(chat):
    q1, _ = await committee_of_two(chat)
    poll = number(r"Poll #(\d+)", await chat.say('poll "Adopt tagging?" "Yes" "No" committee'))
    answered = await chat.say(f"checkin answer {q1} We deleted 40 idle disks", user="maria")
    assert f"Recorded your answer to #{q1}" in answered and "Thu 26 Nov 2026 15:00 UTC" in answered
    decided = await chat.say('decide "Tag every production resource"', user="maria")
    assert "Decision #" in decided

    agenda = await chat.say("committee agenda", user="sam")
    assert "Steering committee agenda · Thu 26 Nov 2026 15:00 UTC" in agenda
    assert f"#{q1} What did your team save this month?\n  maria: We deleted 40 idle" in agenda
    assert "No answer yet from: sam" in agenda
    assert f"#{poll} Adopt tagging? · not voted: sam, maria" in agenda
    assert "maria: Tag every production resource" in agenda

    log = await chat.say("decisions")
    assert "2026-11-25 · maria: Tag every production resource" in log
    assert "Only steering committee members" in await chat.say("committee agenda", user="eve")


async def test_meeting_command_shows_cadence_next_meeting_and_who_is_expected(chat):
    assert "No committee meeting is scheduled" in await chat.say("committee meeting")
    await chat.say("committee add <@maria|maria> finance")
    shown = await chat.say("committee meeting tuesday 15:00 biweekly Europe/Paris")
    assert "meets every other Tuesday at 15:00 Europe/Paris" in shown
    assert "Next meeting: Tue 1 Dec 2026 15:00 Europe/Paris" in shown
    assert "Expected: maria" in shown
    monthly = await chat.say("committee meeting tuesday 15:00 monthly")
    assert "the first Tuesday of the month" in monthly and "Tue 1 Dec 2026" in monthly
    assert "Only an admin" in await chat.say("committee meeting monday 09:00", user="maria")
    for bad in ("committee meeting funday 09:00", "committee meeting monday 25:00"):
        assert "Usage: committee" in await chat.say(bad), bad
    assert "are off" in await chat.say("committee meeting off")
    assert "No committee meeting is scheduled" in await chat.say("committee meeting")


def test_biweekly_and_monthly_rhythms():
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    biweekly = times.meetings(1, "15:00", "UTC", cadence="biweekly", anchor=date(2026, 12, 1))
    first = times.next_meeting(biweekly, start)
    second = times.next_meeting(biweekly, first + timedelta(minutes=1))
    assert (first.date(), second.date()) == (date(2026, 12, 1), date(2026, 12, 15))
    assert times.previous_meeting(biweekly, second) == first
    monthly = times.meetings(1, "15:00", "Europe/Paris", cadence="monthly", anchor=None)
    runs = [times.next_meeting(monthly, start)]
    for _ in range(3):
        runs.append(times.next_meeting(monthly, runs[-1] + timedelta(minutes=1)))
    assert [r.date() for r in runs] == [
        date(2026, 12, 1),
        date(2027, 1, 5),
        date(2027, 2, 2),
        date(2027, 3, 2),
    ]
    assert runs[0].hour == 14  # 15:00 in Paris, winter time


async def test_a_metric_answer_feeds_metrics_and_a_changed_answer_corrects_it(chat, database):
    _, q2 = await committee_of_two(chat)
    assert "12%" in await chat.say(f"checkin answer {q2} 12%", user="maria")
    assert "9.5%" in await chat.say(f"checkin answer {q2} 9.5%", user="maria")  # changed
    assert await rows(database, Metric, chat.workspace) == 1
    assert "untagged-share 9.5%" in await chat.say("metrics")
    assert "8%" in await chat.say(f"checkin answer {q2} 8", user="maria")  # the form's number
    assert "recorded with '%'" in await chat.say(f"checkin answer {q2} 8 USD", user="maria")
    await chat.say("config digest-channel #digest")
    assert "untagged-share 8%" in await chat.say("digest post")
    refused = await chat.say(f"checkin answer {q2} lots", user="sam")
    assert "Cannot read" in refused and await rows(database, Metric, chat.workspace) == 1


async def test_a_metric_question_records_only_its_owners_answer(chat, clock, database):
    """Two members answer a metric question: only the owner's answer is the metric's value,
    one per meeting; the other's is shown beside it, never a point of the trend."""
    _, q2 = await committee_of_two(chat)
    assert ": 8%." in await chat.say(f"checkin answer {q2} 8%", user="sam")
    assert "12%" in await chat.say(f"checkin answer {q2} 12%", user="maria")
    assert "7%" in await chat.say(f"checkin answer {q2} 7%", user="sam")
    assert await rows(database, Metric, chat.workspace) == 1  # maria's, the owner's
    assert "untagged-share 12%" in await chat.say("metrics")
    agenda = await chat.say("committee agenda", user="sam")
    assert f"#{q2} Untagged spend share, in %? (metric untagged-share, recorded from maria)" in (
        agenda
    )
    assert "  maria: 12%\n  sam: 7%" in agenda
    # the next meeting: one more value, so a two-point trend of maria's answers only
    clock.now = MEETING + timedelta(hours=2)
    await chat.say(f"checkin answer {q2} 10%", user="maria")
    await chat.say(f"checkin answer {q2} 30%", user="sam")
    assert await rows(database, Metric, chat.workspace) == 2
    shown = await chat.say("metrics")
    assert "untagged-share 10%" in shown and "30" not in shown


async def test_a_bare_number_answer_takes_the_unit_the_question_declares(chat, database):
    """A form's number field carries no unit: the question's `unit %` gives it one, so the
    metric is not fixed to no unit and `metric coverage 80%` still works afterwards."""
    await committee_of_two(chat)
    asked = await chat.say('checkin ask "Coverage?" metric coverage unit % owner <@maria|maria>')
    q3 = number(r"question #(\d+)", asked)
    assert "80%" in await chat.say(f"checkin answer {q3} 80", user="maria")
    assert "Recorded coverage: 82%" in await chat.say("metric coverage 82%")
    assert "coverage 82% ▲ +2 pts" in await chat.say("metrics coverage")  # one unit: %
    assert "(metric coverage, in %)" in await chat.say("checkin list")


async def test_without_an_owner_answers_stand_side_by_side_until_one_is_set(chat, database):
    q1, _ = await committee_of_two(chat)
    asked = await chat.say('checkin ask "Coverage, in %?" metric coverage')
    assert "Answers are shown side by side" in asked and "checkin owner" in asked
    q3 = number(r"question #(\d+)", asked)
    await chat.say(f"checkin answer {q3} 70%", user="maria")
    await chat.say(f"checkin answer {q3} 75%", user="sam")
    assert await rows(database, Metric, chat.workspace) == 0
    agenda = await chat.say("committee agenda", user="sam")
    assert f"#{q3} Coverage, in %? (metric coverage: no owner, so no value recorded)" in agenda
    assert "  maria: 70% · sam: 75%" in agenda
    for line, expected in [
        (f"checkin owner {q3} <@eve|eve>", "Eve is not on the steering committee"),
        (f"checkin owner {q3} sam", "Name the owner with an @mention"),
        (f"checkin owner {q1} <@sam|sam>", "records no metric"),
    ]:
        assert expected in await chat.say(line), line
    assert "Only an admin" in await chat.say(f"checkin owner {q3} <@sam|sam>", user="maria")
    # Setting the owner records the answer they already gave for the coming meeting.
    owned = await chat.say(f"checkin owner {q3} <@sam|sam>")
    assert "sam's answer is recorded as metric coverage, one value per meeting" in owned
    assert await rows(database, Metric, chat.workspace) == 1
    assert "coverage 75%" in await chat.say("metrics")


async def test_checkin_mistakes_get_a_clear_answer_and_store_nothing(chat, database):
    assert "No committee meeting is scheduled" in await chat.say("checkin answer 1 yes")
    q1, _ = await committee_of_two(chat)
    for line, expected in [
        ("checkin ask What did you save?", "Put the question in quotes"),
        ('checkin ask "Spend?" metric', "only `metric <name> [unit <unit>]"),
        ('checkin ask "Spend?" metric spend unit 12', "'12' is not a unit"),
        ('checkin ask "Spend?" metric not a name', "and `owner @person` may follow"),
        ('checkin ask "Spend?" metric spend boss <@sam|sam>', "and `owner @person` may follow"),
        ('checkin ask "Spend?" metric spend owner <@eve|eve>', "not on the steering committee"),
        ("checkin remove 99999", "no check-in question #99999"),
        ("checkin frobnicate", "not a checkin action"),
    ]:
        assert expected in await chat.say(line), line
    assert "no check-in question #99999" in await chat.say("checkin answer 99999 x", user="maria")
    assert "steering committee members" in await chat.say(f"checkin answer {q1} x", user="eve")
    assert "Only an admin" in await chat.say('checkin ask "Q?"', user="maria")
    assert await rows(database, CheckinQuestion, chat.workspace) == 2
    async with database.session() as session:
        answers = (await session.exec(CheckinAnswer.__table__.select())).all()
    assert not any(a.user_id == "eve" for a in answers)


async def test_the_checkin_form_is_prefilled_and_its_submission_is_recorded(chat, bot):
    q1, q2 = await committee_of_two(chat)
    await chat.say(f"checkin answer {q1} Nothing yet", user="maria")
    maria = chat.actor("maria")
    form = await bot.view(maria, "checkin")
    inputs = [b for b in form.blocks if type(b).__name__ == "Input"]
    assert [(i.id, i.value, i.number) for i in inputs] == [
        (f"q{q1}", "Nothing yet", False),
        (f"q{q2}", "", True),
    ]
    submit = next(b for b in form.blocks if type(b).__name__ == "Actions").buttons[0]
    event = ActionEvent(
        maria,
        chat.place,
        submit.action_id,
        submit.value,
        inputs=((f"q{q1}", "Deleted 40 disks"), (f"q{q2}", "7%")),
    )
    outcome = await bot.handle(event)
    assert f"Recorded your answers to #{q1}, #{q2}" in outcome.replies()[0].message.text
    assert "maria: Deleted 40 disks" in await chat.say("committee agenda")
    stale = ActionEvent(maria, chat.place, submit.action_id, "2026-11-19T15:00:00+00:00")
    closed = await bot.handle(stale)
    assert "has started" in closed.replies()[0].message.text


async def test_checkins_reminder_and_agenda_go_out_once_at_their_times(chat, bot, clock):
    q1, _ = await committee_of_two(chat)
    await chat.say("config committee-channel #steering")
    clock.now = MEETING - timedelta(hours=24, minutes=1)
    platform = Platform(bot, chat.workspace)
    first, second = replica(bot, platform), replica(bot, platform)
    await first.tick()
    assert platform.sent == []  # a minute early

    clock.now += timedelta(minutes=2)  # the check-in time (24 h before)
    await first.tick()
    await second.tick()
    asked = platform.items(DirectMessage)
    assert sorted(dm.user_id for dm in asked) == ["maria", "sam"]
    assert f"checkin answer {q1} <answer>" in asked[0].message.text

    await chat.say(f"checkin answer {q1} Saved 2k", user="maria")
    clock.now = MEETING - timedelta(hours=12)  # past halfway to the agenda: the reminder
    for scheduler in (first, second, first):
        await scheduler.tick()
    reminders = platform.items(DirectMessage)[2:]
    assert [dm.user_id for dm in reminders] == ["sam"]  # maria answered
    assert reminders[0].message.text.startswith("Reminder:")

    clock.now = MEETING - timedelta(minutes=59)
    await second.tick()
    await first.tick()
    [posted] = platform.items(ChannelPost)
    assert posted.channel_id == "steering"
    assert (
        "maria: Saved 2k" in posted.message.text
        and "No answer yet from: sam" in posted.message.text
    )

    clock.now = MEETING + timedelta(minutes=5)  # the meeting started: nothing more
    await first.tick()
    assert len(platform.sent) == 4


async def test_a_late_checkin_is_not_followed_at_once_by_its_reminder(chat, bot, clock):
    await committee_of_two(chat)
    clock.now = MEETING - timedelta(hours=13)  # no replica ran at the check-in time (-24 h)
    platform = Platform(bot, chat.workspace)
    await replica(bot, platform).tick()
    assert sorted(dm.user_id for dm in platform.items(DirectMessage)) == ["maria", "sam"]
    clock.now = MEETING - timedelta(hours=12, minutes=30)  # the usual reminder time
    await replica(bot, platform).tick()
    assert len(platform.items(DirectMessage)) == 2  # too soon after the late check-in
    clock.now = MEETING - timedelta(hours=1, minutes=30)  # 11.5 h after it, as planned
    await replica(bot, platform).tick()
    assert len(platform.items(DirectMessage)) == 4


async def test_decisions_are_superseded_never_edited(chat, database):
    await chat.say("committee add <@maria|maria> finance")
    first = number(r"Decision #(\d+)", await chat.say('decide "Buy 3-year plans"'))
    assert "Only steering committee members" in await chat.say('decide "x"', user="eve")
    second = number(
        r"Decision #(\d+)",
        await chat.say(f'decide "Buy 1-year plans only" supersedes {first}', user="maria"),
    )
    again = await chat.say(f'decide "Buy none" supersedes {first}')
    assert f"already superseded by #{second}" in again
    log = await chat.say("decisions all")
    assert f"#{first}" in log and f"Buy 3-year plans [superseded by #{second}]" in log
    assert f"Buy 1-year plans only (supersedes #{first})" in log
    for bad, expected in [
        ("decide", "Say what was decided"),
        ('decide "x" supersedes 99999', "no decision #99999"),
        ("decide poll 99999", "no poll #99999"),
        ('decide "x" because', "Put the decision in quotes"),
    ]:
        assert expected in await chat.say(bad), bad
    assert await rows(database, Decision, chat.workspace) == 2


async def test_a_closed_committee_poll_becomes_a_decision_with_one_click(chat, bot, clock):
    await chat.say("committee add <@maria|maria> finance")
    await chat.say("committee add <@sam|sam> engineering")
    poll = number(
        r"Poll #(\d+)",
        await chat.say('poll "Adopt tagging?" "Yes" "No" committee closes in 1h'),
    )
    assert "still open" in await chat.say(f"decide poll {poll}")
    await chat.say(f"vote {poll} 1", user="maria")
    await chat.say(f"vote {poll} 1", user="sam")
    clock.now += timedelta(hours=2)
    platform = Platform(bot, chat.workspace)
    await replica(bot, platform).tick()
    [results] = [p for p in platform.items(ChannelPost) if p.subject.startswith("poll-results")]
    button = next(b for b in results.message.blocks if type(b).__name__ == "Actions").buttons[0]
    assert (button.label, button.command) == ("Record as decision", f"decide poll {poll}")
    click = ActionEvent(chat.actor("maria"), chat.place, button.action_id, button.value)
    assert (
        "Adopt tagging? → Yes (2 of 2 votes)" in (await bot.handle(click)).replies()[0].message.text
    )
    again = await bot.handle(click)
    assert "already in the decision log" in again.replies()[0].message.text
    assert f"(from poll #{poll})" in await chat.say("decisions")


async def test_roles_show_per_persona_and_admins_change_them(chat, database):
    shown = await chat.say("committee")
    assert "Finance: leads budgeting; decides allocation, commitments, reporting" in shown
    assert "The default matrix is ours" in shown
    assert "now leads commitment purchases" in await chat.say(
        "committee role finance commitments R"
    )
    assert "Finance: leads budgeting, commitments;" in await chat.say("committee")
    for bad, expected in [
        ("committee role finance shopping R", "not an activity"),
        ("committee role finance commitments X", "not R, A, C or I"),
        ("committee role wizard commitments R", "not a persona"),
        ("committee role finance", "Give a persona, an activity"),
    ]:
        assert expected in await chat.say(bad), bad
    assert "Only an admin" in await chat.say("committee role finance budgeting I", user="eve")
    assert await rows(database, RoleAssignment, chat.workspace) == 1


async def test_the_meeting_confirmation_says_where_the_agenda_goes_or_that_it_has_nowhere(chat):
    shown = await chat.say("committee meeting thursday 15:00 weekly UTC")
    assert "once an admin sets where: `config committee-channel #channel`" in shown
    assert "none is posted; `committee agenda` shows it" in shown
    await chat.say("config committee-channel #steering")
    shown = await chat.say("committee meeting thursday 15:00 weekly UTC")
    assert "the agenda is posted 1 hour before, in #steering." in shown
