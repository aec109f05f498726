"""`win scope` and `win verify`: what part of the bill a win touched, and whether its savings
are there (the method: bot/costs/verify.py)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

from bot.commands import Refusal, Request
from bot.costs import checks
from bot.costs.checks import pick_currency, win_day
from bot.costs.kpis import SCOPE_TAGS_KEY
from bot.costs.verify import (
    CHECKPOINTS,
    Measurement,
    Verdict,
    Window,
    after_window,
    baseline_window,
    measure,
)
from bot.message import Message, Outcome
from bot.parsing import UsageError
from bot.parsing.billing import day_text, span_label
from bot.parsing.errors import quoted
from bot.parsing.money import format_money, to_major
from bot.parsing.recurrence import Recurrence
from bot.parsing.scope import EXAMPLE, Term, parse_scope, scope_text, tag_key, tag_value
from bot.parsing.tokens import parse_id
from bot.win_text import claimed_monthly, money_text, verified_text
from storage import audit, cost_kpis, cost_scope
from storage import wins as store
from storage.models import Win, WinCheck
from storage.money import NANO

METHOD = (
    "Verified savings: the scope's mean daily effective cost over the 30 days before the win "
    "(the day it was logged, or the day given with `win scope <id> ... from YYYY-MM-DD`; the "
    "baseline) against the mean over 30 days ending 30, 60 and 90 days after it; realised "
    "monthly savings = (baseline - after) x 30.4, with a 95 % band from the baseline's "
    "day-to-day variation (a figure inside its band is not seen in the bill). A check waits "
    "until imported data covers its last day. Growth in usage inside the scope hides savings: "
    "for a tag or resource scope, `win verify` also shows the cost per consumed unit. A "
    "one-time win is checked against the credits and refunds billed in its scope; cost "
    "avoidance is not verifiable from cost data."
)
CREDIT_DAYS_BEFORE = 30  # a refund can be billed a little before the win is logged
CREDIT_DAYS_AFTER = 90  # ... or months after
UNIT_SHARE = Decimal("0.9")  # a per-unit view when one ConsumedUnit carries this much cost
SUGGESTED = 3  # scopes suggested for a win without one
# `win scope 12 service:X from 2026-11-02`: the day the change took effect.
_FROM = re.compile(r"(?:^|\s)from\s+(\S+)\s*$", re.I)


async def resolve(req: Request, terms: tuple[Term, ...]) -> tuple[Term, ...]:
    """Each term with the value as the imported data spells it; a value matching nothing is
    refused with the nearest ones the data holds. A resource not kept yet is accepted (lower
    case): its daily cost is kept from the next import (`untracked_note` says so)."""
    if await cost_kpis.day_span(req.session, req.workspace_id) is None:
        raise UsageError(
            "no cost data is imported yet, so a scope has nothing to match; "
            "import a FOCUS export first (`finops-bot focus import FILE`)"
        )
    resolved: list[Term] = []
    for term in terms:
        if term.dimension == "tag":
            resolved.append(await _resolve_tag(req, term))
        elif term.dimension == "resource":
            resolved.append(Term("resource", term.value.casefold()))
        else:
            known = await cost_scope.values(req.session, req.workspace_id, term.dimension)
            value = _match(known, term.value, f"{term.dimension} {quoted(term.value)}")
            resolved.append(Term(term.dimension, value))
    return tuple(resolved)


def _match(known: list[str], typed: str, named: str) -> str:
    """The data's spelling of `typed` (case aside), else refused with the nearest ones."""
    spelled = {value.casefold(): value for value in known}
    value = spelled.get(typed.casefold())
    if value is None:
        near = difflib.get_close_matches(typed.casefold(), list(spelled), n=3, cutoff=0.5)
        shown = [spelled[n] for n in near] or known[:3]
        hint = f"; the nearest in the data: {', '.join(shown)}" if shown else ""
        raise UsageError(f"no imported cost has {named}{hint}")
    return value


async def _resolve_tag(req: Request, term: Term) -> Term:
    key, value = tag_key(term.value), tag_value(term.value)
    kept = await cost_scope.tag_keys(req.session, req.workspace_id)
    stored = {k.casefold(): k for k in kept}.get(key.casefold())
    if stored is None:
        listed = [k.strip() for k in req.config.get(SCOPE_TAGS_KEY, "").split(",") if k.strip()]
        if key.casefold() in (k.casefold() for k in listed):
            raise UsageError(
                f"no imported cost has the tag key {quoted(key)} yet: its values are kept from "
                "the next `finops-bot focus import`, so import the exports again"
            )
        wanted = ", ".join([*listed, key])
        hint = f" (kept: {', '.join(kept)})" if kept else ""
        raise UsageError(
            f"the tag key {quoted(key)} is not kept per value{hint}: an admin adds it with "
            f"`config cost-scope-tags {wanted}`, then imports the exports again"
        )
    known = await cost_scope.tag_values(req.session, req.workspace_id, stored)
    spelled = _match(known, value, "tag " + quoted(f"{stored}={value}"))
    return Term("tag", f"{stored}={spelled}")


async def untracked_note(req: Request, terms: tuple[Term, ...]) -> str:
    """What to do about resources of the scope with no imported cost yet ("" for none)."""
    wanted = [t.value for t in terms if t.dimension == "resource"]
    if not wanted:
        return ""
    known = set(await cost_scope.values(req.session, req.workspace_id, "resource"))
    missing = [value for value in wanted if value not in known]
    if not missing:
        return ""
    return (
        f"No imported cost has resource {', '.join(missing)} yet: from the next "
        "`finops-bot focus import` its daily cost is kept. For a baseline, import again the "
        "exports covering the 30 days before the win."
    )


async def save(req: Request, win: Win, terms: tuple[Term, ...], *, since: date | None) -> None:
    """Set the win's scope and effective day; checks recorded for another scope or day are
    forgotten (the next ones measure the new scope)."""
    win_id = win.id or 0
    if terms != await scope_of(req, win_id) or since != win.effective_from:
        await cost_scope.clear_checks(req.session, win_id)
    await cost_scope.set_scope(req.session, win_id, [(t.dimension, t.value) for t in terms])
    win.effective_from = since
    req.session.add(win)


async def scope_of(req: Request, win_id: int) -> tuple[Term, ...]:
    return tuple(Term(d, v) for d, v in await cost_scope.scope_of(req.session, win_id))


def _since_text(win: Win) -> str:
    return f", from {day_text(win.effective_from)}" if win.effective_from else ""


async def scope_command(req: Request, args: str) -> Outcome:
    """`win scope 12 service:"Amazon EC2"` sets it, `win scope 12` shows it, `win scope 12
    none` removes it; `from 2026-11-02` (alone or after the terms) says when the change took
    effect."""
    word, _, rest = args.strip().partition(" ")
    win = await _win(req, word or None)
    rest = rest.strip()
    if not rest:
        terms = await scope_of(req, win.id or 0)
        if not terms:
            return Outcome().reply(
                f"Win #{win.id} has no scope. Give it one: `win scope {win.id} {EXAMPLE}`."
            )
        return Outcome().reply(f"Win #{win.id} is scoped to {scope_text(terms)}{_since_text(win)}.")
    if win.author_id != req.actor.user_id and not req.is_admin:
        raise Refusal(
            f"Only the author of win #{win.id} ({win.author_name}) or an admin can scope it."
        )
    rest, since = _effective_from(req, win, rest)
    if rest.lower() == "none":
        terms, since = (), None
    elif rest:
        terms = await resolve(req, parse_scope(rest))
    else:  # only the day changes
        terms = await scope_of(req, win.id or 0)
        if not terms:
            raise UsageError(
                f"win #{win.id} has no scope for that day to apply to; give both, e.g. "
                f"`win scope {win.id} {EXAMPLE} from {since or 'YYYY-MM-DD'}`"
            )
    await save(req, win, terms, since=since)
    shown = scope_text(terms) or "none"
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="win.scope",
        subject=f"win:{win.id}",
        detail=f"{shown}{_since_text(win)}",
    )
    outcome = Outcome().update(f"win:{win.id}")
    if not terms:
        return outcome.reply(f"Win #{win.id} has no scope now.")
    note = await untracked_note(req, terms)
    return outcome.reply(
        f"Win #{win.id} is scoped to {shown}{_since_text(win)}. `win verify {win.id}` checks it "
        "against the bill." + (f" {note}" if note else "")
    )


def _effective_from(req: Request, win: Win, rest: str) -> tuple[str, date | None]:
    """The scope without its trailing `from YYYY-MM-DD`, and that day (the win's current one
    when none is given)."""
    found = _FROM.search(rest)
    if found is None:
        return rest, win.effective_from
    try:
        day = date.fromisoformat(found[1])
    except ValueError:
        raise UsageError(
            f"{quoted(found[1])} is not a day; give the day the change took effect as "
            f"YYYY-MM-DD, e.g. `win scope {win.id} {EXAMPLE} from 2026-11-02`"
        ) from None
    if day > req.now.astimezone(req.tz).date():
        raise UsageError(f"{day_text(day)} is in the future; give the day the change took effect")
    return rest[: found.start()].strip(), day


async def verify_command(req: Request, args: str) -> Outcome:
    """`win verify 12`: the checks at days 30, 60 and 90, with their figures explained."""
    win = await _win(req, args.strip() or None)
    terms = await scope_of(req, win.id or 0)
    head = f"Win #{win.id}, {win.text}"
    if win.avoidance:
        return Outcome().reply(
            f"{head}: cost avoidance is not verifiable from cost data (the cost it avoided "
            "never reached the bill)."
        )
    span = await cost_kpis.day_span(req.session, req.workspace_id)
    if span is None:
        return Outcome().reply(f"{head}: no cost data is imported yet.")
    if Recurrence(win.recurrence) is Recurrence.ONE_TIME:
        return Outcome().reply(await _one_time(req, win, terms, head=head))
    if not terms:
        return Outcome().reply(await _suggest(req, win, span))
    day = win_day(win)
    first, last = baseline_window(day).first, after_window(day, CHECKPOINTS[-1]).last
    listed = [(t.dimension, t.value) for t in terms]
    series = await cost_scope.daily_effective(
        req.session, req.workspace_id, listed, first=first, last=last
    )
    currency = pick_currency(win, series)  # billionths, as the scheduled checks measure them
    daily = series.get(currency, {})
    measured = [measure(daily, span, day, checkpoint=c, scale=NANO) for c in CHECKPOINTS]
    lines = [f"{head} ({_claim_text(win)} claimed), scope {scope_text(terms)}{_since_text(win)}:"]
    baseline = next((m for m in measured if m.verdict not in (Verdict.WAITING,)), None)
    if baseline is not None and baseline.verdict is not Verdict.NO_BASELINE:
        window = baseline.baseline
        lines.append(
            f"Baseline: {money_text(baseline.baseline_mean, currency)} a day over "
            f"{baseline.baseline_days} days ({_days(window)})."
        )
    units = await cost_scope.daily_consumed(
        req.session, req.workspace_id, listed, first=first, last=last
    )
    for m in measured:
        lines.append(_check_line(m, win, currency, last_day=span[1]))
        per_unit = _per_unit_line(m, units, daily, currency=currency)
        if per_unit:
            lines.append(per_unit)
    note = await untracked_note(req, terms)
    if note:
        lines.append(note)
    lines.append(METHOD)
    return Outcome().reply("\n".join(lines))


async def _one_time(req: Request, win: Win, terms: tuple[Term, ...], *, head: str) -> str:
    """A one-time saving leaves no lasting drop: look for the credits and refunds billed in
    its scope from 30 days before the win to 90 days after."""
    unverifiable = f"{head}: a one-time saving is not verifiable from cost data"
    if not terms:
        return (
            f"{unverifiable} without a scope in which to look for the credit or refund; give "
            f"it one: `win scope {win.id} {EXAMPLE}`."
        )
    if cost_scope.uses_detail([(t.dimension, t.value) for t in terms]):
        return (
            f"{unverifiable} by tag or resource (credits and refunds carry neither); scope it "
            "by service, account, region, category or provider to look for its credit."
        )
    day = win_day(win)
    first = day - timedelta(days=CREDIT_DAYS_BEFORE)
    last = day + timedelta(days=CREDIT_DAYS_AFTER)
    found = await cost_scope.credits(
        req.session,
        req.workspace_id,
        [(t.dimension, t.value) for t in terms],
        first=first,
        last=last,
    )
    window = span_label(first, last + timedelta(days=1))
    currency = pick_currency(win, {c: {day: v} for c, v in found.items()})
    if not found:
        return (
            f"{unverifiable}: no credit or refund is billed in {scope_text(terms)} over "
            f"{window} (its savings may be real, but the bill does not show them)."
        )
    amount = Decimal(found[currency]) / NANO
    share = ""
    claimed = to_major(win.amount_minor, win.currency)
    if currency == win.currency and claimed > 0:
        claim = format_money(win.amount_minor, win.currency)
        share = f" ({amount / claimed * 100:.0f} % of the {claim} claimed)"
    return (
        f"{head}: credits and refunds of {money_text(amount, currency)} are billed in "
        f"{scope_text(terms)} over {window}{share}. A one-time win is checked against the "
        "credits and refunds in its scope; whether they are this win's is for you to judge."
    )


async def _suggest(req: Request, win: Win, span: tuple[date, date]) -> str:
    """For a win without a scope: the services whose daily cost fell most in the 30 days
    after it against the 30 before (at least 7 of each imported)."""
    head = f"Win #{win.id} has no scope, so there is nothing to check it against"
    day = win_day(win)
    before = baseline_window(day)
    after = Window(day + timedelta(days=1), min(day + timedelta(days=30), span[1]))
    give = f"give it one: `win scope {win.id} {EXAMPLE}`"
    covered = [d for d in before.dates() if span[0] <= d <= span[1]]
    if after.days < 7 or len(covered) < 7:
        return f"{head}; {give}."
    rows = await cost_scope.grouped_daily(
        req.session, req.workspace_id, ("service",), first=before.first, last=after.last
    )
    totals: dict[tuple[str, str], list[int]] = {}
    for when, currency, service, nanos in rows:
        if not service:
            continue
        sums = totals.setdefault((currency, service), [0, 0])
        sums[0 if when < day else 1] += nanos if when != day else 0
    falls = [  # (fall in daily cost, currency, service), largest first
        ((Decimal(b) / len(covered) - Decimal(a) / after.days) / NANO, currency, service)
        for (currency, service), (b, a) in totals.items()
    ]
    falls.sort(reverse=True)
    if any(currency == win.currency for _, currency, _ in falls):  # never mix currencies
        falls = [f for f in falls if f[1] == win.currency]
    falls = [f for f in falls if f[0] > 0][:SUGGESTED]
    if not falls:
        return f"{head}; {give}."
    shown = ", ".join(
        f"{service} (-{money_text(drop, currency)} a day)" for drop, currency, service in falls
    )
    best = falls[0][2]
    example = f'service:"{best}"' if " " in best else f"service:{best}"
    return (
        f"{head}. The services whose daily cost fell most in the {after.days} days after it "
        f"({_days(after)}), against the {len(covered)} before: {shown}. If one is what the "
        "win touched, "
        f"scope it: `win scope {win.id} {example}`."
    )


def _per_unit_line(
    m: Measurement,
    units: Mapping[str, tuple[Mapping[date, int], Mapping[date, int]]],
    daily: Mapping[date, int],
    *,
    currency: str,
) -> str:
    """`Per Hours: 0.192 USD before, 0.101 USD at day 30 (-47 %); 1,040 → 1,120 Hours a
    day`, when one ConsumedUnit carries most of the scope's cost on both sides ("" else)."""
    if m.verdict in (Verdict.WAITING, Verdict.NO_BASELINE) or not units:
        return ""
    before, after = m.baseline.dates(), m.after.dates()
    for unit, (cost, quantity) in units.items():
        sides = []
        for days in (before, after):
            unit_cost = sum(cost.get(d, 0) for d in days)
            total = sum(daily.get(d, 0) for d in days)
            used = sum(quantity.get(d, 0) for d in days)
            if total <= 0 or used <= 0 or Decimal(unit_cost) < UNIT_SHARE * total:
                break
            sides.append((Decimal(unit_cost) / used, Decimal(used) / NANO / len(days)))
        if len(sides) == 2:
            (was, used_before), (now, used_after) = sides
            change = (now - was) / was * 100
            return (
                f"  Per {unit}: {_small(was, currency)} before, {_small(now, currency)} at day "
                f"{m.checkpoint} ({change:+.0f} %); {used_before:,.0f} → {used_after:,.0f} "
                f"{unit} a day."
            )
    return ""


def _small(value: Decimal, currency: str) -> str:
    """A price per unit, to four significant figures (often well below a cent)."""
    return f"{float(value):.4g} {currency}"


def _check_line(m: Measurement, win: Win, currency: str, *, last_day: date) -> str:
    label = f"Day {m.checkpoint} ({_days(m.after)})"
    if m.verdict is Verdict.WAITING:
        return (
            f"{label}: waits for data up to {day_text(m.after.last)} "
            f"(imported data ends {day_text(last_day)})."
        )
    if m.verdict is Verdict.NO_BASELINE:
        return (
            f"{label}: no baseline: the imported data has cost in the scope on only "
            f"{m.baseline_days} of the 30 days before the win (14 needed)."
        )
    realised = f"{money_text(m.realised_monthly, currency)}/mo ± {money_text(m.band, currency)}"
    share = ""
    claimed = claimed_monthly(win)
    if currency == win.currency and claimed > 0:
        share = f", {m.realised_monthly / claimed * 100:.0f} % of the claim"
    seen = "seen in the bill" if m.verdict is Verdict.SEEN else "not seen in the bill"
    return (
        f"{label}: {money_text(m.after_mean, currency)} a day; realised {realised}{share}: {seen}."
    )


def _days(window: Window) -> str:
    return span_label(window.first, window.last + timedelta(days=1))


def _claim_text(win: Win) -> str:
    return f"{format_money(win.annualised_minor // 12, win.currency)}/mo"


async def _win(req: Request, word: str | None) -> Win:
    win_id = parse_id(word, "win")
    found = await store.get(req.session, req.workspace_id, win_id)
    if found is None or found.undone_at is not None:
        raise UsageError(f"there is no win #{win_id}")
    return found


# -- scheduled (bot/scheduler.py): every due check, once, on any replica -----------------------
async def post_due(req: Request, due: list[checks.Check]) -> Outcome:
    """Record the measured checks in one statement; for each win with a check this replica
    recorded first, update the posted celebration and, about its latest check, tell the people
    credited when the savings are seen in the bill. Reads nothing (the scheduler measured
    them before, bot/costs/checks.py), so this transaction stays short."""
    outcome = Outcome()
    stored = await cost_scope.record_checks(req.session, [c.row(req.now) for c in due])
    latest: dict[int, checks.Check] = {}  # a backlog (days 30, 60 and 90 at once): the last
    for check in due:
        win_id = check.win.id or 0
        if (win_id, check.measurement.checkpoint) not in stored:
            continue  # another replica recorded it, and told everyone
        if (
            win_id not in latest
            or check.measurement.checkpoint > latest[win_id].measurement.checkpoint
        ):
            latest[win_id] = check
    for win_id, check in latest.items():
        outcome.update(f"win:{win_id}")
        if check.measurement.verdict is not Verdict.SEEN:
            continue
        told = Message(
            text=f"Your FinOps win #{win_id} is in the bill: "
            f"{verified_text(WinCheck(**check.row(req.now)), check.win)}. "
            f"`win verify {win_id}` shows the figures."
        )
        for user_id, name in check.people:
            outcome.dm(told, user_id, name)
    return outcome


async def latest_check(req: Request, win_id: int) -> WinCheck | None:
    return (await cost_scope.latest_checks(req.session, [win_id])).get(win_id)
