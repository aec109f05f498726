"""`checkin`: the questions every committee member answers before each meeting.

The bot sends each member the questions privately before the meeting (a form: a Slack modal,
Adaptive Card inputs on Teams, `checkin answer` lines in the console), reminds those who have
not answered once, and puts the answers in the agenda. A question tied to a metric names the
member who answers it for the record (its owner): that answer is the metric's one value for
the meeting; everyone else's is only shown, so two members' answers never make a fake trend.
Answers can change until the meeting starts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.commands import Refusal, Request, Role, Subcommand, command
from bot.events import ActionEvent
from bot.features import meetings
from bot.features.metrics import checked_value
from bot.message import Actions, Button, Context, Header, Input, Message, Outcome, Text
from bot.metric_text import format_number, format_value
from bot.parsing import UsageError
from bot.parsing.errors import quoted
from bot.parsing.reading import parse_reading
from bot.parsing.tokens import Word, parse_id, split_words, user_mention
from bot.parsing.when import describe
from storage import audit, checkins, metrics
from storage import committee as seats
from storage.models import CheckinQuestion

SUBMIT = "checkin.submit"
MAX_QUESTIONS = 10
MAX_QUESTION, MAX_ANSWER = 300, 1000


@command(
    "checkin",
    summary="The questions each committee member answers before every meeting.",
    usage=(
        'checkin ask "<question>" [metric <name> [unit <unit>] [owner @person]]',
        "checkin owner <question id> @person",
        "checkin list",
        "checkin remove <id>",
        "checkin answer <question id> <answer>",
    ),
    examples=(
        'checkin ask "What did your team save this month?"',
        'checkin ask "Untagged spend this month?" metric untagged-share unit % owner @maria',
        "checkin owner 2 @maria",
        "checkin answer 2 12%",
    ),
    details="Admins ask and remove questions; committee members answer. Before each meeting "
    "(`committee meeting`) every member gets the questions privately, and one reminder if "
    "they have not answered. Answers can change until the meeting starts and appear in the "
    "agenda. A question with a metric records one value per meeting: its owner's answer "
    "(a committee member). Without an owner, the answers are shown side by side and the "
    "metric gets no value until an admin sets one with `checkin owner`.",
    subcommands=(
        Subcommand(
            "ask",
            "Add a question, optionally recording a metric.",
            Role.ADMIN,
            "ask check-in questions",
            handler=lambda req, rest: _ask_command(req, split_words(rest)),
        ),
        Subcommand(
            "owner",
            "Set whose answer is a question's metric value.",
            Role.ADMIN,
            "set who answers a check-in metric",
            handler=lambda req, rest: _owner(req, _texts(rest)),
        ),
        Subcommand("list", "The questions.", handler=lambda req, rest: _list_command(req, rest)),
        Subcommand(
            "remove",
            "Remove a question; past answers stay.",
            Role.ADMIN,
            "remove check-in questions",
            handler=lambda req, rest: _remove(req, _texts(rest)),
        ),
        Subcommand(
            "answer",
            "Answer a question for the coming meeting (committee members).",
            handler=lambda req, rest: _answer_command(req, rest),
        ),
    ),
)
async def checkin(req: Request, args: str) -> Outcome:
    words = split_words(args)
    if not words:
        return await _list(req)
    raise UsageError(
        f"{quoted(words[0].text)} is not a checkin action; use ask, owner, list, remove or answer"
    )


def _texts(rest: str) -> list[str]:
    """The words after the subcommand; an unclosed quote is refused in every form."""
    return [w.text for w in split_words(rest)]


async def _list_command(req: Request, rest: str) -> Outcome:
    split_words(rest)  # anything after `list` is ignored, but an unclosed quote is refused
    return await _list(req)


async def _ask_command(req: Request, words: list[Word]) -> Outcome:
    return await _ask(req, [w.text for w in words], quoted_first=bool(words and words[0].quoted))


async def _ask(req: Request, words: list[str], *, quoted_first: bool) -> Outcome:
    if not words or not quoted_first:
        raise UsageError('put the question in quotes, e.g. `checkin ask "What did you save?"`')
    text = words[0].strip()
    metric, unit, owner = await _metric_options(req, words[1:])
    if not text or len(text) > MAX_QUESTION:
        raise UsageError(f"a question has 1 to {MAX_QUESTION} characters")
    if len(await checkins.questions(req.session, req.workspace_id)) >= MAX_QUESTIONS:
        raise UsageError(f"there are already {MAX_QUESTIONS} questions; remove one first")
    question = await checkins.ask(
        req.session,
        req.workspace_id,
        text,
        metric=metric,
        by=req.actor.user_id,
        now=req.now,
        owner=owner,
        unit=unit,
    )
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="checkin.ask",
        subject=f"q:{question.id}",
    )
    return Outcome().reply(f"Check-in question #{question.id} added: {text}{_tied(question)}")


def _prefill(question: CheckinQuestion, answer: str) -> str:
    """A form field's current answer; a metric's number field takes the number alone (its
    unit is the metric's), since `12.5%` is no number to a form."""
    if not question.metric or not answer:
        return answer
    try:
        return format_number(parse_reading(f"{question.metric} {answer}").value).replace(",", "")
    except UsageError:
        return answer


def _in(question: CheckinQuestion) -> str:
    return f", in {question.metric_unit}" if question.metric_unit else ""


def _tied(question: CheckinQuestion) -> str:
    if not question.metric:
        return ""
    if question.metric_owner_name:
        return (
            f" {question.metric_owner_name}'s answer is recorded as metric {question.metric}, "
            "one value per meeting."
        )
    return (
        f" Answers are shown side by side; metric {question.metric} gets a value once an owner "
        f"is set: `checkin owner {question.id} @person`."
    )


async def _metric_options(
    req: Request, extra: list[str]
) -> tuple[str | None, str | None, tuple[str, str] | None]:
    """`metric <name> [unit <unit>] [owner @person]` after the question: (name, unit, owner)."""
    if not extra:
        return None, None, None
    if len(extra) < 2 or extra[0].lower() != "metric":
        raise UsageError(
            "after the question, only `metric <name> [unit <unit>] [owner @person]` may follow"
        )
    metric = parse_reading(f"{extra[1]} 0").name  # the metric grammar's name rules
    rest = extra[2:]
    pairs = list(zip(rest[::2], rest[1::2], strict=False))
    keys = [key.lower() for key, _ in pairs]
    if len(rest) % 2 or not set(keys) <= {"unit", "owner"} or len(set(keys)) < len(keys):
        raise UsageError(
            "after the metric, only `unit <unit>` and `owner @person` may follow, "
            "e.g. `metric coverage unit % owner @maria`"
        )
    given = {key.lower(): value for key, value in pairs}
    unit = _unit(metric, given["unit"]) if "unit" in given else None
    owner = await _member(req, given["owner"]) if "owner" in given else None
    return metric, unit, owner


def _unit(metric: str, word: str) -> str:
    """The unit a question declares (`%` or a word), checked by the metric grammar."""
    spaced = "" if word == "%" else " "
    try:
        unit = parse_reading(f"{metric} 0{spaced}{word}").unit
    except UsageError:
        unit = ""
    if not unit:
        raise UsageError(f"{quoted(word)} is not a unit: `%` or one word, e.g. `unit USD`")
    return unit


async def _member(req: Request, word: str) -> tuple[str, str]:
    """A committee member named by an @mention: (user id, name)."""
    person = user_mention(word)
    if person is None:
        raise UsageError("name the owner with an @mention, e.g. `owner @maria`")
    for member in await seats.members(req.session, req.workspace_id):
        if member.user_id == person.user_id:
            return member.user_id, member.user_name
    raise UsageError(
        f"{person.name} is not on the steering committee, so gets no check-in; "
        f"`committee add @{person.name} <persona>` first"
    )


async def _owner(req: Request, words: list[str]) -> Outcome:
    if len(words) != 2:
        raise UsageError("give the question id and the owner, e.g. `checkin owner 2 @maria`")
    question = await _question(req, parse_id(words[0], "question"))
    if not question.metric:
        raise UsageError(
            f"question #{question.id} records no metric; ask one with "
            '`checkin ask "..." metric <name> owner @person`'
        )
    owner = await _member(req, words[1])
    await checkins.set_owner(req.session, question, owner)
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="checkin.owner",
        subject=f"q:{question.id}",
    )
    # The new owner may have answered the coming meeting already: that answer is the value.
    meeting = await meetings.upcoming(req)
    answer = (
        await checkins.answer_of(req.session, question.id or 0, meeting.key, user_id=owner[0])
        if meeting
        else None
    )
    if meeting is not None and answer is not None:
        await record_answer(_as(req, owner[0], owner[1]), meeting, question, text=answer.answer)
    return Outcome().reply(f"Check-in question #{question.id}:{_tied(question)}")


async def _remove(req: Request, words: list[str]) -> Outcome:
    if len(words) != 1:
        raise UsageError("give one question id, e.g. `checkin remove 3`")
    question_id = parse_id(words[0], "question")
    if not await checkins.remove(req.session, req.workspace_id, question_id, now=req.now):
        raise UsageError(f"there is no check-in question #{question_id}")
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="checkin.remove",
        subject=f"q:{question_id}",
    )
    return Outcome().reply(f"Removed check-in question #{question_id}; past answers stay.")


async def _list(req: Request) -> Outcome:
    questions = await checkins.questions(req.session, req.workspace_id)
    if not questions:
        return Outcome().reply(
            'No check-in questions yet. Admins: `checkin ask "What did your team save?"`.'
        )
    meeting = await meetings.upcoming(req)
    mine: dict[int, str] = {}
    if meeting is not None:
        answers = await checkins.answers(
            req.session, [q.id for q in questions if q.id is not None], meeting.key
        )
        mine = {a.question_id: a.answer for a in answers if a.user_id == req.actor.user_id}
    lines = [
        f"#{q.id} {q.text}"
        + (f" (metric {q.metric}{_in(q)})" if q.metric else "")
        + (f" · your answer: {mine[q.id]}" if q.id in mine else "")
        for q in questions
    ]
    when = (
        f"for the meeting on {describe(meeting.starts, meeting.rhythm.weekly.zone)}"
        if meeting
        else "(no meeting scheduled)"
    )
    return Outcome().reply(f"Check-in questions {when}:\n" + "\n".join(lines))


async def _answer_command(req: Request, rest: str) -> Outcome:
    split_words(rest)  # an unclosed quote is refused, as in every checkin form
    words = rest.split(maxsplit=1)
    if len(words) != 2:
        raise UsageError("give the question id and your answer, e.g. `checkin answer 2 12%`")
    question_id = parse_id(words[0], "question")
    meeting = await meetings.require_upcoming(req)
    await _require_member(req)
    question = await _question(req, question_id)
    shown = await record_answer(req, meeting, question, text=words[1])
    return Outcome().reply(
        f"Recorded your answer to #{question_id} for the meeting on "
        f"{describe(meeting.starts, meeting.rhythm.weekly.zone)}: {shown}. "
        "You can change it until the meeting starts."
    )


async def on_action(req: Request, event: ActionEvent) -> Outcome:
    """The check-in form was sent: `value` is the meeting key, `inputs` the answers."""
    if event.action_id != SUBMIT:
        raise UsageError(f"unknown action {quoted(event.action_id)}")
    meeting = await meetings.require_upcoming(req)
    if event.value != meeting.key:
        if _started_before(event.value, meeting):
            return Outcome().reply(
                "That meeting has started, so its check-in is closed. "
                "`checkin list` shows the questions for the next one."
            )
        return Outcome().reply(
            "That form is not for the next committee meeting (it may have been moved), so "
            "nothing was recorded. `checkin list` shows the questions for the next one."
        )
    await _require_member(req)
    given = [(key, text.strip()) for key, text in event.inputs if text.strip()]
    if not given:
        raise UsageError("the form was empty; type an answer in at least one field")
    recorded = []
    for key, text in given:
        question = await _question(req, parse_id(key.removeprefix("q"), "question"))
        await record_answer(req, meeting, question, text=text)
        recorded.append(f"#{question.id}")
    return Outcome().reply(
        f"Thanks! Recorded your answers to {', '.join(recorded)}; you can change them until "
        "the meeting starts."
    )


def _started_before(key: str, meeting: meetings.Meeting) -> bool:
    """Is `key` the key of a meeting before `meeting` (so one that has started)? A key is the
    meeting's local start in ISO form; anything else is no meeting at all."""
    try:
        when = datetime.fromisoformat(key)
    except ValueError:
        return False
    return when.tzinfo is not None and when < meeting.starts


async def record_answer(
    req: Request, meeting: meetings.Meeting, question: CheckinQuestion, *, text: str
) -> str:
    """Store (or change) one answer. On a metric question every answer is read as a value of
    the metric (in its unit), and the owner's is recorded: the meeting's one value, corrected
    in place when the answer changes. Returns the answer as shown back."""
    text = text.strip()
    if not text or len(text) > MAX_ANSWER:
        raise UsageError(f"an answer has 1 to {MAX_ANSWER} characters")
    metric_id, shown = None, text
    if question.metric:
        reading = parse_reading(f"{question.metric} {text}")
        if not reading.unit and question.metric_unit:  # a form's number field: the unit asked
            reading = replace(reading, unit=question.metric_unit)
        latest = await metrics.latest(req.session, req.workspace_id, reading.name)
        value = checked_value(req, reading, latest, bare_number_ok=True)
        shown = format_value(value.value, value.unit)
        if question.metric_owner == req.actor.user_id:
            answers = await checkins.answers(req.session, [question.id or 0], meeting.key)
            earlier = next((a.metric_id for a in answers if a.metric_id is not None), None)
            metric_id = (await metrics.record_or_correct(req.session, earlier, value)).id
    await checkins.answer(
        req.session,
        question.id or 0,
        meeting.key,
        user_id=req.actor.user_id,
        user_name=req.actor.name,
        text=shown,
        now=req.now,
        metric_id=metric_id,
    )
    return shown


async def _question(req: Request, question_id: int) -> CheckinQuestion:
    for question in await checkins.questions(req.session, req.workspace_id):
        if question.id == question_id:
            return question
    raise UsageError(f"there is no check-in question #{question_id}; see `checkin list`")


async def _require_member(req: Request) -> None:
    if await req.committee_seat() is None:
        raise Refusal("Check-ins are answered by steering committee members; see `committee`.")


async def form(req: Request, meeting: meetings.Meeting) -> Message | None:
    """The check-in form for the asking member, pre-filled with their current answers."""
    questions = await checkins.questions(req.session, req.workspace_id)
    if not questions:
        return None
    answers = await checkins.answers(
        req.session, [q.id for q in questions if q.id is not None], meeting.key
    )
    mine = {a.question_id: a.answer for a in answers if a.user_id == req.actor.user_id}
    when = describe(meeting.starts, meeting.rhythm.weekly.zone)
    blocks: list = [
        Header("Steering committee check-in"),
        Text(f"Before the meeting on {when}, please answer:"),
    ]
    for q in questions:
        label = f"#{q.id} {q.text}" + (f" (metric {q.metric}{_in(q)})" if q.metric else "")
        blocks.append(
            Input(
                id=f"q{q.id}",
                label=label,
                command=f"checkin answer {q.id} <your answer>",
                number=q.metric is not None,
                value=_prefill(q, mine.get(q.id or 0, "")),
            )
        )
    blocks += [
        Actions(
            (
                Button(
                    "Send answers",
                    SUBMIT,
                    meeting.key,
                    command="checkin answer <question id> <answer>",
                    primary=True,
                ),
            )
        ),
        Context("You can change your answers until the meeting starts."),
    ]
    lines = [f"Steering committee check-in for the meeting on {when}:"] + [
        f"#{q.id} {q.text} — answer with `checkin answer {q.id} <answer>`" for q in questions
    ]
    return Message(text="\n".join(lines), blocks=tuple(blocks))


async def ask_members(req: Request, starts: object) -> Outcome:
    """Scheduled: every member gets the check-in form privately."""
    meeting = await _meeting_starting(req, starts)
    if meeting is None:
        return Outcome()
    outcome = Outcome()
    for member in await seats.members(req.session, req.workspace_id):
        personal = await form(_as(req, member.user_id, member.user_name), meeting)
        if personal is not None:
            outcome.dm(personal, member.user_id, member.user_name)
    return outcome


async def remind_members(req: Request, starts: object) -> Outcome:
    """Scheduled: one reminder to each member who has answered nothing yet."""
    meeting = await _meeting_starting(req, starts)
    if meeting is None:
        return Outcome()
    questions = await checkins.questions(req.session, req.workspace_id)
    answered = {
        a.user_id
        for a in await checkins.answers(
            req.session, [q.id for q in questions if q.id is not None], meeting.key
        )
    }
    outcome = Outcome()
    when = describe(meeting.starts, meeting.rhythm.weekly.zone)
    for member in await seats.members(req.session, req.workspace_id):
        if member.user_id in answered or not questions:
            continue
        personal = await form(_as(req, member.user_id, member.user_name), meeting)
        assert personal is not None
        reminder = Message(
            text=f"Reminder: the committee meets {when}; your check-in is still open.\n"
            + personal.text,
            blocks=(Text(f"Reminder: the committee meets {when}."), *personal.blocks[1:]),
        )
        outcome.dm(reminder, member.user_id, member.user_name)
    return outcome


async def _meeting_starting(req: Request, starts: object) -> meetings.Meeting | None:
    meeting = await meetings.upcoming(req)
    return meeting if meeting is not None and meeting.starts == starts else None


def _as(req: Request, user_id: str, name: str) -> Request:
    """The same request, as seen by another person (for their pre-filled form)."""
    return replace(req, actor=replace(req.actor, user_id=user_id, display_name=name))
