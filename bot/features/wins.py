"""`win`, `win undo`, `wins`, `leaderboard`: log a saving in one line, celebrate it, rank people."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypedDict

from bot import catalogue, channels
from bot.commands import COMMANDS, Refusal, Request, Subcommand, command
from bot.features import win_checks
from bot.message import Context, Fields, Header, Message, Outcome, Text
from bot.parsing import UsageError
from bot.parsing.channel import Channel
from bot.parsing.errors import quoted
from bot.parsing.money import format_totals
from bot.parsing.scope import scope_text, split_scope
from bot.parsing.subcommands import check_typo
from bot.parsing.tokens import channels_as_tags, parse_id, split_words, user_mention
from bot.parsing.when import parse_period
from bot.parsing.win import BROADCASTS, WinDraft, parse_win
from bot.win_text import money_text, tag_names, value_text, verified_text
from bot.wording import plural
from storage import audit, cost_scope
from storage import wins as store
from storage.models import Win, WinCheck

AVOIDANCE_TAGS = {"avoidance", "cost-avoidance", "avoided"}
MAX_PEOPLE = 10  # credited besides the author: each one is a DM


def _check_people(draft: WinDraft) -> None:
    if len(draft.people) > MAX_PEOPLE:
        raise UsageError(
            f"the win credits {len(draft.people)} people; the limit is {MAX_PEOPLE} per win"
        )


@command(
    "win",
    summary="Log a cost-saving win in one line; it is celebrated and credited.",
    usage=(
        "win <what was done> [amount] [recurrence] [#category ...] [@person ...]",
        "win edit <id> <what was done> [amount] [recurrence] [#category ...] [@person ...]",
        "win undo <id>",
        "win scope <id> [<dimension>:<value> ...|none] [from YYYY-MM-DD]",
        "win verify <id>",
    ),
    examples=(
        "win Rightsized 40 dev VMs $3,200/mo #rightsizing @jane",
        "win Deleted idle disks 1.5k USD one-time",
        "win edit 12 Rightsized 40 dev VMs $3,400/mo #rightsizing",
        "win undo 12",
        'win Rightsized the data lake $3,200/mo #rightsizing on service:"Amazon EC2" tag:team=data',
        "win scope 12 region:eu-west-1 account:data-platform",
        "win scope 12 resource:i-0abc123def4567890 from 2026-11-02",
        "win verify 12",
    ),
    details=(
        "Amounts: $3,200, 3.2k, USD 3200, 3200 EUR, €1.5k, £900, 1.2m (workspace currency "
        "when none is given). Recurrence: /mo, per month, monthly, /yr, per year, annual, one-time "
        "(the default); monthly savings are annualised x12. Categories: a FinOps capability "
        "(#usage-optimization, #rightsizing, #commitments, #tagging ...) or any free tag; "
        "#avoidance marks cost avoidance, reported apart from savings. You are always credited; "
        "@mention teammates to credit them too. `win edit` and `win undo` are for the author or an "
        "admin; both update the celebration already posted.\n\n"
        "Scope: end a win with `on <dimension>:<value> ...` (or set it later with `win scope`, "
        "author or admin) to say what part of the bill it touched: service, account, region, "
        "category or provider, as the imported FOCUS data names them, tag:key=value (a key "
        "listed in `config cost-scope-tags`) or resource:<ResourceId> (quotes around values "
        "with spaces; dimensions differ: all apply; one dimension twice: either value). "
        "`win scope 12 ... from 2026-11-02` anchors the checks on the day the change took "
        "effect; `win verify` on a win without a scope suggests the services whose cost fell "
        "most after it.\n\n" + win_checks.METHOD
    ),
    subcommands=(  # the author or an admin: a rule on the win, checked by the handlers
        Subcommand("edit", "Correct a win.", handler=lambda req, rest: _edit(req, rest.strip())),
        Subcommand("undo", "Remove a win.", handler=lambda req, rest: _undo_command(req, rest)),
        Subcommand(
            "scope",
            "Say what part of the bill a win touched (the author or an admin).",
            handler=win_checks.scope_command,
        ),
        Subcommand(
            "verify",
            "Check a win's savings against the imported bill.",
            handler=win_checks.verify_command,
        ),
    ),
)
async def win(req: Request, args: str) -> Outcome:
    words = split_words(args, quotes=False)
    check_typo("win", [w.text for w in words], COMMANDS["win"].subcommand_names)
    text, scope = split_scope(args)
    draft = parse_win(text, req.currency)
    _check_people(draft)
    scope = await win_checks.resolve(req, scope) if scope else ()
    limit = req.settings.win_rate_limit
    hour_ago = req.now - timedelta(hours=1)
    await store.lock_author(req.session, req.workspace_id, req.actor.user_id)  # count + insert
    if (
        await store.recent_count(req.session, req.workspace_id, req.actor.user_id, since=hour_ago)
        >= limit
    ):
        at = await store.next_allowed(
            req.session, req.workspace_id, req.actor.user_id, since=hour_ago, limit=limit
        )
        shown = (at + timedelta(seconds=59)).astimezone(req.tz).strftime("%H:%M")  # not before
        raise Refusal(
            f"You have logged {plural(limit, 'win')} in the last hour, the limit; "
            f"the next one is accepted from {shown} ({req.tz})."
        )
    saved = await _store(req, draft)
    if scope:
        await win_checks.save(req, saved.win, scope, since=None)
    outcome = _announce(req, saved, draft)
    if scope:
        note = await win_checks.untracked_note(req, scope)
        outcome.reply(
            f"Scoped to {scope_text(scope)}: `win verify {saved.win.id}` checks it against the "
            "bill once imported data covers 30 days after today." + (f" {note}" if note else "")
        )
    return outcome


def _tags(draft: WinDraft) -> list[tuple[str, bool]]:
    tags: list[tuple[str, bool]] = []
    for tag in draft.tags:
        if tag in AVOIDANCE_TAGS:
            continue
        capability = catalogue.capability_for_tag(tag)
        entry = (capability.slug, True) if capability else (tag, False)
        if entry not in tags:
            tags.append(entry)
    return tags


def _people(author: tuple[str, str], draft: WinDraft) -> list[tuple[str, str]]:
    # `@me` is the author, already credited
    return [author] + [
        (p.user_id, p.name) for p in draft.people if p.user_id not in (author[0], "me")
    ]


async def _store(req: Request, draft: WinDraft) -> store.WinView:
    tags = _tags(draft)
    people = _people((req.actor.user_id, req.actor.name), draft)
    amount = draft.amount.minor if draft.amount else 0
    row = Win(
        workspace_id=req.workspace_id,
        author_id=req.actor.user_id,
        author_name=req.actor.name,
        text=draft.description,
        amount_minor=amount,
        currency=draft.amount.currency if draft.amount else req.currency,
        recurrence=draft.recurrence.value,
        annualised_minor=draft.recurrence.annualise(amount),
        avoidance=any(t in AVOIDANCE_TAGS for t in draft.tags),
        conversation_id=req.place.conversation_id,
        created_at=req.now,
    )
    saved = await store.add_win(req.session, row, tags=tags, people=people)
    return store.WinView(saved, tuple(t for t, _ in tags), tuple(people))


def celebration(view: store.WinView, check: WinCheck | None = None) -> Message:
    win = view.win
    if win.undone_at is not None:  # the post stays, visibly withdrawn
        return Message(
            text=f"Withdrawn: FinOps win #{win.id} was undone and no longer counts.",
            blocks=(
                Header(f"FinOps win #{win.id} withdrawn"),
                Text(f"~{win.text}~"),
                Context("It was undone and no longer counts in totals and digests."),
            ),
        )
    label = "Cost avoided" if win.avoidance else "Saving"
    fields: list[tuple[str, str]] = []
    if value := value_text(win):
        fields.append((label, value))
    if view.tags:
        fields.append(("Category", tag_names(view.tags)))
    fields.append(("Credited", ", ".join(name for _, name in view.people)))
    if verified := verified_text(check, win):
        fields.append(("Verified", verified))
    text = f"New FinOps win #{win.id}: {win.text}" + (f" ({value})" if value else "")
    return Message(
        text=text,
        blocks=(
            Header(f"🎉 New FinOps win #{win.id}"),
            Text(win.text),
            Fields(tuple(fields)),
            Context(f"Logged by {win.author_name}. Log yours with `win <what you did> <amount>`."),
        ),
    )


def _announce(req: Request, view: store.WinView, draft: WinDraft) -> Outcome:
    win = view.win
    outcome = Outcome()
    channel = channels.configured(req.config, "wins-channel")
    if channel is None:
        channel = Channel(req.place.conversation_id, req.place.conversation_name)
    message = celebration(view)
    outcome.post(message, channel.id, channel_name=channel.name, subject=f"win:{win.id}")
    for user_id, name in view.people[1:]:
        outcome.dm(
            Message(
                text=f"{req.actor.name} credited you with FinOps win #{win.id}: {win.text}",
                blocks=message.blocks,
            ),
            user_id,
            name,
        )
    note = f"Logged win #{win.id}"
    if value := value_text(win):
        note += f": {value}"
    if win.avoidance:
        note += ", counted as cost avoidance"
    note += f". Celebrated {channel.where_from(req.place)}. Made a mistake? `win undo {win.id}`"
    if draft.amount is None:
        note += "\nNo amount was given; add one next time, e.g. `$400/mo`."
    return outcome.reply(note)


async def _undo_command(req: Request, rest: str) -> Outcome:
    words = split_words(rest, quotes=False)
    return await _undo(req, words[0].text if words else None)


async def _undo(req: Request, word: str | None) -> Outcome:
    win_id = parse_id(word, "win")
    found = await store.get(req.session, req.workspace_id, win_id)
    if found is None:
        raise UsageError(f"there is no win #{win_id}")
    if found.undone_at is not None:
        return Outcome().reply(f"Win #{win_id} was already undone.")
    if found.author_id != req.actor.user_id and not req.is_admin:
        raise Refusal(
            f"Only the author of win #{win_id} ({found.author_name}) or an admin can undo it."
        )
    if not await store.undo(req.session, found, req.actor.user_id, now=req.now):
        return Outcome().reply(f"Win #{win_id} was already undone.")
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="win.undo",
        subject=f"win:{win_id}",
        detail=found.text,
    )
    return (
        Outcome()
        .update(f"win:{win_id}")
        .reply(f"Undid win #{win_id}. It no longer counts in totals and digests.")
    )


async def _edit(req: Request, args: str) -> Outcome:
    """`win edit 6 <the whole win again>`: the new text, amount, recurrence, tags and people
    replace the old ones; the author stays credited and the posted celebration follows.
    Without new text (`win edit 6 $8,000/mo`) the text stays, and so do the tags and the
    people credited unless new ones are given."""
    words = split_words(args, quotes=False)
    win_id = parse_id(words[0].text if words else None, "win")
    found = await store.get(req.session, req.workspace_id, win_id)
    if found is None:
        raise UsageError(f"there is no win #{win_id}")
    if found.undone_at is not None:
        raise Refusal(f"Win #{win_id} was undone; log it again with `win <what you did>`.")
    if found.author_id != req.actor.user_id and not req.is_admin:
        raise Refusal(
            f"Only the author of win #{win_id} ({found.author_name}) or an admin can edit it."
        )
    rest = args.strip()[len(words[0].text) :].strip()
    if not rest:
        raise UsageError(f"give the corrected win, e.g. `win edit {win_id} Deleted disks $400/mo`")
    rest, scope = split_scope(rest)
    draft = parse_win(rest, req.currency, unchanged_text=found.text)
    _check_people(draft)
    scope = await win_checks.resolve(req, scope) if scope else ()
    tags = _tags(draft)
    people = _people((found.author_id, found.author_name), draft)
    avoidance = any(t in AVOIDANCE_TAGS for t in draft.tags)
    if not draft.described:  # a correction of the figures: the rest of the win stays
        kept = await store.view(req.session, req.workspace_id, win_id)
        assert kept is not None
        if not draft.tags:
            tags, avoidance = await store.tags_of(req.session, win_id), found.avoidance
        if not draft.people:
            people = list(kept.people)
    amount = draft.amount.minor if draft.amount else 0
    changes = {
        "text": draft.description,
        "amount_minor": amount,
        "currency": draft.amount.currency if draft.amount else found.currency,
        "recurrence": draft.recurrence.value,
        "annualised_minor": draft.recurrence.annualise(amount),
        "avoidance": avoidance,
    }
    before = f"{found.text} ({value_text(found) or 'no amount'})"
    if not await store.replace(req.session, found, changes, tags=tags, people=people):
        raise Refusal(f"Win #{win_id} was undone meanwhile; nothing was changed.")
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="win.edit",
        subject=f"win:{win_id}",
        detail=before,
    )
    if scope:  # a new scope replaces the old; an edit without one keeps it
        await win_checks.save(req, found, scope, since=found.effective_from)
    note = f"Edited win #{win_id}: {found.text}"
    if value := value_text(found):
        note += f" ({value})"
    if scope:
        note += f", scoped to {scope_text(scope)}"
    return Outcome().update(f"win:{win_id}").reply(note + ". The celebration is updated.")


async def current_message(req: Request, win_id: int) -> Message | None:
    """The celebration as it should look now (edited, or withdrawn), for in-place updates."""
    found = await store.view(req.session, req.workspace_id, win_id)
    return celebration(found, await win_checks.latest_check(req, win_id)) if found else None


def _filters(req: Request, args: str) -> tuple[list[str], str | None, tuple[str, str] | None]:
    period_words: list[str] = []
    tag, person = None, None
    for word in split_words(channels_as_tags(args), quotes=False):
        ref = user_mention(word.text)
        if word.text.lower() in ("mine", "@me") or (ref and ref.user_id.lower() == "me"):
            person = (req.actor.user_id, req.actor.name)
        elif ref and ref.user_id.lower() in BROADCASTS:
            raise UsageError(f"{quoted(word.text)} is not a person; name one, e.g. `wins @jane`")
        elif word.text.startswith("#") and len(word.text) > 1:
            raw = word.text[1:].lower()
            capability = catalogue.capability_for_tag(raw)
            tag = capability.slug if capability else raw
        elif ref is not None:
            person = (ref.user_id, ref.name)
        else:
            period_words.append(word.text)
    return period_words, tag, person


WINS_SHOWN = 20
LEADERS_SHOWN = 10  # `leaderboard verified`


class _Filters(TypedDict):
    """The filters `wins` hands to both list_wins and count_wins."""

    tag: str | None
    user_id: str | None
    avoidance: bool | None


@command(
    "wins",
    summary="List recent wins, filtered by period, category or person.",
    usage=(
        "wins [this week|this month|this quarter|this year|all] [#category|#avoidance] "
        "[@person|mine]"
    ),
    examples=("wins this month #rightsizing", "wins all @jane", "wins all #avoidance", "wins mine"),
    details="The period defaults to this week (Monday to Sunday in the workspace time zone).",
)
async def wins(req: Request, args: str) -> Outcome:
    period_words, tag, person = _filters(req, args)
    period = parse_period(period_words, req.now, req.tz, default="this week")
    avoidance = tag in AVOIDANCE_TAGS
    filters: _Filters = {
        "tag": None if avoidance else tag,
        "user_id": person[0] if person else None,
        "avoidance": True if avoidance else None,
    }
    listed = await store.list_wins(
        req.session,
        req.workspace_id,
        start=period.start,
        end=period.end,
        limit=WINS_SHOWN,
        **filters,
    )
    title = (
        f"Wins {period.name}"
        + (f" in #{tag}" if tag else "")
        + (f" credited to {person[1]}" if person else "")
    )
    if not listed:
        return Outcome().reply(f"{title}: none yet. Log one with `win <what you did> <amount>`.")
    totals = await store.totals(req.session, req.workspace_id, start=period.start, end=period.end)
    blocks: list = [Header(title)]
    lines = []
    checked = await cost_scope.latest_checks(req.session, [v.win.id or 0 for v in listed])
    for view in listed:
        line = f"#{view.win.id} {view.win.text}"
        if value := value_text(view.win):
            line += f": {value}" + (" (avoidance)" if view.win.avoidance else "")
        if verified := verified_text(checked.get(view.win.id or 0), view.win):
            line += f" · verified: {verified}"  # claimed beside verified
        line += " · " + ", ".join(name for _, name in view.people)
        lines.append(line)
        blocks.append(Text(line))
    if len(listed) == WINS_SHOWN:
        total = await store.count_wins(
            req.session, req.workspace_id, start=period.start, end=period.end, **filters
        )
        if total > WINS_SHOWN:
            shown = f"The latest {WINS_SHOWN} of {total:,} wins; narrow the period or filter."
            blocks.append(Context(shown))
            lines.append(shown)
    if not tag and not person:
        summary = (
            f"{plural(totals.count, 'win')} · annualised savings {format_totals(totals.savings)}"
        )
        if totals.avoidance:
            summary += f" · cost avoided {format_totals(totals.avoidance)}"
        blocks.append(Context(summary))
        lines.append(summary)
    return Outcome().reply(Message(text=title + "\n" + "\n".join(lines), blocks=tuple(blocks)))


@command(
    "leaderboard",
    summary="Who has been credited with the most wins, and their annualised savings.",
    usage=(
        "leaderboard [this month|this quarter|this year|all] [#category|#avoidance]",
        "leaderboard verified [this month|this quarter|this year|all]",
    ),
    examples=(
        "leaderboard",
        "leaderboard this quarter",
        "leaderboard all #avoidance",
        "leaderboard verified this year",
    ),
    details="Ranked by wins credited (activity first), then by savings in the workspace "
    "currency. `#category` counts that category's wins only; `#avoidance` counts cost-avoidance "
    "wins and shows the cost they avoided. `leaderboard verified` ranks by the savings the bill "
    "confirmed instead (each win's latest check, `win verify`), in the workspace currency "
    "first; claimed and verified savings are never added together.",
)
async def leaderboard(req: Request, args: str) -> Outcome:
    words = args.split()
    verified = bool(words) and words[0].lower() == "verified"
    period_words, tag, person = _filters(req, " ".join(words[1:]) if verified else args)
    if person is not None:
        raise UsageError("the leaderboard ranks everyone; `wins @person` lists one person's")
    period = parse_period(period_words, req.now, req.tz, default="this month")
    if verified:
        if tag:
            raise UsageError("`leaderboard verified` ranks every win checked against the bill")
        return await _verified_leaderboard(req, period.name, start=period.start, end=period.end)
    avoidance = tag in AVOIDANCE_TAGS
    ranked = await store.contributors(
        req.session,
        req.workspace_id,
        start=period.start,
        end=period.end,
        rank_currency=req.currency,
        tag=None if avoidance else tag,
        avoidance=True if avoidance else None,
    )
    title = f"Leaderboard {period.name}" + (f" in #{tag}" if tag else "")
    worth = "avoided a year" if avoidance else "annualised"
    if not ranked:
        return Outcome().reply(
            f"{title}: no wins yet. Be the first: `win <what you did> <amount>`."
        )
    medals = ["🥇", "🥈", "🥉"]
    lines = [
        f"{medals[i] if i < 3 else f'{i + 1}.'} {c.name}: {plural(c.wins, 'win')}"
        + (f", {format_totals(c.savings)} {worth}" if c.savings else "")
        for i, c in enumerate(ranked)
    ]
    return Outcome().reply(
        Message(
            text=title + "\n" + "\n".join(lines),
            blocks=(Header(title), Text("\n".join(lines))),
        )
    )


async def _verified_leaderboard(
    req: Request, period_name: str, *, start: datetime | None, end: datetime | None
) -> Outcome:
    """People ranked by the savings the bill confirmed (each win's latest check, when it saw
    them), per currency, never added to what was claimed."""
    rows = await cost_scope.verified_by_person(req.session, req.workspace_id, start=start, end=end)
    title = f"Leaderboard {period_name}, verified savings"
    if not rows:
        return Outcome().reply(
            f"{title}: no win's savings have been seen in the bill yet. Scope a win "
            "(`win scope <id> service:...`) and it is checked once imported data covers day 30."
        )
    people: dict[str, tuple[str, dict[str, Decimal], int]] = {}
    for user_id, name, currency, realised in rows:
        shown, sums, count = people.get(user_id, (name, {}, 0))
        sums[currency] = sums.get(currency, Decimal(0)) + Decimal(realised)
        people[user_id] = (max(shown, name), sums, count + 1)
    ranked = sorted(
        people.values(), key=lambda p: (-p[1].get(req.currency, Decimal(0)), -p[2], p[0].lower())
    )
    medals = ["🥇", "🥈", "🥉"]
    lines = [
        f"{medals[i] if i < 3 else f'{i + 1}.'} {name}: "
        + " + ".join(f"{money_text(v, c)}/mo" for c, v in sorted(sums.items()))
        + f" realised, {plural(count, 'verified win')}"
        for i, (name, sums, count) in enumerate(ranked[:LEADERS_SHOWN])
    ]
    note = "Realised monthly savings from each win's latest check (`win verify <id>`)."
    return Outcome().reply(
        Message(
            text=title + "\n" + "\n".join(lines) + "\n" + note,
            blocks=(Header(title), Text("\n".join(lines)), Context(note)),
        )
    )
