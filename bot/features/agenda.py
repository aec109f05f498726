"""The steering committee's agenda: check-in answers, open polls, wins, metrics, decisions.

Posted to `committee-channel` before each meeting by the scheduler, and shown on demand with
`committee agenda`. "Since the last meeting" means since the previous meeting of the rhythm
(a week, two, or a month earlier).
"""

from __future__ import annotations

from datetime import timedelta

from bot import channels
from bot.commands import Request
from bot.costs.verify import Verdict
from bot.features import meetings, polls
from bot.features.decisions import decision_line
from bot.message import Context, Divider, Header, Message, Outcome, Text
from bot.metric_text import trend_line
from bot.parsing.money import format_totals
from bot.parsing.when import describe
from bot.period_facts import PeriodFacts
from bot.win_text import value_text, verified_text
from bot.wording import plural
from storage import checkins
from storage import committee as seats

MAX_WINS = 5
OPEN_POLLS = 20


PART_CHARS = 10_000  # one message's text: far inside Slack's 50 blocks of 3,000 and a card's size
SECTION_CHARS = 2_900  # one Text block: Slack's section limit is 3,000 characters


async def build(req: Request, meeting: meetings.Meeting) -> list[Message]:
    """The agenda as one message, or, when long (many members with long check-in answers),
    as several in order, each titled "(2 of 3)": every section is kept whole, split only
    between its lines, never cut."""
    zone = meeting.rhythm.weekly.zone
    since = meeting.previous() or meeting.starts - timedelta(days=7)
    facts = PeriodFacts(req.session, req.workspace_id, since, None, req.now)
    sections = [
        ("Check-ins", await _checkins(req, meeting)),
        ("Open polls", await _polls(req, facts)),
        (f"Wins since the last meeting ({describe(since, zone)})", await _wins(facts)),
        ("Metrics", [trend_line(s) for s in await facts.metric_trends()]),
        (
            "Decisions since the last meeting",
            [decision_line(d, req) for d in await facts.decisions()],
        ),
    ]
    if not_seen := await _not_seen(facts):  # only when there is something to discuss
        sections.insert(3, ("Wins whose savings were not seen in the bill", not_seen))
    parts: list[list[tuple[str, list[str]]]] = [[]]
    used = 0
    for heading, items in sections:
        for chunk in _chunks(heading, items or ["(none)"]):
            size = sum(len(line) + 1 for line in chunk[1])
            if parts[-1] and used + size > PART_CHARS:
                parts.append([])
                used = 0
            parts[-1].append(chunk)
            used += size
    title = f"Steering committee agenda · {describe(meeting.starts, zone)}"
    return [
        _message(title if len(parts) == 1 else f"{title} ({i} of {len(parts)})", part)
        for i, part in enumerate(parts, 1)
    ]


def _chunks(heading: str, items: list[str]) -> list[tuple[str, list[str]]]:
    """A section as (heading, lines) pieces of at most SECTION_CHARS each, cut between lines;
    a continued piece is headed "… (continued)"."""
    chunks: list[tuple[str, list[str]]] = []
    lines: list[str] = []
    size = len(heading)
    for item in items:
        item = item if len(item) < SECTION_CHARS - 200 else item[: SECTION_CHARS - 201] + "…"
        if lines and size + len(item) + 1 > SECTION_CHARS:
            chunks.append((heading if not chunks else f"{heading} (continued)", lines))
            lines, size = [], len(heading) + 12
        lines.append(item)
        size += len(item) + 1
    chunks.append((heading if not chunks else f"{heading} (continued)", lines))
    return chunks


def _message(title: str, sections: list[tuple[str, list[str]]]) -> Message:
    blocks: list = [Header(title)]
    lines = [title]
    for heading, shown in sections:
        blocks += [Divider(), Text(f"{heading}\n" + "\n".join(shown))]
        lines += [f"{heading}:", *shown]
    blocks.append(Context('`committee agenda` shows it again; `decide "..."` records a decision.'))
    return Message(text="\n".join(lines), blocks=tuple(blocks))


async def _checkins(req: Request, meeting: meetings.Meeting) -> list[str]:
    questions = await checkins.questions(req.session, req.workspace_id)
    members = await seats.members(req.session, req.workspace_id)
    if not questions:
        return ['No check-in questions. Admins: `checkin ask "..."`.']
    answers = await checkins.answers(
        req.session, [q.id for q in questions if q.id is not None], meeting.key
    )
    lines = []
    for q in questions:
        given = [a for a in answers if a.question_id == q.id]
        if q.metric and not q.metric_owner:
            # No owner: the answers side by side, none of them the metric's value.
            lines.append(f"#{q.id} {q.text} (metric {q.metric}: no owner, so no value recorded)")
            if given:
                lines.append("  " + " · ".join(f"{a.user_name}: {a.answer}" for a in given))
            continue
        owner = f" (metric {q.metric}, recorded from {q.metric_owner_name})" if q.metric else ""
        lines.append(f"#{q.id} {q.text}{owner}")
        lines += [f"  {a.user_name}: {a.answer}" for a in given]
    answered = {a.user_id for a in answers}
    silent = [m.user_name for m in members if m.user_id not in answered]
    if silent:
        lines.append(f"No answer yet from: {', '.join(silent)}")
    return lines


async def _polls(req: Request, facts: PeriodFacts) -> list[str]:
    lines = []
    for p in (await facts.open_polls(OPEN_POLLS)).items:
        line = f"#{p.id} {p.question}"
        if p.closes_at:
            line += f" (closes {describe(p.closes_at, req.tz)})"
        if not p.anonymous:
            missing = await polls.not_voted_committee(req, p)
            if missing:
                line += f" · not voted: {', '.join(name for _, name in missing)}"
        lines.append(line)
    return lines


async def _not_seen(facts: PeriodFacts) -> list[str]:
    """Checks since the last meeting that did not find the claimed savings: for discussion."""
    return [
        f"#{win.id} {win.text} ({value_text(win)}): {verified_text(check, win)}"
        for win, check in await facts.checks()
        if check.verdict == Verdict.NOT_SEEN.value
    ]


async def _wins(facts: PeriodFacts) -> list[str]:
    total = await facts.wins()
    if not total.count:
        return []
    top = await facts.top_wins(MAX_WINS)
    lines = [f"{plural(total.count, 'win')}, {format_totals(total.savings)} a year"]
    lines += [f"#{v.win.id} {v.win.text}: {value_text(v.win)}" for v in top]
    return lines


async def agenda_command(req: Request) -> Outcome:
    meeting = await meetings.require_upcoming(req)
    outcome = Outcome()
    for part in await build(req, meeting):
        outcome.reply(part)
    return outcome


async def post(req: Request, starts: object) -> Outcome:
    """Scheduled: the agenda in `committee-channel`, before the meeting."""
    meeting = await meetings.upcoming(req)
    if meeting is None or meeting.starts != starts:
        return Outcome()
    target = channels.configured(req.config, "committee-channel")
    if target is None:
        return Outcome()  # nowhere to post; `committee agenda` still shows it
    outcome = Outcome()
    for i, part in enumerate(await build(req, meeting)):
        subject = f"agenda:{meeting.key}" + (f":{i + 1}" if i else "")
        outcome.post(part, target.id, channel_name=target.name, subject=subject)
    return outcome
