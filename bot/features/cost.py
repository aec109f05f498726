"""`cost`: cloud cost KPIs from imported FOCUS data, with Crawl/Walk/Run traffic lights; and
the digest's cost section and chart series.

Periods are whole UTC billing days; "this week" and "this month" are taken from the
workspace's local date. Weeks run Monday to Sunday. A week is compared with the week before
(week over week), a month with the month before (month over month). Exports arrive days
late, so `cost` alone shows the month of the latest complete day of data, and the digest the
latest seven complete days, each saying which days and how old the data is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot import catalogue
from bot.commands import Request, command
from bot.costs import kpis
from bot.costs.kpis import CostReport, NoDataInPeriod, format_cost
from bot.message import Block, Context, Fields, Header, Message, Outcome, Text
from bot.parsing.billing import Period, day_text, parse_billing_period, span_label
from bot.parsing.when import to_local
from bot.wording import plural
from storage.cost_kpis import Mover

TARGETS_NOTE = (
    "Crawl/Walk/Run: the FinOps Foundation's maturity goals for allocation and commitment "
    "coverage; the bot's own targets for savings rate, utilisation, waste and freshness."
)


def _owner_tags(req: Request) -> bool:
    return bool(req.config.get(kpis.OWNER_TAGS_KEY, "").strip())


async def report_for(
    req: Request, period: Period, span: kpis.Span | None = None
) -> CostReport | NoDataInPeriod | None:
    """The period's report in the workspace's own terms: its owner tags, and its currency
    when `config currency` is set and the bill has it (else the one most rows are in)."""
    return await kpis.build_report(
        req.session,
        req.workspace_id,
        period,
        now=req.now,
        owner_tags=_owner_tags(req),
        currency=req.config.get("currency", ""),
        span=span,
    )


def no_data_text(req: Request) -> str:
    scope = f"{req.actor.platform}:{req.actor.workspace_id}"
    return (
        "No cloud cost data yet. Whoever runs the bot imports a FOCUS export (CSV or Parquet, "
        "from AWS, Azure, Google Cloud, OCI and others) with `finops-bot focus import PATH` "
        f"(add `--workspace {scope}` to keep it to this workspace); then `cost` shows the "
        "month's cost, savings and KPIs."
    )


def gap_text(gap: NoDataInPeriod) -> str:
    return (
        f"No cloud cost data for {gap.period.label}: the data runs from {day_text(gap.first)} "
        f"to {day_text(gap.last)}. Try `cost {gap.last:%Y-%m}`."
    )


@command(
    "cost",
    summary="Cloud cost and FinOps KPIs from imported FOCUS data, with maturity traffic lights.",
    usage="cost [this week|last week|this month|last month|YYYY-MM]",
    examples=("cost", "cost last week", "cost 2024-09"),
    details=(
        "Without a period: the month of the latest complete day of imported data (exports "
        "arrive days late, so on the 1st this is still last month). "
        "Shows billed and effective (amortised) cost with the change week over week (for a "
        "week) or month over month (for a month), the effective savings rate, commitment "
        "coverage, utilisation and waste, untagged and unallocated cost, negotiated and "
        "commitment savings, the top service category and movers, and how fresh the data is. "
        "Periods are whole UTC billing days; weeks run Monday to Sunday; a period whose data "
        "stops early (one still running) is compared with as many days of the previous one, "
        "so `cost this month` on the 5th sets 1-4 against 1-4 of last month. "
        "One currency is shown (see below); others are named, never converted. "
        "Each KPI shows its level: "
        "🔴 below Crawl, 🟠 Crawl, 🟡 Walk, 🟢 Run. Owner tags: `config cost-owner-tags`. "
        "The primary currency is `config currency` when the bill has it, else the one with "
        "the most rows.\n\nDefinitions (FinOps Foundation KPIs on FOCUS columns):\n"
        + "\n".join(f"• {name}: {text}. {url}" for name, text, url in kpis.DEFINITIONS)
    ),
)
async def cost(req: Request, args: str) -> Outcome:
    if args.strip():
        period = parse_billing_period(args, to_local(req.now, req.tz).date())
        span = None
    else:
        span = await kpis.data_span(req.session, req.workspace_id)
        if span is None:
            return Outcome().reply(no_data_text(req))
        period = kpis.latest_month(span, req.now)
    report = await report_for(req, period, span)
    if report is None:
        return Outcome().reply(no_data_text(req))
    if isinstance(report, NoDataInPeriod):
        return Outcome().reply(gap_text(report))
    return Outcome().reply(report_message(report))


def _with_change(amount: int, change: kpis.Change, report: CostReport) -> str:
    shown = format_cost(amount, report.currency)
    if report.previous is None:
        return f"{shown}, {report.period.short} n/a (no data before)"
    return f"{shown}, {report.period.short} {change.shown(report.currency)}"


def _allocation_label(report: CostReport) -> str:
    return "Allocated to an owner" if report.by_owner else "Tagged cost (allocation)"


def _savings(report: CostReport) -> str:
    t, currency = report.totals, report.currency
    return (
        f"negotiated {format_cost(t.negotiated_savings, currency)}, commitment "
        f"{format_cost(t.commitment_savings, currency)}, "
        f"total {format_cost(t.total_savings, currency)}"
    )


def _mover(mover: Mover, currency: str) -> str:
    change = kpis.Change.between(mover.current, mover.previous)
    return f"{mover.name or '(none)'} {change.shown(currency)}"


def _movers(title: str, movers: list[Mover], currency: str) -> str | None:
    if not movers:
        return None
    return f"{title}: " + "; ".join(_mover(m, currency) for m in movers)


def _freshness(report: CostReport) -> str:
    if report.latest_charge is None:
        return "Data freshness: n/a (no import recorded)"
    ended = f"{day_text(report.latest_charge.date())} {report.latest_charge:%H:%M} UTC"
    return f"Data freshness: the latest charge ended {ended}, {report.freshness.judged}"


def _top_category(report: CostReport) -> str | None:
    if not report.categories:
        return None
    name, nanos = report.categories[0]
    share = kpis.ratio(nanos, report.totals.effective)
    of = f" ({share} % of effective cost)" if share is not None else ""
    return f"Top service category: {name or '(none)'}, {format_cost(nanos, report.currency)}{of}"


def _least_used(report: CostReport) -> str | None:
    if not report.commitments:
        return None
    least = report.commitments[0]
    share = kpis.ratio(least.used, least.used + least.unused)
    name = least.commitment_id
    name = name if len(name) <= 60 else "…" + name[-59:]
    count = plural(len(report.commitments), "commitment")
    return f"Least used commitment: {name}, {share} % used ({count} in all)"


def _others(report: CostReport) -> str | None:
    if not report.others:
        return None
    shown = ", ".join(
        format_cost(nanos, currency or "(no currency)")
        for currency, nanos in sorted(report.others.items(), key=lambda i: (-i[1], i[0]))
    )
    return f"Also {shown} not included (other currencies are never converted)."


def report_fields(report: CostReport) -> tuple[tuple[str, str], ...]:
    """At most 10 pairs (Slack's limit on one section's fields)."""
    t = report.totals
    return (
        ("Effective cost (amortised)", _with_change(t.effective, report.effective_change, report)),
        ("Billed cost (invoiced)", _with_change(t.billed, report.billed_change, report)),
        ("Effective savings rate", report.esr.judged),
        ("Commitment coverage (compute)", report.coverage.judged),
        ("Commitment utilisation", report.utilisation.judged),
        ("Commitment waste", report.waste.judged),
        (_allocation_label(report), report.allocation.judged),
        ("Untagged / unallocated", f"{report.untagged.shown} / {_unallocated(report)}"),
        ("Savings", _savings(report)),
    )


def _unallocated(report: CostReport) -> str:
    return report.unallocated.shown if report.by_owner else "n/a (no `config cost-owner-tags`)"


def title(report: CostReport) -> str:
    cut = f" (data for {span_label(report.start, report.end)})" if report.partial else ""
    return f"Cloud cost · {report.period.label}{cut}"


def report_message(report: CostReport) -> Message:
    pairs = report_fields(report)
    lines = [
        f"Changes are {report.period.comparison}: {report.compared}.",
        _top_category(report),
        _movers("Top movers by service", report.movers_service, report.currency),
        _movers("Top movers by sub-account", report.movers_sub_account, report.currency),
        _least_used(report),
        _freshness(report),
        _others(report),
    ]
    shown = [line for line in lines if line]
    heading = title(report)
    text = [heading, *(f"{k}: {v}" for k, v in pairs), *shown, TARGETS_NOTE, catalogue.ATTRIBUTION]
    return Message(
        text="\n".join(text),
        blocks=(
            Header(heading),
            Fields(pairs),
            Text("\n".join(shown)),
            Context(TARGETS_NOTE),
            Context(catalogue.ATTRIBUTION),
        ),
    )


async def digest_section(req: Request, last_day: date) -> CostSection | None:
    """The digest's cost part: the latest seven complete days of data up to `last_day` (the
    digest's own last day; exports lag, so usually a few days earlier) against the seven
    before, with the days named and the data's age. None when no cost data is visible."""
    span = await kpis.data_span(req.session, req.workspace_id)
    if span is None:
        return None
    last = min(max(span[0], kpis.last_complete_day(span[1], req.now)), last_day)
    if last < span[0]:  # a digest of a time before the first imported day
        return None
    report = await report_for(req, Period.days_ending(last), span)
    if report is None:
        return None
    if isinstance(report, NoDataInPeriod):  # a gap in the data
        line = f"No cloud cost data in the 7 days up to {day_text(last)}."
        return CostSection("Cloud cost", [Text(line)], [line], None, "")
    t = report.totals
    pairs = (
        ("Cloud cost (effective)", _with_change(t.effective, report.effective_change, report)),
        ("Billed cost", format_cost(t.billed, report.currency)),
        ("Effective savings rate", report.esr.judged),
        ("Commitment coverage", report.coverage.judged),
        (_allocation_label(report), report.allocation.judged),
        ("Commitment waste", report.waste.judged),
    )
    days = (report.end - report.start).days
    covered = (
        f"The latest {plural(days, 'complete day')} of imported data, "
        f"compared with {span_label(report.previous_start, report.previous_end)}."
    )
    movers = _movers("Top movers by service", report.movers_service[:2], report.currency)
    notes = [line for line in (covered, movers, _freshness(report)) if line]
    heading = f"Cloud cost · {span_label(report.start, report.end)}"
    blocks: list[Block] = [Fields(pairs), Text("\n".join(notes))]
    lines = [*(f"{k}: {v}" for k, v in pairs), *notes]
    return CostSection(heading, blocks, lines, report.start, report.currency)


@dataclass(frozen=True, slots=True)
class CostSection:
    """The digest's cost part: its heading, blocks and plain lines, the first day of its
    seven-day window (the chart's last bucket starts there; None without data in it) and
    the currency it is in (the chart's)."""

    heading: str
    blocks: list[Block]
    lines: list[str]
    window_start: date | None
    currency: str
