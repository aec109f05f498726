"""`digest`: a period's wins, savings, contributors, polls, newcomers, metrics and a learning tip.

Built for one workspace and one period (bot/features/digest_periods.py: a scheduled digest
covers the time since the previous one) from SQL aggregates; nothing here loads every row.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision

from bot import catalogue, channels, message_json
from bot import recurrence_times as times
from bot.commands import Request, Role, Subcommand, command
from bot.costs.chart import new_token, render_png, week_label
from bot.costs.kpis import money
from bot.features import cost, digest_periods
from bot.features.decisions import decision_line
from bot.features.digest_periods import EPSILON, DigestPeriod
from bot.features.learn import weekly_tip
from bot.message import (
    Block,
    Chart,
    Context,
    Divider,
    Fields,
    Header,
    Message,
    Outcome,
    Text,
)
from bot.metric_text import trend_line
from bot.parsing import UsageError
from bot.parsing.money import format_totals
from bot.parsing.when import (
    describe,
    local_midnight,
    parse_clock,
    parse_timezone,
    parse_weekday,
    to_local,
)
from bot.period_facts import Listed, PeriodFacts
from bot.win_text import value_text, verified_text
from bot.wording import cut_note, plural, sparkline
from storage import audit, cost_kpis, digests, schedules, wins
from storage import costs as cost_store
from storage.metrics import MetricSeries
from storage.models import Decision, Poll, Schedule, Win, WinCheck

log = logging.getLogger(__name__)
CLOSING_SOON = timedelta(hours=48)
CHART_WEEKS = 12
POLLS_SHOWN, DECISIONS_SHOWN, CHECKS_SHOWN = 10, 10, 10


@dataclass(frozen=True, slots=True)
class DigestFacts:
    """Everything a digest shows, read in one transaction (bot/period_facts.py); drawing
    and rendering it need no database."""

    period: DigestPeriod
    counted: wins.Totals
    year: wins.Totals
    top: list[wins.WinView]
    people: list[wins.Contributor]
    open_polls: Listed[Poll]
    metrics: list[MetricSeries]
    decided: list[Decision]
    newcomers: Listed[str]
    checked: list[tuple[Win, WinCheck]]  # wins checked against the bill in the period
    costs: cost.CostSection | None
    trend: ChartSeries | None


@dataclass(frozen=True, slots=True)
class ChartSeries:
    """The cost chart's figures: effective cost and the wins' savings per week."""

    weeks: list[date]
    spend: list[Decimal]
    savings: list[Decimal]
    currency: str

    def picture(self, png: bytes = b"", token: str = "") -> Chart:
        alt = (
            "Chart: weekly effective cloud cost and the wins' annualised savings in "
            f"{self.currency}, {week_label(self.weeks[0])} to {week_label(self.weeks[-1])}"
        )
        line = (
            f"Cost, last {CHART_WEEKS} weeks {sparkline(self.spend)} · "
            f"wins' savings {sparkline(self.savings)}"
        )
        return Chart(png=png, alt=alt, sparkline=line, token=token)

    async def drawn(self) -> Chart:
        """The chart with its PNG (110-830 ms of CPU, in a thread): never inside a write
        transaction, where every other writer would wait for it."""
        png = await asyncio.to_thread(
            render_png, self.weeks, self.spend, self.savings, currency=self.currency
        )
        return self.picture(png, new_token())


async def read_digest(req: Request, period: DigestPeriod) -> DigestFacts:
    """The figures of the digest of `period` (bot/features/digest_periods.py)."""
    facts = PeriodFacts(req.session, req.workspace_id, period.start, period.until, req.now)
    # Cost data is daily and arrives days late, so the cost part covers the latest seven
    # complete days of data up to the digest's last day, whatever the digest's own bounds.
    costs = await cost.digest_section(req, to_local(period.until - EPSILON, period.tz).date())
    trend = (
        await cost_chart_series(req, costs.window_start, costs.currency)
        if costs is not None and costs.window_start is not None
        else None
    )
    return DigestFacts(
        period=period,
        counted=await facts.wins(),
        year=await facts.wins(since=period.year_start),
        top=await facts.top_wins(3),
        people=await facts.contributors(None, rank_currency=req.currency),
        open_polls=await facts.open_polls(POLLS_SHOWN),
        metrics=await facts.metric_trends(new_only=True),
        decided=await facts.decisions(),
        newcomers=await facts.newcomers(),
        checked=await facts.checks(),
        costs=costs,
        trend=trend,
    )


async def build_digest(req: Request, period: DigestPeriod) -> Message:
    """The digest of `period` as a preview: the chart as its text line, no picture."""
    facts = await read_digest(req, period)
    return render_digest(facts, req, facts.trend.picture() if facts.trend else None)


def render_digest(facts: DigestFacts, req: Request, chart: Chart | None) -> Message:
    """The digest's message; `chart` is the cost chart (drawn, or its text line only)."""
    period, counted, year = facts.period, facts.counted, facts.year
    tip = weekly_tip(to_local(period.until - EPSILON, period.tz).date())
    title = f"{period.label()}{' (so far)' if period.running else ''}"
    fields = [
        ("Wins", f"{counted.count:,}"),
        ("Annualised savings", format_totals(counted.savings)),
        ("Year to date", f"{plural(year.count, 'win')}, {format_totals(year.savings)}"),
    ]
    if counted.avoidance or year.avoidance:
        fields.append(("Cost avoided (apart)", format_totals(counted.avoidance)))

    people, decided, newcomers = facts.people, facts.decided, facts.newcomers
    sections: list[tuple[str, list[str]]] = [
        (
            "Top wins",
            _cut(
                [
                    f"#{v.win.id} {v.win.text}: {value_text(v.win)} · "
                    + ", ".join(n for _, n in v.people)
                    for v in facts.top
                ],
                counted.count,
                "win",
            ),
        ),
        (
            "Top contributors",
            _cut(
                [
                    f"{c.name}: {plural(c.wins, 'win')}"
                    + (f", {format_totals(c.savings)}" if c.savings else "")
                    for c in people[:3]
                ],
                len(people),
                "contributor",
            ),
        ),
        (
            "Open polls",
            _cut(
                [_poll_line(p, req) for p in facts.open_polls.items],
                facts.open_polls.total,
                "open poll",
            ),
        ),
        (
            "Savings checked against the bill",
            _cut(
                [
                    f"#{win.id} {win.text}: {shown}"
                    for win, check in facts.checked[:CHECKS_SHOWN]
                    if (shown := verified_text(check, win))
                ],
                len(facts.checked),
                "check",
            ),
        ),
        ("Metrics", [trend_line(s) for s in facts.metrics]),
        (
            "Committee decisions",
            _cut(
                [decision_line(d, req) for d in decided[:DECISIONS_SHOWN]], len(decided), "decision"
            ),
        ),
        (
            "New members welcomed",
            [_names(newcomers.items, newcomers.total)] if newcomers.items else [],
        ),
    ]
    blocks: list[Block] = [
        Header(f"FinOps weekly digest · {title}"),
        Context(period.covers()),
        Fields(tuple(fields)),
    ]
    lines = [f"FinOps weekly digest, {title}", period.covers()]
    lines += [f"{k}: {v}" for k, v in fields]
    costs = facts.costs
    if costs is not None:
        blocks += [Divider(), Text(costs.heading), *costs.blocks]
        lines += [f"{costs.heading}:", *costs.lines]
        if chart is not None:
            blocks.append(chart)
            lines.append(chart.sparkline)
    for heading, items in sections:
        if items:
            blocks += [Divider(), Text(f"{heading}\n" + "\n".join(items))]
            lines += [f"{heading}:", *items]
    tip_text = f"Learning tip: {tip.name}. {tip.summary} {tip.url}"
    blocks += [Divider(), Text(tip_text), Context(catalogue.ATTRIBUTION)]
    lines.append(tip_text)
    return Message(text="\n".join(lines), blocks=tuple(blocks))


def _names(names: list[str], total: int) -> str:
    hidden = total - len(names)
    return ", ".join(names) + (f" and {hidden:,} more" if hidden > 0 else "")


def _cut(items: list[str], total: int, noun: str) -> list[str]:
    """The items, and a last line saying how many were left out (a cut list says so)."""
    note = cut_note(len(items), total, noun)
    return [*items, note] if items and note else items


async def schedule_digest(req: Request, words: list[str]) -> Outcome:
    current = await schedules.find(req.session, req.workspace_id, "digest")
    if not words:
        return Outcome().reply(_describe_schedule(current, req.now))
    if len(words) not in (2, 3):
        raise UsageError("give a weekday and a time, e.g. `digest schedule monday 09:00`")
    weekday = parse_weekday(words[0])
    at = parse_clock(words[1])
    timezone = parse_timezone(words[2]).key if len(words) == 3 else req.tz.key
    await schedules.save(
        req.session,
        req.workspace_id,
        "digest",
        weekday=weekday,
        at=at,
        timezone=timezone,
        enabled=True,
        by=req.actor.user_id,
        now=req.now,
    )
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="digest.schedule",
        subject="digest",
        detail=f"{weekday} {at} {timezone}",
    )
    saved = await schedules.find(req.session, req.workspace_id, "digest")
    where = channels.configured(req.config, "digest-channel")
    note = "" if where else " Set `config digest-channel #channel` so it has somewhere to go."
    return Outcome().reply(_describe_schedule(saved, req.now) + note)


async def stop_digest(req: Request) -> Outcome:
    current = await schedules.find(req.session, req.workspace_id, "digest")
    if current is None or not current.enabled:
        return Outcome().reply("The weekly digest is not scheduled.")
    await schedules.save(
        req.session,
        req.workspace_id,
        "digest",
        weekday=current.weekday,
        at=current.at,
        timezone=current.timezone,
        enabled=False,
        by=req.actor.user_id,
        now=req.now,
    )
    await audit.record(
        req.session, req.workspace_id, req.actor.user_id, action="digest.off", subject="digest"
    )
    return Outcome().reply(
        "The weekly digest is off. `digest schedule <weekday> <HH:MM>` turns it back on."
    )


def _describe_schedule(schedule: Schedule | None, now: datetime) -> str:
    if schedule is None or not schedule.enabled:
        return "The weekly digest is not scheduled. Admins: `digest schedule monday 09:00`."
    trigger = digest_periods.rhythm(schedule)
    upcoming = times.next_run(trigger, now)
    day = times.WEEKDAY_NAMES[schedule.weekday]
    shown = describe(upcoming, ZoneInfo(schedule.timezone)) if upcoming else "never"
    return (
        f"The weekly digest is posted every {day} at {schedule.at} {schedule.timezone}; "
        f"next: {shown}."
    )


async def cost_chart_series(req: Request, window_start: date, currency: str) -> ChartSeries | None:
    """Twelve seven-day buckets ending with the digest's cost window (which starts on
    `window_start`, a UTC billing day): effective cost in `currency` (the cost part's) and the
    annualised savings of the wins logged in the same days (workspace time) in that
    currency. None when the 12 buckets hold neither cost nor savings."""
    first = window_start - timedelta(weeks=CHART_WEEKS - 1)
    by_currency = await cost_kpis.weekly_effective_by_currency(
        req.session, req.workspace_id, first, weeks=CHART_WEEKS
    )
    if currency not in by_currency:
        return None
    weeks = [first + timedelta(weeks=i) for i in range(CHART_WEEKS)]
    spend = [money(nanos) for nanos in by_currency[currency]]
    bounds = [local_midnight(first + timedelta(weeks=i), req.tz) for i in range(CHART_WEEKS + 1)]
    savings = [Decimal(0)] * CHART_WEEKS
    scale = Decimal(10) ** -get_currency_precision(currency)
    for row in await wins.totals_by_interval(req.session, req.workspace_id, bounds):
        if row.currency == currency and not row.avoidance:
            savings[row.bucket] += Decimal(row.annualised) * scale
    if not any(spend) and not any(savings):
        return None
    return ChartSeries(weeks, spend, savings, currency)


def _poll_line(p: Poll, req: Request) -> str:
    line = f"#{p.id} {p.question}"
    if p.closes_at:
        soon = " (closing soon)" if p.closes_at - req.now <= CLOSING_SOON else ""
        line += f", closes {describe(p.closes_at, req.tz)}{soon}"
    return line


async def _prepare_command(req: Request, args: str) -> ReadyDigest | None:
    """`digest` and `digest post`, read (and, to post, drawn) before the command's own
    transaction (bot/core.py); None for the other forms."""
    action = args.strip().lower()
    if action not in ("", "post"):
        return None
    period = await digest_periods.upcoming(req)
    if not action:
        return ReadyDigest(period, await build_digest(req, period), None)
    return await prepare(req, period)


@command(
    "digest",
    summary="The next weekly digest so far, shown only to you; `digest post` posts it.",
    usage=(
        "digest",
        "digest last",
        "digest week",
        "digest post",
        "digest schedule [<weekday> <HH:MM> [IANA timezone]]",
        "digest off",
    ),
    examples=(
        "digest",
        "digest last",
        "digest week",
        "digest post",
        "digest schedule monday 09:00",
        "digest schedule fri 16:30 Europe/Paris",
        "digest off",
    ),
    details="A scheduled digest covers the time since the previous scheduled one up to its "
    "own scheduled minute: a Monday 09:00 digest reports the seven days before it, and every "
    "win, decision, newcomer and metric reading is in exactly one scheduled digest. `digest` "
    "previews the next one so far (the last seven days when none is scheduled); `digest last` "
    "shows the last one posted; `digest week` shows this calendar week (Monday to Sunday in "
    "the workspace time zone). `digest post` (committee members and admins) posts the preview "
    "to `digest-channel`, or here when none is set; it does not change what the scheduled "
    "digests cover. `digest schedule` (admins) posts it to `digest-channel` every week at "
    "that local time (the workspace time zone unless one is given), exactly once even with "
    "several replicas; alone it shows the next run. `digest off` stops it.",
    prepare=_prepare_command,
    subcommands=(
        Subcommand("last", "Show the last digest posted."),
        Subcommand("week", "Show this calendar week's digest."),
        Subcommand(
            "post",
            "Post the digest now.",
            role=Role.COMMITTEE,
            doing="post the digest",
        ),
        Subcommand(
            "schedule",
            "Post the digest every week at a local time.",
            role=Role.ADMIN,
            doing="schedule the weekly digest",
            shows_alone=True,
        ),
        Subcommand(
            "off", "Stop the weekly digest.", role=Role.ADMIN, doing="stop the weekly digest"
        ),
    ),
)
async def digest(req: Request, args: str) -> Outcome:
    action, _, rest = args.strip().partition(" ")
    action = action.lower()
    if action == "schedule":
        return await schedule_digest(req, rest.split())
    if action == "off" and not rest:
        return await stop_digest(req)
    if action == "last" and not rest:
        return await last_posted(req)
    if action == "week" and not rest:
        return Outcome().reply(await build_digest(req, digest_periods.calendar_week(req)))
    if action not in ("", "post") or rest:
        raise UsageError(
            f"{args.strip()[:40]!r} is not a digest action; use `digest`, `digest last`, "
            "`digest week`, `digest post`, `digest schedule` or `digest off`"
        )
    ready = req.prepared
    if not isinstance(ready, ReadyDigest):  # a workspace's first command: nothing prepared
        ready = await _prepare_command(req, args)
        assert isinstance(ready, ReadyDigest)
    if not action:
        return Outcome().reply(ready.message)
    period = ready.period
    target = channels.configured(req.config, "digest-channel") or channels.Channel(
        req.place.conversation_id, req.place.conversation_name
    )
    outcome = await publish(req, ready, target)
    where = target.where_from(req.place)
    return outcome.reply(f"Posted the digest for {period.label()} {where}.")


async def last_posted(req: Request) -> Outcome:
    row = await digests.latest(req.session, req.workspace_id)
    if row is None:
        return Outcome().reply(
            "No digest has been posted yet. `digest` previews the next one; admins: "
            "`digest schedule monday 09:00`."
        )
    posted = message_json.loads(row.message)
    note = f"The last digest, posted {describe(row.posted_at, req.tz)}:"
    return Outcome().reply(
        Message(text=f"{note}\n{posted.text}", blocks=(Context(note), *posted.blocks))
    )


@dataclass(frozen=True, slots=True)
class ReadyDigest:
    """A digest read, rendered and drawn, waiting to be posted."""

    period: DigestPeriod
    message: Message
    chart: Chart | None  # the drawn chart, stored with the post for /charts/<token>.png


async def prepare(req: Request, period: DigestPeriod) -> ReadyDigest:
    """Read the digest of `period` and draw its chart: reads only, so the scheduler does it
    in a read-only transaction before the one that claims the run and posts."""
    facts = await read_digest(req, period)
    chart = await facts.trend.drawn() if facts.trend is not None else None
    return ReadyDigest(period, render_digest(facts, req, chart), chart)


async def publish(
    req: Request, ready: ReadyDigest, target: channels.Channel, *, scheduled: bool = False
) -> Outcome:
    """Post a prepared digest to `target`: its chart kept, the digest archived and the post
    queued, all in the caller's transaction."""
    if ready.chart is not None:
        await cost_store.save_chart(
            req.session, ready.chart.token, req.workspace_id, png=ready.chart.png
        )
    await archive(req, ready.message, ready.period, scheduled=scheduled)
    return Outcome().post(ready.message, target.id, channel_name=target.name, subject="digest")


@dataclass(frozen=True, slots=True)
class ScheduledDigest:
    ready: ReadyDigest
    target: channels.Channel


async def prepare_scheduled(req: Request, due: datetime) -> ScheduledDigest | None:
    """The weekly digest due at `due`, ready for `scheduled_post`; None when there is nothing
    to post (a period under a day rolls into the next digest; no `digest-channel`). Reads
    only: run before the run is claimed (bot/core.py `run_scheduled`)."""
    schedule = await schedules.find(req.session, req.workspace_id, "digest")
    if schedule is None:  # removed since it fell due: the seven days before `due`
        period = DigestPeriod(due - digest_periods.ROLLING, due, due, req.tz, "scheduled")
    else:
        period = await digest_periods.scheduled(
            req.session, req.workspace_id, schedule, due=due, tz=req.tz
        )
    if period.end - period.start < digest_periods.MIN_SPAN:
        log.info("digest due %s rolls into the next one (its period is under a day)", due)
        return None
    target = channels.configured(req.config, "digest-channel")
    if target is None:
        log.warning("weekly digest due for %s but no digest-channel is set", req.actor.workspace_id)
        return None
    return ScheduledDigest(await prepare(req, period), target)


async def scheduled_post(req: Request, scheduled: ScheduledDigest | None) -> Outcome:
    """Post the prepared weekly digest to `digest-channel` (in the claim's transaction)."""
    if scheduled is None:
        return Outcome()
    return await publish(req, scheduled.ready, scheduled.target, scheduled=True)


async def archive(
    req: Request, message: Message, period: DigestPeriod, *, scheduled: bool = False
) -> None:
    """Keep the posted digest and the period it covers, in the transaction that posts it (a
    post that rolls back leaves no archive row, so the next scheduled digest covers it)."""
    await digests.archive(
        req.session,
        req.workspace_id,
        week_start=to_local(period.start, req.tz).date(),
        period=(period.start, period.until),
        scheduled=scheduled,
        posted_at=req.now,
        message=message_json.dumps(message),
    )
