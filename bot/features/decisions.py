"""`decide` and `decisions`: the steering committee's decision log.

A decision records who decided what and when, and from which poll. The log is append-only: a
decision is never edited; a later one can supersede it (`decide "..." supersedes 4`), and both
stay visible.
"""

from __future__ import annotations

from bot.commands import Request, Role, command
from bot.events import ActionEvent
from bot.message import Context, Header, Message, Outcome, Text
from bot.parsing import UsageError
from bot.parsing.errors import quoted
from bot.parsing.tokens import parse_id, plain_mentions, split_words
from bot.parsing.when import parse_period, to_local
from storage import audit
from storage import decisions as store
from storage import polls as poll_store
from storage.models import Decision

FROM_POLL = "decision.from_poll"
MAX_DECISION = 500
MAX_SHOWN = 30


@command(
    "decide",
    summary="Record a steering committee decision, optionally from a closed poll.",
    usage=('decide "<decision>" [poll <id>] [supersedes <id>]', "decide poll <id>"),
    examples=(
        'decide "Tag every production resource with cost-center by Q1"',
        "decide poll 12",
        'decide "Buy 1-year savings plans only" supersedes 3',
    ),
    details="Committee members and admins. `decide poll <id>` records a closed poll's winning "
    "option. Decisions are never edited: a new one can supersede an old one.",
    role=Role.COMMITTEE,
    doing="record decisions",
)
async def decide(req: Request, args: str) -> Outcome:
    words = split_words(args)
    text, poll_id, supersedes = "", None, None
    rest = words
    if words and words[0].quoted:  # `<#C1|finops>` stored as `#finops`, as polls do
        text, rest = plain_mentions(words[0].text).strip(), words[1:]
    while rest:
        if len(rest) < 2 or rest[0].text.lower() not in ("poll", "supersedes"):
            raise UsageError(
                "put the decision in quotes, then optionally `poll <id>` or `supersedes <id>`"
            )
        if rest[0].text.lower() == "poll":
            poll_id = parse_id(rest[1].text, "poll")
        else:
            supersedes = parse_id(rest[1].text, "decision")
        rest = rest[2:]
    if poll_id is not None and not text:
        text = await _poll_outcome(req, poll_id)
    elif poll_id is not None:
        await _closed_poll(req, poll_id)
    if not text:
        raise UsageError('say what was decided, in quotes: `decide "Adopt the tagging policy"`')
    if len(text) > MAX_DECISION:
        raise UsageError(f"a decision has at most {MAX_DECISION} characters")
    return Outcome().reply(await _record(req, text, poll_id, supersedes=supersedes))


async def on_action(req: Request, event: ActionEvent) -> Outcome:
    """The "Record as decision" button under a closed poll's results."""
    if event.action_id != FROM_POLL:
        raise UsageError(f"unknown action {quoted(event.action_id)}")
    await req.require_committee("record decisions")
    poll_id = parse_id(event.value, "poll")
    if await store.from_poll(req.session, req.workspace_id, poll_id) is not None:
        return Outcome().reply(f"Poll #{poll_id} is already in the decision log (`decisions`).")
    return Outcome().reply(
        await _record(req, await _poll_outcome(req, poll_id), poll_id, supersedes=None)
    )


async def _record(req: Request, text: str, poll_id: int | None, *, supersedes: int | None) -> str:
    if supersedes is not None:
        old = await store.get(req.session, req.workspace_id, supersedes)
        if old is None:
            raise UsageError(f"there is no decision #{supersedes}")
        if old.superseded_by is not None:
            raise UsageError(
                f"decision #{supersedes} is already superseded by #{old.superseded_by}"
            )
    decision = await store.record(
        req.session,
        Decision(
            workspace_id=req.workspace_id,
            text=text,
            decided_by=req.actor.user_id,
            decided_by_name=req.actor.name,
            decided_at=req.now,
            poll_id=poll_id,
            supersedes=supersedes,
        ),
    )
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="decision.add",
        subject=f"decision:{decision.id}",
    )
    replaced = f" It supersedes #{supersedes}." if supersedes else ""
    return f"Decision #{decision.id} recorded: {text}.{replaced}"


async def _closed_poll(req: Request, poll_id: int):
    poll = await poll_store.get(req.session, req.workspace_id, poll_id)
    if poll is None:
        raise UsageError(f"there is no poll #{poll_id}")
    closed = poll.closed_at is not None or (
        poll.closes_at is not None and poll.closes_at <= req.now
    )
    if not closed:
        raise UsageError(f"poll #{poll_id} is still open; decide once it has closed")
    return poll


async def _poll_outcome(req: Request, poll_id: int) -> str:
    """`Adopt a tagging policy? → Yes (5 of 8 votes)` for a closed poll."""
    poll = await _closed_poll(req, poll_id)
    options = await poll_store.options(req.session, poll_id)
    tally = await poll_store.tally(req.session, poll_id)
    if not any(tally.values()):
        raise UsageError(f"poll #{poll_id} has no votes; say what was decided in quotes")
    best = max(tally.values())
    winners = [o.label for o in options if tally.get(o.position, 0) == best]
    if len(winners) > 1:
        raise UsageError(
            f"poll #{poll_id} is a tie between {', '.join(winners)}; "
            f'say what was decided: `decide "..." poll {poll_id}`'
        )
    total = sum(tally.values())
    return f"{poll.question} → {winners[0]} ({best} of {total} votes)"


@command(
    "decisions",
    summary="The steering committee's decision log.",
    usage=("decisions [this month|this quarter|this year|all]",),
    examples=("decisions", "decisions this year"),
    details="Newest first, with who decided and from which poll; superseded decisions are "
    "marked, never removed. Defaults to this quarter.",
)
async def decisions(req: Request, args: str) -> Outcome:
    period = parse_period(args.split(), req.now, req.tz, default="this quarter")
    found = await store.between(req.session, req.workspace_id, start=period.start, end=period.end)
    if not found:
        return Outcome().reply(
            f'No decisions recorded {period.name}. Committee members: `decide "..."`.'
        )
    lines = [decision_line(d, req) for d in reversed(found[-MAX_SHOWN:])]
    more = len(found) - MAX_SHOWN
    blocks: list = [Header(f"Decisions, {period.name}"), Text("\n".join(lines))]
    if more > 0:
        blocks.append(Context(f"{more} older ones not shown; narrow the period."))
    return Outcome().reply(
        Message(text=f"Decisions, {period.name}:\n" + "\n".join(lines), blocks=tuple(blocks))
    )


def decision_line(d: Decision, req: Request) -> str:
    when = to_local(d.decided_at, req.tz)
    source = f" (from poll #{d.poll_id})" if d.poll_id else ""
    replaced = f" (supersedes #{d.supersedes})" if d.supersedes else ""
    gone = f" [superseded by #{d.superseded_by}]" if d.superseded_by else ""
    text = plain_mentions(d.text)  # decisions recorded before mentions were stored plain
    return f"#{d.id} {when:%Y-%m-%d} · {d.decided_by_name}: {text}{source}{replaced}{gone}"
