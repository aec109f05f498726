"""Cost KPIs for a period of imported FOCUS data, with their Crawl/Walk/Run traffic lights.

Formulas are the FinOps Foundation KPI library's on FOCUS columns; the SQL is in
`storage/cost_kpis.py`. Arithmetic is Decimal only, money stays integer nanos until it is
shown, and a KPI whose denominator is not positive is "n/a", never 0 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Literal

from babel.numbers import get_currency_precision
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.parsing.billing import Period, span_label
from storage import cost_kpis as store
from storage.cost_kpis import CommitmentUse, Mover, WindowTotals

OWNER_TAGS_KEY = "cost-owner-tags"  # workspace config: the tag keys that name an owner
SCOPE_TAGS_KEY = "cost-scope-tags"  # workspace config: the tag keys kept per value for scopes
HUNDRED = Decimal(100)
TENTH = Decimal("0.1")
MOVERS = 3


class Light(Enum):
    """The maturity level a KPI reaches, as a traffic light."""

    BELOW = ("🔴", "below Crawl")
    CRAWL = ("🟠", "Crawl")
    WALK = ("🟡", "Walk")
    RUN = ("🟢", "Run")

    @property
    def shown(self) -> str:
        return f"{self.value[0]} {self.value[1]}"


_SIGNS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}


@dataclass(frozen=True, slots=True)
class Bound:
    op: Literal[">=", ">", "<=", "<"]
    value: Decimal

    def met(self, x: Decimal) -> bool:
        return {
            ">=": x >= self.value,
            ">": x > self.value,
            "<=": x <= self.value,
            "<": x < self.value,
        }[self.op]

    def text(self, unit: str) -> str:
        shown = format(self.value.normalize(), "f")
        if unit == "days":
            return f"{_SIGNS[self.op]} {shown} {'day' if self.value == 1 else 'days'}"
        return f"{_SIGNS[self.op]} {shown} {unit}"


@dataclass(frozen=True, slots=True)
class Targets:
    crawl: Bound
    walk: Bound
    run: Bound
    unit: str = "%"

    def level(self, value: Decimal) -> Light:
        for light, bound in ((Light.RUN, self.run), (Light.WALK, self.walk)):
            if bound.met(value):
                return light
        return Light.CRAWL if self.crawl.met(value) else Light.BELOW

    def next_goal(self, light: Light) -> str:
        """`Walk > 75 %`: the next level's target; at Run, Run's own."""
        goal = {
            Light.BELOW: ("Crawl", self.crawl),
            Light.CRAWL: ("Walk", self.walk),
            Light.WALK: ("Run", self.run),
            Light.RUN: ("", self.run),
        }[light]
        return f"{goal[0]} {goal[1].text(self.unit)}".strip()


def _at_least(crawl: int, walk: int, run: int) -> Targets:
    return Targets(
        Bound(">=", Decimal(crawl)), Bound(">=", Decimal(walk)), Bound(">=", Decimal(run))
    )


def _at_most(crawl: int, walk: int, run: int, *, unit: str = "%") -> Targets:
    return Targets(
        Bound("<=", Decimal(crawl)), Bound("<=", Decimal(walk)), Bound("<=", Decimal(run)), unit
    )


# FinOps Foundation maturity sample goals (finops.md): allocation to a known owner and
# commitment discount coverage ("~60 %" read as at least 60 %).
FOUNDATION_TARGETS: dict[str, Targets] = {
    "allocation": Targets(
        Bound(">=", Decimal(70)), Bound(">=", Decimal(85)), Bound(">", Decimal(90))
    ),
    "coverage": Targets(Bound(">=", Decimal(60)), Bound(">", Decimal(75)), Bound(">", Decimal(80))),
}
# The project's own choice, not the FinOps Foundation's, which gives no Crawl/Walk/Run targets
# for these KPIs. Waste mirrors utilisation; freshness is days since the latest charge ended.
PROJECT_TARGETS: dict[str, Targets] = {
    "utilisation": _at_least(80, 90, 95),
    "waste": _at_most(20, 10, 5),
    "esr": _at_least(10, 20, 30),
    "freshness": _at_most(7, 3, 1, unit="days"),
}
TARGETS = {**FOUNDATION_TARGETS, **PROJECT_TARGETS}


KPI_LIBRARY = "https://www.finops.org/kpi/"
# Each KPI's definition on FOCUS columns, as `help cost` shows it, with the FinOps Foundation
# page it follows (a KPI library page where the library has one, else the capability's).
DEFINITIONS: tuple[tuple[str, str, str], ...] = (
    (
        "Effective savings rate",
        "1 - EffectiveCost of usage (unused commitment included) / ListCost of the usage "
        "consumed; negative when commitments are wasted",
        f"{KPI_LIBRARY}effective-savings-rate-percentage/",
    ),
    (
        "Commitment coverage",
        "ListCost of eligible compute usage a commitment covered / ListCost of all eligible "
        "compute usage (spot and unused commitment rows are not eligible)",
        "https://www.finops.org/framework/capabilities/rate-optimization/",
    ),
    (
        "Commitment utilisation",
        "EffectiveCost of used commitment / used + unused",
        f"{KPI_LIBRARY}commitment-utilization-score/",
    ),
    (
        "Commitment waste",
        "EffectiveCost of unused commitment / EffectiveCost of every commitment row",
        "https://www.finops.org/framework/capabilities/rate-optimization/",
    ),
    (
        "Allocation",
        "usage EffectiveCost with an owner tag (or any tag) / all usage EffectiveCost",
        "https://www.finops.org/framework/capabilities/allocation/",
    ),
    (
        "Savings",
        "negotiated ListCost - ContractedCost; commitment ContractedCost - EffectiveCost, an "
        "unused commitment row counting -EffectiveCost",
        "https://www.finops.org/framework/capabilities/rate-optimization/",
    ),
    (
        "Data freshness",
        "now - the latest ChargePeriodEnd of usage rows (monthly taxes and fees left out)",
        f"{KPI_LIBRARY}frequency-of-data-updates/",
    ),
)


@dataclass(frozen=True, slots=True)
class Kpi:
    """A percentage (or, for freshness, days) rounded to one decimal; None is n/a."""

    key: str  # a TARGETS key, or "" for a KPI without targets
    value: Decimal | None
    unit: str = "%"

    @property
    def light(self) -> Light | None:
        targets = TARGETS.get(self.key)
        return None if targets is None or self.value is None else targets.level(self.value)

    @property
    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "days":  # tenths matter near the targets (1, 3, 7), not at 788
            days = self.value if self.value < 10 else self.value.quantize(Decimal(1))
            return f"{days} {'day' if days == 1 else 'days'}"
        return f"{self.value} %"

    @property
    def verdict(self) -> str:
        """`🟠 Crawl (Walk > 75 %)`, or "" without a value or targets."""
        light = self.light
        if light is None:
            return ""
        return f"{light.shown} ({TARGETS[self.key].next_goal(light)})"

    @property
    def judged(self) -> str:
        """`72.4 % 🟠 Crawl (Walk > 75 %)`."""
        return f"{self.shown} {self.verdict}".strip()


def ratio(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator in percent, one decimal; None when the denominator is not
    positive (no such cost, or credits larger than the cost: a share of it means nothing)."""
    if denominator <= 0:
        return None
    return tenths(Decimal(numerator) * HUNDRED / Decimal(denominator))


def tenths(value: Decimal) -> Decimal:
    """One decimal, half up; never "-0.0"."""
    rounded = value.quantize(TENTH, ROUND_HALF_UP)
    return abs(rounded) if rounded == 0 else rounded


def money(nanos: int) -> Decimal:
    return Decimal(nanos).scaleb(-9)


def format_cost(nanos: int, currency: str, *, signed: bool = False) -> str:
    """`12,345.67 USD` (the currency's own decimals, always shown: costs have cents);
    `+1,234.00 USD` when signed. No currency in the export: the number alone."""
    places = get_currency_precision(currency) if currency else 2
    amount = money(nanos).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    if amount == 0:
        amount = abs(amount)  # never "-0.00"
    sign = "+" if signed and amount > 0 else ""
    return f"{sign}{amount:,.{places}f} {currency}".rstrip()


@dataclass(frozen=True, slots=True)
class Change:
    amount: int  # nanos, current - previous
    percent: Decimal | None  # of the previous amount; None when it was 0

    @classmethod
    def between(cls, current: int, previous: int) -> Change:
        if previous == 0:
            return cls(current - previous, None)
        percent = Decimal(current - previous) * HUNDRED / abs(Decimal(previous))
        return cls(current - previous, tenths(percent))

    def shown(self, currency: str) -> str:
        """`+1,234.56 USD (+11.5 %)`; `(new)` when there was nothing before."""
        money_text = format_cost(self.amount, currency, signed=True)
        if self.percent is None:
            return f"{money_text} (new)" if self.amount else money_text
        sign = "+" if self.percent > 0 else ""
        return f"{money_text} ({sign}{self.percent} %)"


@dataclass(frozen=True, slots=True)
class NoDataInPeriod:
    """Cost data exists, but none for the period asked."""

    period: Period
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class CostReport:
    period: Period
    start: date  # the days reported: the period, cut at the last day of data
    end: date
    previous_start: date  # the same number of days of the previous period
    previous_end: date
    currency: str
    totals: WindowTotals
    previous: WindowTotals | None
    billed_change: Change
    effective_change: Change
    esr: Kpi
    coverage: Kpi
    utilisation: Kpi
    waste: Kpi
    allocation: Kpi  # cost with a known owner (or tagged, without owner tags)
    by_owner: bool  # allocation measured by owner tags rather than by any tag
    untagged: Kpi
    unallocated: Kpi  # n/a without owner tags
    movers_service: list[Mover]
    movers_sub_account: list[Mover]
    categories: list[tuple[str, int]]
    commitments: list[CommitmentUse]
    latest_charge: datetime | None  # the latest ChargePeriodEnd imported
    freshness: Kpi
    others: dict[str, int] = field(default_factory=dict)  # other currencies' effective cost

    @property
    def partial(self) -> bool:
        return self.end < self.period.end

    @property
    def compared(self) -> str:
        """`Sep 2024 vs Aug 2024`, or `1–24 Nov 2026 vs 1–24 Oct 2026` for a period so far."""
        previous = self.period.previous()
        if not self.partial and self.previous_end == previous.end:
            return f"{self.period.label} vs {previous.label}"
        current = span_label(self.start, self.end)
        return f"{current} vs {span_label(self.previous_start, self.previous_end)}"


def last_complete_day(last_data_day: date, now: datetime) -> date:
    """The latest billing day that is both in the data and over (UTC): today's rows are a
    day still being billed, so reporting them would look like a drop."""
    return min(last_data_day, now.astimezone(UTC).date() - timedelta(days=1))


Span = tuple[date, date]  # the first and last UTC day of cost data a workspace sees


def latest_month(span: Span, now: datetime) -> Period:
    """The month holding the latest complete day of data (`cost` with no period and the
    dashboard): this month to date once it has data, else the last month that has some, so
    nothing goes blank on the 1st while the exports catch up."""
    return Period.month_of(max(span[0], last_complete_day(span[1], now)))


async def data_span(session: AsyncSession, workspace_id: int | None) -> Span | None:
    return await store.day_span(session, workspace_id)


async def build_report(
    session: AsyncSession,
    workspace_id: int | None,
    period: Period,
    *,
    now: datetime,
    owner_tags: bool,
    currency: str = "",
    span: Span | None = None,
) -> CostReport | NoDataInPeriod | None:
    """The period's KPIs against the previous period (None when no cost data is visible at
    all). A period still running is cut at the last complete day of data and compared with
    as many days of the previous period, so a month to date is never set against a whole
    month (on the 5th with data to the 4th: 1-4 against 1-4). `span`: the data's days, when
    the caller has already read them."""
    span = span or await store.day_span(session, workspace_id)
    if span is None:
        return None
    last = max(span[0], last_complete_day(span[1], now))  # data only of today: show it
    end = min(period.end, last + timedelta(days=1))
    totals_by_currency = (
        await store.window_totals(session, workspace_id, start=period.start, end=end)
        if end > period.start
        else {}
    )
    if not totals_by_currency:
        return NoDataInPeriod(period, *span)
    currency = primary_currency(totals_by_currency, currency)
    totals = totals_by_currency[currency]
    before = period.previous()
    previous_end = before.end
    if end < period.end:
        previous_end = min(before.end, before.start + (end - period.start))
    previous = (
        await store.window_totals(session, workspace_id, start=before.start, end=previous_end)
    ).get(currency)

    async def movers(dimension: store.Dimension) -> list[Mover]:
        return await store.top_movers(
            session,
            workspace_id,
            dimension,
            start=period.start,
            end=end,
            previous_start=before.start,
            previous_end=previous_end,
            currency=currency,
            limit=MOVERS,
        )

    untagged = Kpi("", ratio(totals.untagged, totals.usage_effective))
    unallocated = Kpi("", ratio(totals.ownerless, totals.usage_effective) if owner_tags else None)
    share = unallocated if owner_tags else untagged
    latest_charge = await store.freshness(session, workspace_id)
    return CostReport(
        period=period,
        start=period.start,
        end=end,
        previous_start=before.start,
        previous_end=previous_end,
        currency=currency,
        totals=totals,
        previous=previous,
        billed_change=Change.between(totals.billed, previous.billed if previous else 0),
        effective_change=Change.between(totals.effective, previous.effective if previous else 0),
        esr=Kpi("esr", _esr(totals)),
        coverage=Kpi("coverage", ratio(totals.coverage_used, totals.coverage_eligible)),
        utilisation=Kpi(
            "utilisation",
            ratio(totals.commitment_used, totals.commitment_used + totals.commitment_unused),
        ),
        waste=Kpi("waste", ratio(totals.commitment_unused, totals.commitment_effective)),
        allocation=Kpi("allocation", None if share.value is None else HUNDRED - share.value),
        by_owner=owner_tags,
        untagged=untagged,
        unallocated=unallocated,
        movers_service=await movers("service"),
        movers_sub_account=await movers("sub_account"),
        categories=await store.top_service_categories(
            session, workspace_id, start=period.start, end=end, currency=currency
        ),
        commitments=await store.commitment_utilisation(
            session, workspace_id, start=period.start, end=end, currency=currency
        ),
        latest_charge=latest_charge,
        freshness=_freshness(latest_charge, now),
        others={c: t.effective for c, t in totals_by_currency.items() if c != currency},
    )


def primary_currency(totals: dict[str, WindowTotals], preferred: str = "") -> str:
    """The currency a report is in: the workspace's `config currency` when the bill has it,
    else the one most rows are in. Never by comparing amounts: 30,000 JPY is not more than
    255 EUR, and nothing is ever converted."""
    if preferred and preferred in totals:
        return preferred
    # Ties go to a named currency, then the first in alphabetical order.
    return max(sorted(totals), key=lambda code: (totals[code].rows, code != ""))


def _esr(totals: WindowTotals) -> Decimal | None:
    """Effective savings rate, the KPI library's "1 - actual spend with discounts / on-demand
    equivalent": usage rows' EffectiveCost (unused commitment included: it was paid for)
    over the ListCost of the usage consumed (unused commitment consumed nothing), so wasted
    commitments lower the rate and can make it negative. Amortised purchases (EffectiveCost
    0) are not usage rows, so buying a commitment is not counted twice."""
    if totals.usage_list <= 0:
        return None
    return tenths(HUNDRED - Decimal(totals.usage_effective) * HUNDRED / Decimal(totals.usage_list))


def _freshness(latest_charge: datetime | None, now: datetime) -> Kpi:
    """Cost visibility delay: now - MAX(ChargePeriodEnd), in days."""
    if latest_charge is None:
        return Kpi("freshness", None, "days")
    delay = max(now - latest_charge, timedelta(0))
    days = Decimal(delay // timedelta(seconds=1)) / Decimal(86_400)
    return Kpi("freshness", tenths(days), "days")


async def chart_series(
    session: AsyncSession,
    workspace_id: int,
    currency: str,
    *,
    last_monday: date,
    weeks: int = 12,
) -> tuple[list[date], list[Decimal]]:
    """Effective cost per Monday-Sunday week (UTC billing days) in `currency`, oldest first,
    the last week starting on `last_monday`: (each week's Monday, its cost in major units)."""
    first = last_monday - timedelta(days=7 * (weeks - 1))
    totals = await store.weekly_effective(
        session, workspace_id, first, weeks=weeks, currency=currency
    )
    mondays = [first + timedelta(days=7 * i) for i in range(weeks)]
    return mondays, [money(nanos) for nanos in totals]
