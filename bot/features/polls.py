"""`poll`, `vote`, `polls`: steering-committee decisions with buttons, deadlines and results.

Anonymous polls store a keyed hash of each voter (see storage.secret.voter_hash) and every
output shows counts only: nobody, not even an admin with the database, can see who chose what.
"""

from __future__ import annotations

from datetime import timedelta

from bot.commands import COMMANDS, Refusal, Request, Subcommand, command
from bot.events import ActionEvent
from bot.message import Actions, Button, Context, Header, Message, Outcome, Text
from bot.parsing import UsageError
from bot.parsing.poll import parse_poll
from bot.parsing.subcommands import check_typo
from bot.parsing.tokens import parse_id
from bot.parsing.when import describe, describe_duration, parse_deadline
from bot.wording import plural
from storage import audit, committee
from storage import polls as store
from storage.models import Poll, PollOption
from storage.secret import voter_hash

VOTE_ACTION = "poll.vote"
MAX_NAMES = 25  # voters named per option; a big poll shows "… and 1,975 others"


@command(
    "poll",
    summary="Ask a question with buttons; optionally anonymous, multi-choice, committee-only, "
    "with a deadline.",
    usage=(
        'poll "Question?" "Option" "Option" ... [anonymous] [multi] [committee] [closes <when>] '
        "[remind <lead>|off]",
        "poll results <id>",
        "poll close <id>",
    ),
    examples=(
        'poll "Adopt a tagging policy?" "Yes" "No" "Needs work" committee closes friday 17:00',
        'poll "Renew the savings plan?" "Yes" "No" committee closes in 3d remind 2h',
        'poll "Lunch & learn topic?" "Savings plans" "Spot" "Unit economics" multi anonymous',
        "poll results 12",
    ),
    details="Deadlines: `in 3d`, `in 4h`, `friday 17:00`, `tomorrow`, `2026-12-01 17:00` "
    "(a day alone closes at 17:00), in the workspace time zone. 2-10 options of up to 75 "
    "characters. Committee polls: only committee members vote, and only they or admins create "
    "them. Committee members who have not voted get one private reminder before the deadline: "
    "24 hours before by default, or `remind 2h`, `remind 90m`, `remind 1d`, `remind off` "
    "(committee polls with `closes` only). Anonymous polls show counts only, to everyone. "
    "`poll close` is for the creator or an admin.",
    subcommands=(
        Subcommand(
            "results",
            "A poll's results.",
            aliases=("result",),
            handler=lambda req, rest: _results(req, parse_id(rest.strip() or None, "poll")),
        ),
        Subcommand(  # the creator or an admin: a rule on the poll, checked by `_close`
            "close",
            "Close a poll before its deadline.",
            handler=lambda req, rest: _close(req, parse_id(rest.strip() or None, "poll")),
        ),
    ),
)
async def poll(req: Request, args: str) -> Outcome:
    check_typo("poll", args.split(), COMMANDS["poll"].subcommand_names)  # `poll clsoe 3`
    draft = parse_poll(args)
    # Who may create it depends on what was asked (`committee`), so it is checked here.
    if draft.committee:
        await req.require_committee("create committee polls")
    closes_at = parse_deadline(draft.closes, req.now, req.tz) if draft.closes else None
    remind_at = None
    if closes_at is not None and draft.committee:
        default = timedelta(hours=req.settings.poll_reminder_hours)
        lead = default if draft.remind is None else draft.remind
        remind_at = closes_at - lead if lead > timedelta(0) else None  # past: due at once
    created = await store.create(
        req.session,
        Poll(
            workspace_id=req.workspace_id,
            creator_id=req.actor.user_id,
            creator_name=req.actor.name,
            question=draft.question,
            anonymous=draft.anonymous,
            multi=draft.multi,
            committee=draft.committee,
            conversation_id=req.place.conversation_id,
            conversation_name=req.place.conversation_name,
            created_at=req.now,
            closes_at=closes_at,
            remind_at=remind_at,
        ),
        draft.options,
    )
    message = await poll_message(req, created)
    outcome = Outcome().post(
        message,
        req.place.conversation_id,
        channel_name=req.place.conversation_name,
        subject=f"poll:{created.id}",
    )
    return outcome.reply(f"Poll #{created.id} is up. Votes: buttons, or `vote {created.id} <n>`.")


async def poll_message(req: Request, p: Poll) -> Message:
    """The poll as everyone sees it: question, options with counts, buttons while it is open."""
    assert p.id is not None
    options = await store.options(req.session, p.id)
    counts = await store.tally(req.session, p.id)
    names = {} if p.anonymous else await store.names_by_option(req.session, p.id)
    total_voters = await store.voter_count(req.session, p.id)
    is_open = _is_open(req, p)
    lines, tally = [], []  # with voters' names (the card); counts only (the short fallback)
    for option in options:
        n = counts.get(option.position, 0)
        line = f"{option.position}. {option.label}: {plural(n, 'vote')}"
        tally.append(line)
        if chosen_by := names.get(option.position):
            shown = ", ".join(chosen_by[:MAX_NAMES])
            more = len(chosen_by) - MAX_NAMES
            line += f" ({shown}{f' and {more:,} others' if more > 0 else ''})"
        lines.append(line)
    state = "open" if is_open else "closed"
    facts = ["multiple choice" if p.multi else "single choice"]
    if p.anonymous:
        facts.append("anonymous: counts only")
    if p.committee:
        facts.append("committee members vote")
    if p.closes_at and is_open:
        facts.append(f"closes {describe(p.closes_at, req.tz)}")
        if p.remind_at is not None:
            facts.append(f"reminder {describe_duration(p.closes_at - p.remind_at)} before")
    elif ended := p.closed_at or p.closes_at:
        facts.append(f"closed {describe(ended, req.tz)}")
    participation = f"{plural(total_voters, 'voter')}"
    if p.committee:
        seats = await committee.members(req.session, req.workspace_id)
        missing = await _not_voted(req, p, [(m.user_id, m.user_name) for m in seats])
        participation += f", {len(seats) - len(missing)} of {len(seats)} committee members"
        if missing and not p.anonymous and is_open:
            participation += f"; waiting for {', '.join(name for _, name in missing)}"
    title = f"Poll #{p.id} ({state}): {p.question}"
    blocks: list = [Header(f"📊 {p.question}"), Text("\n".join(lines))]
    if is_open:
        blocks.append(vote_buttons(p, options))
    blocks.append(
        Context(
            f"Poll #{p.id} by {p.creator_name} · {state} · {' · '.join(facts)} · {participation}"
        )
    )
    return Message(text=f"{title}\n" + "\n".join(tally), blocks=tuple(blocks))


async def current_message(req: Request, poll_id: int) -> Message | None:
    """The poll as it stands now, for updating the posted message in place."""
    p = await store.get(req.session, req.workspace_id, poll_id)
    return await poll_message(req, p) if p is not None else None


def vote_buttons(p: Poll, options: list[PollOption]) -> Actions:
    """One button per option; each names the `vote` command that does the same."""
    return Actions(
        tuple(
            Button(
                label=o.label,
                action_id=VOTE_ACTION,
                value=f"{p.id}:{o.position}",
                command=f"vote {p.id} {o.position}",
            )
            for o in options
        )
    )


def _is_open(req: Request, p: Poll) -> bool:
    return p.closed_at is None and (p.closes_at is None or p.closes_at > req.now)


def _voter(req: Request, p: Poll, user_id: str) -> str:
    assert p.id is not None  # a stored poll
    return voter_hash(req.voter_key, p.id, user_id) if p.anonymous else user_id


async def _not_voted(req: Request, p: Poll, people: list[tuple[str, str]]) -> list[tuple[str, str]]:
    assert p.id is not None  # a stored poll
    voted = await store.voters(req.session, p.id)
    return [(uid, name) for uid, name in people if _voter(req, p, uid) not in voted]


async def not_voted_committee(req: Request, p: Poll) -> list[tuple[str, str]]:
    """Committee members who have not voted yet (for reminders)."""
    seats = await committee.members(req.session, req.workspace_id)
    return await _not_voted(req, p, [(m.user_id, m.user_name) for m in seats])


@command(
    "vote",
    summary="Vote in a poll by number (the text twin of the poll's buttons).",
    usage="vote <poll id> <option number>",
    examples=("vote 12 2",),
    details="Single-choice polls: a new vote replaces your old one. Multi-choice polls: voting "
    "for an option again removes that choice. Votes can change until the poll closes.",
)
async def vote(req: Request, args: str) -> Outcome:
    words = args.split()
    if len(words) != 2:
        raise UsageError("give the poll number and the option number")
    return await cast_vote(req, parse_id(words[0], "poll"), parse_id(words[1], "option"))


async def on_action(req: Request, event: ActionEvent) -> Outcome:
    """A poll button click (`poll.vote`, value `<poll id>:<option>`)."""
    if event.action_id != VOTE_ACTION:
        raise UsageError(f"unknown action {event.action_id[:40]!r}")
    poll_word, _, option_word = event.value.partition(":")
    return await cast_vote(req, parse_id(poll_word, "poll"), parse_id(option_word, "option"))


async def cast_vote(req: Request, poll_id: int, position: int) -> Outcome:
    p = await store.get(req.session, req.workspace_id, poll_id, lock=True)
    if p is None:
        raise UsageError(f"there is no poll #{poll_id}")
    if not _is_open(req, p):
        raise Refusal(
            f"Poll #{poll_id} is closed; votes are no longer accepted. "
            f"See `poll results {poll_id}`."
        )
    if p.committee and await req.committee_seat() is None:
        raise Refusal(f"Poll #{poll_id} is for steering committee members only.")
    options = await store.options(req.session, poll_id)
    chosen = next((o for o in options if o.position == position), None)
    if chosen is None:
        raise UsageError(f"poll #{poll_id} has options 1 to {len(options)}")
    voter = _voter(req, p, req.actor.user_id)
    current = await store.choices(req.session, poll_id, voter)
    if p.multi:
        updated = current ^ {position}
        verb = "Removed your vote for" if position in current else "Added your vote for"
    else:
        updated = {position}
        verb = "Your vote is" if not current else "Changed your vote to"
    name = None if p.anonymous else req.actor.name
    await store.replace_choices(
        req.session, poll_id, voter, positions=updated, voter_name=name, anonymous=p.anonymous
    )
    outcome = Outcome().reply(f"{verb} {chosen.label!r} in poll #{poll_id}.")
    return outcome.update(f"poll:{poll_id}")


async def _results(req: Request, poll_id: int) -> Outcome:
    p = await store.get(req.session, req.workspace_id, poll_id)
    if p is None:
        raise UsageError(f"there is no poll #{poll_id}")
    return Outcome().reply(await poll_message(req, p))


async def close_at_deadline(req: Request, poll_id: int) -> Outcome:
    """The scheduler's close: results posted in the poll's conversation, the card updated."""
    p = await store.get(req.session, req.workspace_id, poll_id, lock=True)
    if p is None or p.closed_at is not None or p.closes_at is None or p.closes_at > req.now:
        return Outcome()
    p.closed_at = p.closes_at
    req.session.add(p)
    return _results_posted(await poll_message(req, p), p)


def _results_posted(message: Message, p: Poll) -> Outcome:
    if p.committee:  # the committee can log the outcome in one click
        record = Button(
            "Record as decision",
            "decision.from_poll",
            str(p.id),
            command=f"decide poll {p.id}",
        )
        message = Message(message.text, (*message.blocks, Actions((record,))))
    outcome = Outcome().update(f"poll:{p.id}")
    return outcome.post(
        message, p.conversation_id, channel_name=p.conversation_name, subject=f"poll-results:{p.id}"
    )


async def remind_non_voters(req: Request, poll_id: int) -> Outcome:
    """One private reminder to each committee member who has not voted, while still open."""
    p = await store.get(req.session, req.workspace_id, poll_id)
    if p is None or not p.committee or not _is_open(req, p):
        return Outcome()
    outcome = Outcome()
    closes = describe(p.closes_at, req.tz) if p.closes_at else "soon"
    options = await store.options(req.session, poll_id)
    for user_id, name in await not_voted_committee(req, p):
        reminder = Message(
            text=f"Reminder: committee poll #{p.id} “{p.question}” closes {closes} and "
            "you have not voted yet.",
            blocks=(
                Header(f"🗳️ Your vote is missing: {p.question}"),
                Text(f"Committee poll #{p.id} closes {closes}."),
                vote_buttons(p, options),
            ),
        )
        outcome.dm(reminder, user_id, name, forget=p.anonymous)  # non-voters: not kept
    return outcome


async def _close(req: Request, poll_id: int) -> Outcome:
    p = await store.get(req.session, req.workspace_id, poll_id, lock=True)
    if p is None:
        raise UsageError(f"there is no poll #{poll_id}")
    if p.creator_id != req.actor.user_id and not req.is_admin:
        raise Refusal(f"Only the poll's creator ({p.creator_name}) or an admin can close it.")
    if p.closed_at is not None:
        return Outcome().reply(f"Poll #{poll_id} is already closed.")
    p.closed_at = req.now if p.closes_at is None or p.closes_at > req.now else p.closes_at
    req.session.add(p)
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="poll.close",
        subject=f"poll:{poll_id}",
    )
    outcome = _results_posted(await poll_message(req, p), p)
    return outcome.reply(f"Closed poll #{poll_id}; the results are posted.")


@command(
    "polls",
    summary="List the open polls, soonest deadline first.",
    usage="polls",
    examples=("polls",),
)
async def polls(req: Request, args: str) -> Outcome:
    listed = await store.open_polls(req.session, req.workspace_id, req.now)
    if not listed:
        return Outcome().reply('No open polls. Start one: poll "Question?" "Yes" "No"')
    lines = []
    for p in listed:
        line = f"#{p.id} {p.question}"
        if p.closes_at:
            line += f" (closes {describe(p.closes_at, req.tz)})"
        if p.committee:
            line += " [committee]"
        lines.append(line)
    hint = "Vote with the buttons or `vote <poll id> <option>`; `poll results <id>` shows a tally."
    return Outcome().reply(
        Message(
            text="Open polls\n" + "\n".join(lines),
            blocks=(Header("Open polls"), Text("\n".join(lines)), Context(hint)),
        )
    )
