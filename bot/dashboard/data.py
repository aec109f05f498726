"""What the dashboard shows, gathered for one workspace in one read-only transaction.

Every figure comes from a SQL aggregate or a short, limited list in storage/; nothing here
loads every win. The values are plain text and numbers: the templates escape them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import message_json
from bot.commands import DEFAULT_CURRENCY, DEFAULT_TIMEZONE
from bot.costs import kpis
from bot.dashboard.chart import Chart, Rows, monthly_bars, monthly_rows
from bot.message import Block
from bot.metric_text import change_text, format_value, lower_is_better
from bot.parsing.money import format_money, format_totals
from bot.parsing.persona import PERSONAS
from bot.parsing.tokens import plain_mentions
from bot.parsing.when import period_bounds, to_local
from bot.period_facts import PeriodFacts
from bot.win_text import tag_names, value_text, verified_text
from bot.wording import plural
from storage import committee, cost_scope, digests, polls, wins, workspaces
from storage import decisions as decision_store
from storage.models import DigestArchive

PERIODS = {
    "week": "This week",
    "month": "This month",
    "quarter": "This quarter",
    "year": "This year",
    "all": "All time",
}
DEFAULT_PERIOD = "month"
WALL_SIZE = 24  # latest wins on the wall
LEADERS = 10
OPEN_POLLS_SHOWN = 60  # every open poll (a bound, far above what a community keeps open)
CLOSED_POLLS_SHOWN = 4  # then the latest closed ones
NAMES_SHOWN = 10  # voters named per option of a poll that is not anonymous
DECISIONS_SHOWN = 8
DIGESTS_SHOWN = 12
CHART_MONTHS = 12
SPARK_POINTS = 12
FRESH = timedelta(hours=24)  # a win this recent gets the "new" ribbon


@dataclass(frozen=True, slots=True)
class WinCard:
    id: int
    text: str
    value: str  # "3,200 USD/mo (38,400 USD a year)", or "" without an amount
    avoidance: bool
    categories: str
    people: tuple[str, ...]
    when: str  # local date, "25 Nov 2026"
    iso: str  # for <time datetime>
    fresh: bool
    verified: str = ""  # "realised 2,950.00 USD/mo ± ... at day 30 (92 % of the claim)", or ""


@dataclass(frozen=True, slots=True)
class Leader:
    rank: int
    name: str
    wins: int
    savings: str  # every currency: "38,400 USD + 1,200 EUR"
    savings_first: str = ""  # the largest alone, "38,400 USD"
    more_currencies: int = 0  # how many others `savings` names


@dataclass(frozen=True, slots=True)
class Totals:
    wins: int
    savings: str
    avoidance: str  # "" when there was none
    # The same per currency, largest first: the first one is shown large, the rest as a table.
    savings_each: tuple[str, ...] = ()
    avoidance_each: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OptionResult:
    position: int
    label: str
    votes: int
    share: float  # 0..1 of the votes cast in the poll
    names: str  # voters' names; always "" for an anonymous poll
    start: float = 0.0  # 0..1: where its part of the poll's stacked bar begins


@dataclass(frozen=True, slots=True)
class PollResult:
    id: int
    question: str
    open: bool
    anonymous: bool
    facts: str
    voters: int
    options: tuple[OptionResult, ...]


@dataclass(frozen=True, slots=True)
class Seat:
    persona: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DecisionLine:
    id: int
    when: str
    iso: str
    who: str
    text: str
    poll_id: int | None
    supersedes: int | None
    superseded_by: int | None


@dataclass(frozen=True, slots=True)
class Tile:
    """A metric (or, later, a cost KPI) with its trend."""

    name: str
    value: str
    change: str  # "▲ +4 pts", or "" with one value
    direction: str  # "up" | "down" | "flat" | ""
    points: str  # SVG polyline points of the sparkline, "" with fewer than two values
    summary: str  # the trend in words, for screen readers
    verdict: str = ""  # "good" | "bad" | "": the change read with the metric's direction


@dataclass(frozen=True, slots=True)
class DigestEntry:
    id: int
    week: str
    posted: str
    iso: str


@dataclass(slots=True)
class Dashboard:
    workspace: str  # "slack T0123": what the link is for
    period: str
    period_label: str
    timezone: str
    currency: str
    totals: Totals
    wall: list[WinCard]
    leaders: list[Leader]
    chart: Chart
    chart_rows_layout: Rows  # the same chart for a phone: a row per month
    chart_currency: str
    chart_other: str  # savings in other currencies over the same months, "" when none
    chart_rows: list[tuple[str, str, str]]  # (month, saved, avoided): the chart as a table
    polls: list[PollResult]  # every open poll (closing soonest first), then the latest closed
    seats: list[Seat]
    decisions: list[DecisionLine]
    tiles: list[Tile]
    cost_tiles: list[Tile]
    digests: list[DigestEntry]
    read_at: str = ""  # when these figures were read, local time: "Thu 3 Dec 2026 09:12"
    read_iso: str = ""


@dataclass(frozen=True, slots=True)
class DigestPage:
    workspace: str
    week: str
    posted: str
    blocks: tuple[Block, ...]


async def gather(
    session: AsyncSession,
    workspace_id: int,
    label: str,
    *,
    period: str,
    now: datetime,
) -> Dashboard:
    """Everything the page shows, in one read-only transaction (one consistent snapshot)."""
    config = await workspaces.settings(session, workspace_id)
    tz = ZoneInfo(config.get("timezone", DEFAULT_TIMEZONE))
    currency = config.get("currency", DEFAULT_CURRENCY)
    period = period if period in PERIODS else DEFAULT_PERIOD
    today = to_local(now, tz).date()
    start, end = period_bounds(period, today, tz) if period != "all" else (None, None)
    facts = PeriodFacts(session, workspace_id, start, end, now)
    chart, rows_chart, chart_currency, other, rows = await _chart(
        session, workspace_id, today, tz=tz, currency=currency
    )
    return Dashboard(
        workspace=label,
        period=period,
        period_label=PERIODS[period],
        timezone=tz.key,
        currency=currency,
        totals=await _totals(facts),
        wall=await _wall(session, workspace_id, tz, now=now),
        leaders=await _leaders(facts, currency),
        chart=chart,
        chart_rows_layout=rows_chart,
        chart_currency=chart_currency,
        chart_other=other,
        chart_rows=rows,
        polls=await _polls(session, workspace_id, tz, now=now),
        seats=await _seats(session, workspace_id),
        decisions=await _decisions(session, workspace_id, tz),
        tiles=await _tiles(facts, lower_is_better(config)),
        cost_tiles=await cost_tiles(session, workspace_id, now),
        digests=await _digests(session, workspace_id, tz),
        read_at=_moment(now, tz),
        read_iso=now.isoformat(),
    )


async def cost_tiles(
    session: AsyncSession, workspace_id: int, now: datetime | None = None
) -> list[Tile]:
    """Cost KPIs of the month holding the latest complete day of FOCUS data, as `cost` shows
    them (bot/costs/kpis.py): effective cost month over month with its weekly trend, effective
    savings rate, commitment coverage, unallocated cost and the data's age, each with its
    Crawl/Walk/Run light. Exports lag, so on the 1st the tiles still show last month; no tiles
    without any data."""
    config = await workspaces.settings(session, workspace_id)
    now = now or datetime.now(UTC)
    by_owner = bool(config.get(kpis.OWNER_TAGS_KEY, "").strip())
    span = await kpis.data_span(session, workspace_id)
    if span is None:
        return []
    report = await kpis.build_report(
        session,
        workspace_id,
        kpis.latest_month(span, now),
        now=now,
        owner_tags=by_owner,
        currency=config.get("currency", ""),
        span=span,
    )
    if not isinstance(report, kpis.CostReport):
        return []
    effective, change = report.totals.effective, report.effective_change
    arrow = "▲ " if change.amount > 0 else "▼ " if change.amount < 0 else ""
    trend = "MoM n/a" if report.previous is None else f"{arrow}MoM {change.shown(report.currency)}"
    # The trend ends with the last whole week of data: a week in progress would look like a drop.
    last_monday = report.end - timedelta(days=report.end.weekday() + 7)
    _, weekly = await kpis.chart_series(
        session, workspace_id, report.currency, last_monday=last_monday
    )
    cost_name = "Cloud cost, " + (
        kpis.span_label(report.start, report.end) if report.partial else report.period.label
    )
    cost_value = kpis.format_cost(effective, report.currency)
    share = report.unallocated if by_owner else report.untagged
    share_name = "Unallocated cost" if by_owner else "Untagged cost"
    allocated = f"{report.allocation.shown} allocated {report.allocation.verdict}".strip()
    tiles = [
        (cost_name, cost_value, trend, _spark(tuple(weekly))),
        ("Effective savings rate", report.esr.shown, report.esr.verdict or "n/a", ""),
        ("Commitment coverage", report.coverage.shown, report.coverage.verdict or "n/a", ""),
        (share_name, share.shown, allocated, ""),
        ("Data freshness", report.freshness.shown, report.freshness.verdict or "n/a", ""),
    ]
    return [
        Tile(name, value, note, "", points, f"{name}: {value}, {note}")
        for name, value, note, points in tiles
    ]


async def _totals(facts: PeriodFacts) -> Totals:
    counted = await facts.wins()
    savings, avoidance = counted.savings, counted.avoidance
    return Totals(
        counted.count,
        format_totals(savings),
        format_totals(avoidance) if avoidance else "",
        _each(savings) or ("0",),
        _each(avoidance) or ("0",),
    )


def _each(totals: dict[str, int]) -> tuple[str, ...]:
    """Per-currency totals, largest first (as `format_totals` orders them), one per item."""
    return tuple(format_money(v, c) for c, v in sorted(totals.items(), key=lambda i: -i[1]))


async def _wall(session: AsyncSession, workspace_id: int, tz: ZoneInfo, *, now: datetime):
    latest = await wins.list_wins(session, workspace_id, start=None, end=None, limit=WALL_SIZE)
    checked = await cost_scope.latest_checks(session, [v.win.id or 0 for v in latest])
    return [
        WinCard(
            id=v.win.id or 0,
            text=plain_mentions(v.win.text),
            value=value_text(v.win),
            avoidance=v.win.avoidance,
            categories=tag_names(v.tags),
            people=tuple(name for _, name in v.people),
            when=_day(v.win.created_at, tz),
            iso=v.win.created_at.isoformat(),
            fresh=now - v.win.created_at <= FRESH,
            verified=verified_text(checked.get(v.win.id or 0), v.win),
        )
        for v in latest
    ]


async def _leaders(facts: PeriodFacts, currency: str) -> list[Leader]:
    ranked = await facts.contributors(LEADERS, rank_currency=currency)
    return [
        Leader(
            rank,
            c.name,
            c.wins,
            format_totals(c.savings) if c.savings else "",
            (_each(c.savings) or ("",))[0],
            max(len(c.savings) - 1, 0),
        )
        for rank, c in enumerate(ranked, start=1)
    ]


async def _chart(
    session: AsyncSession, workspace_id: int, today: date, *, tz: ZoneInfo, currency: str
) -> tuple[Chart, Rows, str, str, list[tuple[str, str, str]]]:
    """Savings and avoidance per month over the last 12 months (this one included), in one
    currency: the workspace's, unless it has none there and another currency has some.
    Totals are never converted, so other currencies are named beside the chart."""
    bounds: list[datetime] = []
    month = today.replace(day=1)
    for _ in range(CHART_MONTHS):
        bounds.insert(0, period_bounds("month", month, tz)[0])
        month = (month - timedelta(days=1)).replace(day=1)
    bounds.append(period_bounds("month", today, tz)[1])
    rows = await wins.totals_by_interval(session, workspace_id, bounds)
    by_currency: dict[str, int] = {}
    for row in rows:
        by_currency[row.currency] = by_currency.get(row.currency, 0) + row.count
    shown = currency
    if currency not in by_currency and by_currency:
        shown = max(by_currency, key=lambda c: (by_currency[c], c))
    saved = [0] * CHART_MONTHS
    avoided = [0] * CHART_MONTHS
    others: dict[str, int] = {}
    for row in rows:
        if row.currency == shown:
            (avoided if row.avoidance else saved)[row.bucket] += row.annualised
        elif not row.avoidance and row.annualised:
            others[row.currency] = others.get(row.currency, 0) + row.annualised
    months = [to_local(b, tz) for b in bounds[:-1]]
    table = [
        (f"{m:%b %Y}", format_money(s, shown), format_money(a, shown))
        for m, s, a in zip(months, saved, avoided, strict=True)
    ]
    figures = [(f"{m:%b}", f"{m:%Y}", s, a) for m, s, a in zip(months, saved, avoided, strict=True)]
    chart, rows_chart = monthly_bars(figures, shown), monthly_rows(figures, shown)
    return chart, rows_chart, shown, format_totals(others) if others else "", table


async def _polls(
    session: AsyncSession, workspace_id: int, tz: ZoneInfo, *, now: datetime
) -> list[PollResult]:
    latest = await polls.open_polls(session, workspace_id, now, limit=OPEN_POLLS_SHOWN)
    latest += await polls.latest_closed(session, workspace_id, now, limit=CLOSED_POLLS_SHOWN)
    ids = [p.id for p in latest if p.id is not None]
    options, tallies, voters = await polls.results(session, ids)
    names = await polls.names_for(session, [p.id for p in latest if p.id and not p.anonymous])
    shown = []
    for p in latest:
        assert p.id is not None
        cast = sum(tallies.get((p.id, o.position), 0) for o in options.get(p.id, []))
        is_open = p.closed_at is None and (p.closes_at is None or p.closes_at > now)
        facts = ["multiple choice" if p.multi else "single choice"]
        if p.anonymous:
            facts.append("anonymous: counts only")
        if p.committee:
            facts.append("committee vote")
        if is_open and p.closes_at:
            facts.append(f"closes {_moment(p.closes_at, tz)}")
        elif not is_open:
            facts.append(f"closed {_moment(p.closed_at or p.closes_at or now, tz)}")
        results = []
        start = 0.0
        for option in options.get(p.id, []):
            votes = tallies.get((p.id, option.position), 0)
            chosen = [] if p.anonymous else names.get((p.id, option.position), [])
            named = ", ".join(chosen[:NAMES_SHOWN])
            if len(chosen) > NAMES_SHOWN:
                named += f" and {len(chosen) - NAMES_SHOWN:,} others"
            results.append(
                OptionResult(
                    option.position,
                    plain_mentions(option.label),
                    votes,
                    votes / cast if cast else 0,
                    named,
                    start,
                )
            )
            start += votes / cast if cast else 0
        shown.append(
            PollResult(
                p.id,
                plain_mentions(p.question),
                is_open,
                p.anonymous,
                " · ".join(facts),
                voters.get(p.id, 0),
                tuple(results),
            )
        )
    return shown


async def _seats(session: AsyncSession, workspace_id: int) -> list[Seat]:
    members = await committee.members(session, workspace_id)
    by_persona: dict[str, list[str]] = {}
    for member in members:
        by_persona.setdefault(member.persona, []).append(member.user_name)
    return [Seat(label, tuple(by_persona.get(key, ()))) for key, label in PERSONAS.items()]


async def _decisions(session: AsyncSession, workspace_id: int, tz: ZoneInfo) -> list[DecisionLine]:
    return [
        DecisionLine(
            d.id or 0,
            _day(d.decided_at, tz),
            d.decided_at.isoformat(),
            d.decided_by_name,
            plain_mentions(d.text),
            d.poll_id,
            d.supersedes,
            d.superseded_by,
        )
        for d in await decision_store.latest(session, workspace_id, DECISIONS_SHOWN)
    ]


async def _tiles(facts: PeriodFacts, lower: frozenset[str] = frozenset()) -> list[Tile]:
    """Metric tiles (the period ends now or later, so as of now); for a metric in `lower`
    (lower is better) a fall is the good news."""
    tiles = []
    for series in await facts.metric_trends(SPARK_POINTS):
        value = format_value(series.latest, series.unit)
        delta = series.change
        verdict = ""
        if delta is None:
            change, direction, summary = "", "", f"{series.name}: {value}, the first value"
        else:
            change = change_text(delta, series.unit)
            direction = "up" if delta > 0 else "down" if delta < 0 else "flat"
            better = delta < 0 if series.name in lower else delta > 0
            verdict = "" if delta == 0 else "good" if better else "bad"
            summary = (
                f"{series.name}: {value}, {change.lstrip('▲▼= ').strip() or '0'} since the "
                f"previous value, over the last {plural(len(series.values), 'value')}"
                + (", lower is better" if series.name in lower else "")
            )
        tiles.append(
            Tile(series.name, value, change, direction, _spark(series.values), summary, verdict)
        )
    return tiles


def _spark(values: tuple[Decimal, ...], width: int = 120, height: int = 32) -> str:
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    spread = (high - low) or Decimal(1)
    step = width / (len(values) - 1)
    return " ".join(
        f"{index * step:.1f},{height - 2 - float((v - low) / spread) * (height - 4):.1f}"
        for index, v in enumerate(values)
    )


async def _digests(session: AsyncSession, workspace_id: int, tz: ZoneInfo) -> list[DigestEntry]:
    return [
        DigestEntry(
            row.id or 0,
            _digest_label(row, tz),
            _moment(row.posted_at, tz),
            row.posted_at.isoformat(),
        )
        for row in await digests.recent(session, workspace_id, DIGESTS_SHOWN)
    ]


def _digest_label(row: DigestArchive, tz: ZoneInfo) -> str:
    """What a digest covers: "30 Nov – 6 Dec 2026, weekly" (its last day included), or
    "Week of 30 Nov 2026" for one archived before digests kept their period."""
    if row.period_start is None or row.period_end is None:
        return f"Week of {row.week_start:%d %b %Y}"
    first = to_local(row.period_start, tz).date()
    last = to_local(row.period_end - timedelta(microseconds=1), tz).date()
    span = (
        f"{first.day} {first:%b %Y}"
        if first == last
        else f"{first.day} {first:%b}{f' {first:%Y}' if first.year != last.year else ''}"
        f" – {last.day} {last:%b %Y}"
    )
    return f"{span}, {'weekly' if row.scheduled else 'posted by hand'}"


async def digest_page(
    session: AsyncSession, workspace_id: int, label: str, *, digest_id: int
) -> DigestPage | None:
    row = await digests.get(session, workspace_id, digest_id)
    if row is None:
        return None
    config = await workspaces.settings(session, workspace_id)
    tz = ZoneInfo(config.get("timezone", DEFAULT_TIMEZONE))
    message = message_json.loads(row.message)
    return DigestPage(label, _digest_label(row, tz), _moment(row.posted_at, tz), message.blocks)


def _day(moment: datetime, tz: ZoneInfo) -> str:
    local = to_local(moment, tz)
    return f"{local.day} {local:%b %Y}"


def _moment(moment: datetime, tz: ZoneInfo) -> str:
    local = to_local(moment, tz)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M}"
