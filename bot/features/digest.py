"""`digest`: the week's wins, savings, contributors, polls, newcomers, metrics and a learning tip.

Built for one workspace and one week (Monday-Sunday in the workspace time zone) from SQL
aggregates; nothing here loads every row.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision

from bot import catalogue, channels, message_json
from bot import recurrence_times as times
from bot.commands import Request, command
from bot.costs.chart import new_token, render_png, week_label
from bot.costs.kpis import money
from bot.features import cost
from bot.features.decisions import decision_line
from bot.features.learn import weekly_tip
from bot.features.metrics import trend_line
from bot.features.wins import value_text
from bot.message import Chart, Context, Divider, Fields, Header, Message, Outcome, Text
from bot.parsing import UsageError
from bot.parsing.money import format_totals
from bot.parsing.when import (
    describe,
    parse_clock,
    parse_timezone,
    parse_weekday,
    period_bounds,
    to_local,
)
from bot.wording import plural, sparkline
from storage import audit, cost_kpis, digests, onboarding, polls, schedules, wins
from storage import costs as cost_store
from storage import decisions as decision_store
from storage import metrics as metric_store
from storage.models import Schedule

log = logging.getLogger(__name__)
CLOSING_SOON = timedelta(hours=48)
CHART_WEEKS = 12


async def build_digest(req: Request, moment: datetime, *, chart: bool = False) -> Message:
    """The digest of the week holding `moment` (aware UTC). With `chart` (a digest that is
    posted), and when cost data exists, it carries the 12-week PNG, kept for /charts too."""
    tz = req.tz
    local_day = to_local(moment, tz).date()
    start, end = period_bounds("week", local_day, tz)
    year_start, _ = period_bounds("year", local_day, tz)
    session, ws = req.session, req.workspace_id

    week = await wins.totals(session, ws, start, end)
    year = await wins.totals(session, ws, year_start, end)
    top = await wins.list_wins(session, ws, start, end, limit=3, order_by_value=True)
    people = await wins.contributors(session, ws, start, end, limit=3, rank_currency=req.currency)
    open_polls = await polls.open_polls(session, ws, req.now, limit=10)
    newcomers = await onboarding.welcomed_between(session, ws, start, end)
    series = await metric_store.latest_series(session, ws)
    decided = await decision_store.between(session, ws, start, end)
    tip = weekly_tip(to_local(start, tz).date())

    week_label = f"week of {to_local(start, tz):%d %b %Y}"
    savings = format_totals(week.savings)
    fields = [
        ("Wins this week", str(week.count)),
        ("Annualised savings", savings),
        ("Year to date", f"{year.count} wins, {format_totals(year.savings)}"),
    ]
    if week.avoidance or year.avoidance:
        fields.append(("Cost avoided (apart)", format_totals(week.avoidance)))

    sections: list[tuple[str, list[str]]] = [
        (
            "Top wins",
            [
                f"#{v.win.id} {v.win.text}: {value_text(v.win)} · "
                + ", ".join(n for _, n in v.people)
                for v in top
            ],
        ),
        (
            "Top contributors",
            [
                f"{c.name}: {plural(c.wins, 'win')}"
                + (f", {format_totals(c.savings)}" if c.savings else "")
                for c in people
            ],
        ),
        ("Open polls", [_poll_line(p, req) for p in open_polls]),
        ("Metrics", [trend_line(s) for s in series]),
        ("Committee decisions", [decision_line(d, req) for d in decided]),
        ("New members welcomed", [", ".join(newcomers)] if newcomers else []),
    ]
    blocks: list = [Header(f"FinOps weekly digest · {week_label}"), Fields(tuple(fields))]
    lines = [f"FinOps weekly digest, {week_label}"] + [f"{k}: {v}" for k, v in fields]
    costs = await cost.digest_section(req, start, end)
    if costs is not None:
        cost_blocks, cost_lines = costs
        blocks += [Divider(), Text("Cloud cost this week"), *cost_blocks]
        lines += ["Cloud cost this week:", *cost_lines]
        trend = await cost_chart(req, start, store=chart)
        if trend is not None:
            blocks.append(trend)
            lines.append(trend.sparkline)
    for title, items in sections:
        if items:
            blocks += [Divider(), Text(f"{title}\n" + "\n".join(items))]
            lines += [f"{title}:", *items]
    tip_text = f"Learning tip: {tip.name}. {tip.summary} {tip.url}"
    blocks += [Divider(), Text(tip_text), Context(catalogue.ATTRIBUTION)]
    lines.append(tip_text)
    return Message(text="\n".join(lines), blocks=tuple(blocks))


async def schedule_digest(req: Request, words: list[str]) -> Outcome:
    current = await schedules.find(req.session, req.workspace_id, "digest")
    if not words:
        return Outcome().reply(_describe_schedule(current, req.now))
    await req.require_admin("schedule the weekly digest")
    if len(words) not in (2, 3):
        raise UsageError("give a weekday and a time, e.g. `digest schedule monday 09:00`")
    weekday = parse_weekday(words[0])
    at = parse_clock(words[1])
    timezone = parse_timezone(words[2]).key if len(words) == 3 else req.tz.key
    await schedules.save(
        req.session,
        req.workspace_id,
        "digest",
        weekday,
        at,
        timezone,
        True,
        req.actor.user_id,
        req.now,
    )
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        "digest.schedule",
        "digest",
        f"{weekday} {at} {timezone}",
    )
    saved = await schedules.find(req.session, req.workspace_id, "digest")
    where = channels.configured(req.config, "digest-channel")
    note = "" if where else " Set `config digest-channel #channel` so it has somewhere to go."
    return Outcome().reply(_describe_schedule(saved, req.now) + note)


async def stop_digest(req: Request) -> Outcome:
    await req.require_admin("stop the weekly digest")
    current = await schedules.find(req.session, req.workspace_id, "digest")
    if current is None or not current.enabled:
        return Outcome().reply("The weekly digest is not scheduled.")
    await schedules.save(
        req.session,
        req.workspace_id,
        "digest",
        current.weekday,
        current.at,
        current.timezone,
        False,
        req.actor.user_id,
        req.now,
    )
    await audit.record(req.session, req.workspace_id, req.actor.user_id, "digest.off", "digest")
    return Outcome().reply(
        "The weekly digest is off. `digest schedule <weekday> <HH:MM>` turns it back on."
    )


def _describe_schedule(schedule: Schedule | None, now: datetime) -> str:
    if schedule is None or not schedule.enabled:
        return "The weekly digest is not scheduled. Admins: `digest schedule monday 09:00`."
    trigger = times.weekly(schedule.weekday, schedule.at, schedule.timezone)
    upcoming = times.next_run(trigger, now)
    day = times.WEEKDAY_NAMES[schedule.weekday]
    shown = describe(upcoming, ZoneInfo(schedule.timezone)) if upcoming else "never"
    return (
        f"The weekly digest is posted every {day} at {schedule.at} {schedule.timezone}; "
        f"next: {shown}."
    )


async def cost_chart(req: Request, week_start: datetime, *, store: bool) -> Chart | None:
    """The last 12 weeks up to this one: effective cost (in the bill's main currency) and the
    annualised savings of the wins logged each week in that currency. `store` draws the PNG
    and keeps it (the posted digest); otherwise only the sparkline is given. None when the
    12 weeks hold neither cost nor savings."""
    monday = to_local(week_start, req.tz).date()
    first = monday - timedelta(weeks=CHART_WEEKS - 1)
    by_currency = await cost_kpis.weekly_effective_by_currency(
        req.session, req.workspace_id, first, CHART_WEEKS
    )
    if not by_currency:
        return None
    currency = max(sorted(by_currency), key=lambda code: sum(by_currency[code]))
    weeks = [first + timedelta(weeks=i) for i in range(CHART_WEEKS)]
    spend = [money(nanos) for nanos in by_currency[currency]]
    bounds = [week_start - timedelta(weeks=CHART_WEEKS - 1 - i) for i in range(CHART_WEEKS + 1)]
    savings = [Decimal(0)] * CHART_WEEKS
    scale = Decimal(10) ** -get_currency_precision(currency)
    for row in await wins.totals_by_interval(req.session, req.workspace_id, bounds):
        if row.currency == currency and not row.avoidance:
            savings[row.bucket] += Decimal(row.annualised) * scale
    if not any(spend) and not any(savings):
        return None
    alt = (
        f"Chart: weekly effective cloud cost and the wins' annualised savings in {currency}, "
        f"{week_label(weeks[0])} to {week_label(weeks[-1])}"
    )
    line = f"Cost, last {CHART_WEEKS} weeks {sparkline(spend)} · wins' savings {sparkline(savings)}"
    if not store:
        return Chart(png=b"", alt=alt, sparkline=line)
    png = await asyncio.to_thread(render_png, weeks, spend, savings, currency)
    token = new_token()
    await cost_store.save_chart(req.session, token, req.workspace_id, png)
    return Chart(png=png, alt=alt, sparkline=line, token=token)


def _poll_line(p, req: Request) -> str:  # type: ignore[no-untyped-def]
    line = f"#{p.id} {p.question}"
    if p.closes_at:
        soon = " (closing soon)" if p.closes_at - req.now <= CLOSING_SOON else ""
        line += f", closes {describe(p.closes_at, req.tz)}{soon}"
    return line


@command(
    "digest",
    summary="This week's digest, shown only to you; `digest post` posts it to the digest channel.",
    usage=(
        "digest",
        "digest post",
        "digest schedule [<weekday> <HH:MM> [IANA timezone]]",
        "digest off",
    ),
    examples=(
        "digest",
        "digest post",
        "digest schedule monday 09:00",
        "digest schedule fri 16:30 Europe/Paris",
        "digest off",
    ),
    details="The week runs Monday to Sunday in the workspace time zone. `digest post` is for "
    "committee members and admins; it goes to `digest-channel`, or here when none is set. "
    "`digest schedule` (admins) posts it to `digest-channel` every week at that local time (the "
    "workspace time zone unless one is given), exactly once even with several replicas; alone "
    "it shows the next run. `digest off` stops it.",
)
async def digest(req: Request, args: str) -> Outcome:
    action, _, rest = args.strip().partition(" ")
    action = action.lower()
    if action == "schedule":
        return await schedule_digest(req, rest.split())
    if action == "off":
        return await stop_digest(req)
    if action not in ("", "post") or rest:
        raise UsageError(
            f"{args.strip()[:40]!r} is not a digest action; use `digest`, `digest post`, "
            "`digest schedule` or `digest off`"
        )
    message = await build_digest(req, req.now, chart=action == "post")
    if not action:
        return Outcome().reply(message)
    await req.require_committee("post the digest")
    target = channels.configured(req.config, "digest-channel") or channels.Channel(
        req.place.conversation_id, req.place.conversation_name
    )
    await archive(req, message)
    outcome = Outcome().post(message, target.id, target.name, subject="digest")
    return outcome.reply(f"Posted this week's digest in {target.shown}.")


async def scheduled_post(req: Request, _argument: object = None) -> Outcome:
    """The weekly digest, posted by the scheduler to `digest-channel`."""
    target = channels.configured(req.config, "digest-channel")
    if target is None:
        log.warning("weekly digest due for %s but no digest-channel is set", req.actor.workspace_id)
        return Outcome()
    message = await build_digest(req, req.now, chart=True)
    await archive(req, message)
    return Outcome().post(message, target.id, target.name, subject="digest")


async def archive(req: Request, message: Message) -> None:
    """Keep the posted digest for the dashboard's archive, in the transaction that posts it
    (a post that rolls back leaves no archive row)."""
    week_start, _ = period_bounds("week", to_local(req.now, req.tz).date(), req.tz)
    await digests.archive(
        req.session,
        req.workspace_id,
        to_local(week_start, req.tz).date(),
        req.now,
        message_json.dumps(message),
    )
