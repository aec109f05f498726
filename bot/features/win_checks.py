"""`win scope` and `win verify`: what part of the bill a win touched, and whether its savings
are there (the method: bot/costs/verify.py)."""

from __future__ import annotations

import difflib
from datetime import UTC, date, timedelta

from bot.commands import Refusal, Request
from bot.costs import checks
from bot.costs.checks import pick_currency
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
from bot.parsing.money import format_money
from bot.parsing.recurrence import Recurrence
from bot.parsing.scope import EXAMPLE, Term, parse_scope, scope_text
from bot.parsing.tokens import parse_id
from bot.win_text import claimed_monthly, money_text, verified_text
from storage import audit, cost_kpis, cost_scope
from storage import wins as store
from storage.models import Win, WinCheck
from storage.money import NANO

METHOD = (
    "Verified savings: the scope's mean daily effective cost over the 30 days before the win "
    "(the baseline) against the mean over 30 days ending 30, 60 and 90 days after it; realised "
    "monthly savings = (baseline - after) x 30.4, with a 95 % band from the baseline's "
    "day-to-day variation (a figure inside its band is not seen in the bill). A check waits "
    "until imported data covers its last day. Growth in usage inside the scope hides savings."
)


async def resolve(req: Request, terms: tuple[Term, ...]) -> tuple[Term, ...]:
    """Each term with the value as the imported data spells it; a value matching nothing is
    refused with the nearest ones the data holds."""
    if await cost_kpis.day_span(req.session, req.workspace_id) is None:
        raise UsageError(
            "no cost data is imported yet, so a scope has nothing to match; "
            "import a FOCUS export first (`finops-bot focus import FILE`)"
        )
    resolved: list[Term] = []
    for term in terms:
        known = await cost_scope.values(req.session, req.workspace_id, term.dimension)
        spelled = {value.casefold(): value for value in known}
        value = spelled.get(term.value.casefold())
        if value is None:
            near = difflib.get_close_matches(term.value.casefold(), list(spelled), n=3, cutoff=0.5)
            shown = [spelled[n] for n in near] or known[:3]
            hint = f"; the nearest in the data: {', '.join(shown)}" if shown else ""
            raise UsageError(f"no imported cost has {term.dimension} {quoted(term.value)}{hint}")
        resolved.append(Term(term.dimension, value))
    return tuple(resolved)


async def save(req: Request, win_id: int, terms: tuple[Term, ...]) -> None:
    await cost_scope.set_scope(req.session, win_id, [(t.dimension, t.value) for t in terms])


async def scope_of(req: Request, win_id: int) -> tuple[Term, ...]:
    return tuple(Term(d, v) for d, v in await cost_scope.scope_of(req.session, win_id))


async def scope_command(req: Request, args: str) -> Outcome:
    """`win scope 12 service:"Amazon EC2"` sets it, `win scope 12` shows it, `win scope 12
    none` removes it."""
    word, _, rest = args.strip().partition(" ")
    win = await _win(req, word or None)
    rest = rest.strip()
    if not rest:
        terms = await scope_of(req, win.id or 0)
        if not terms:
            return Outcome().reply(
                f"Win #{win.id} has no scope. Give it one: `win scope {win.id} {EXAMPLE}`."
            )
        return Outcome().reply(f"Win #{win.id} is scoped to {scope_text(terms)}.")
    if win.author_id != req.actor.user_id and not req.is_admin:
        raise Refusal(
            f"Only the author of win #{win.id} ({win.author_name}) or an admin can scope it."
        )
    terms = () if rest.lower() == "none" else await resolve(req, parse_scope(rest))
    await save(req, win.id or 0, terms)
    shown = scope_text(terms) or "none"
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="win.scope",
        subject=f"win:{win.id}",
        detail=shown,
    )
    if not terms:
        return Outcome().reply(f"Win #{win.id} has no scope now.")
    return Outcome().reply(
        f"Win #{win.id} is scoped to {shown}. `win verify {win.id}` checks it against the bill."
    )


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
    if Recurrence(win.recurrence) is Recurrence.ONE_TIME:
        return Outcome().reply(
            f"{head}: a one-time saving is not verifiable from cost data yet (it leaves no "
            "lasting drop in daily cost)."
        )
    if not terms:
        raise UsageError(
            f"win #{win.id} has no scope, so there is nothing to check it against; "
            f"give it one: `win scope {win.id} {EXAMPLE}`"
        )
    span = await cost_kpis.day_span(req.session, req.workspace_id)
    if span is None:
        return Outcome().reply(f"{head}: no cost data is imported yet.")
    win_day = win.created_at.astimezone(UTC).date()
    first, last = baseline_window(win_day).first, after_window(win_day, CHECKPOINTS[-1]).last
    series = await cost_scope.daily_effective(
        req.session,
        req.workspace_id,
        [(t.dimension, t.value) for t in terms],
        first=first,
        last=last,
    )
    currency = pick_currency(win, series)  # billionths, as the scheduled checks measure them
    daily = series.get(currency, {})
    measured = [measure(daily, span, win_day, checkpoint=c, scale=NANO) for c in CHECKPOINTS]
    lines = [f"{head} ({_claim_text(win)} claimed), scope {scope_text(terms)}:"]
    baseline = next((m for m in measured if m.verdict not in (Verdict.WAITING,)), None)
    if baseline is not None and baseline.verdict is not Verdict.NO_BASELINE:
        window = baseline.baseline
        lines.append(
            f"Baseline: {money_text(baseline.baseline_mean, currency)} a day over "
            f"{baseline.baseline_days} days ({_days(window)})."
        )
    lines += [_check_line(m, win, currency, last_day=span[1]) for m in measured]
    lines.append(METHOD)
    return Outcome().reply("\n".join(lines))


def _check_line(m: Measurement, win: Win, currency: str, *, last_day: date) -> str:
    label = f"Day {m.checkpoint} ({_days(m.after)})"
    if m.verdict is Verdict.WAITING:
        return (
            f"{label}: waits for data up to {day_text(m.after.last)} "
            f"(imported data ends {day_text(last_day)})."
        )
    if m.verdict is Verdict.NO_BASELINE:
        return (
            f"{label}: no baseline: only {m.baseline_days} days of data in the 30 before "
            "the win (14 needed)."
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
        if check.measurement.verdict is Verdict.NO_BASELINE:
            continue  # nothing to show: `win verify` explains why
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
