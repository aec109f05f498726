"""Read-only aggregates over the daily FOCUS cost aggregates (`cost_day`), for cost KPIs.

Every query filters `day >= :start AND day < :end` first and then the scope
(`workspace_id IS NULL OR workspace_id = :ws`), so the `(day, workspace_id)` index serves it.
Money is summed in SQL as its two stored parts (whole units and billionths, `storage/money.py`)
and joined here into integer billionths; callers convert to Decimal.
Formulas follow the FinOps Foundation KPI library on FOCUS columns (see `bot/costs/kpis.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import money
from storage.costs import visible_to
from storage.models import CostDay, CostImport
from storage.typed import select_columns

Dimension = Literal["service", "sub_account"]

_day = col(CostDay.day)
Money = tuple[Any, Any]  # an amount's (units, nanos) columns
_billed: Money = (col(CostDay.billed_units), col(CostDay.billed_nanos))
_effective: Money = (col(CostDay.effective_units), col(CostDay.effective_nanos))
_list: Money = (col(CostDay.list_units), col(CostDay.list_nanos))
_contracted: Money = (col(CostDay.contracted_units), col(CostDay.contracted_nanos))
_negotiated: Money = (col(CostDay.negotiated_units), col(CostDay.negotiated_nanos))
_commitment: Money = (col(CostDay.commitment_units), col(CostDay.commitment_nanos))
_usage = col(CostDay.charge_category) == "Usage"
_compute = col(CostDay.service_category) == "Compute"
# Usage a commitment could cover: compute, not spot, not a commitment's unused part.
_eligible = and_(
    _compute,
    _usage,
    col(CostDay.pricing_category) != "Dynamic",
    col(CostDay.commitment_status) != "Unused",
)


Sums = tuple[ColumnElement[int], ColumnElement[int]]  # SUM(units), SUM(nanos)


def _sum(amount: Money) -> Sums:
    return money.sums(*amount)


def _sum_if(condition: ColumnElement[bool], amount: Money) -> Sums:
    return money.sums(*amount, condition)


def _minus(a: Sums, b: Sums) -> Sums:
    return a[0] - b[0], a[1] - b[1]


def _window(start: date, end: date, workspace_id: int | None) -> list[ColumnElement[bool]]:
    return [_day >= start, _day < end, visible_to(workspace_id)]


@dataclass(frozen=True, slots=True)
class WindowTotals:
    """One currency's sums over a window, in nanos."""

    currency: str
    billed: int
    effective: int
    listed: int
    contracted: int
    usage_effective: int  # ChargeCategory Usage: purchases, taxes and credits left out
    usage_list: int  # on-demand equivalent of usage consumed: unused commitment left out
    coverage_used: int  # ListCost of eligible usage a commitment covered (Status Used)
    coverage_eligible: int  # ListCost of compute usage, not spot, not unused commitment
    commitment_used: int
    commitment_unused: int
    commitment_effective: int  # rows with a CommitmentDiscountId
    untagged: int  # usage rows only, like ownerless
    ownerless: int
    negotiated_savings: int  # ListCost - ContractedCost over usage rows with both prices
    commitment_savings: int  # ContractedCost - EffectiveCost; an unused row: -EffectiveCost
    rows: int  # export rows summed: which currency a mixed bill is mostly in

    @property
    def total_savings(self) -> int:
        return self.negotiated_savings + self.commitment_savings


async def window_totals(
    session: AsyncSession, workspace_id: int | None, *, start: date, end: date
) -> dict[str, WindowTotals]:
    """Every KPI's numerator and denominator per currency over [start, end), in one query."""
    status = col(CostDay.commitment_status)
    sums: list[Sums] = [
        _sum(_billed),
        _sum(_effective),
        _sum(_list),
        _sum(_contracted),
        _sum_if(_usage, _effective),
        # The on-demand equivalent of what was consumed: an unused commitment consumed
        # nothing, so it adds its cost to what was paid (above) and nothing here.
        _sum_if(and_(_usage, status != "Unused"), _list),
        # Coverage in on-demand equivalent (ListCost), never in discounted cost; unused
        # commitment is not eligible usage, spot (Dynamic) is not coverable.
        _sum_if(and_(_eligible, status == "Used"), _list),
        _sum_if(_eligible, _list),
        _sum_if(status == "Used", _effective),
        _sum_if(status == "Unused", _effective),
        _sum_if(col(CostDay.commitment_id) != "", _effective),
        # Allocation is about resources: credits, taxes and purchases carry no tags, and a
        # negative untagged credit would push the share below 0 %.
        _sum_if(and_(_usage, ~col(CostDay.tagged)), _effective),
        _sum_if(and_(_usage, col(CostDay.owner) == ""), _effective),
        # The importer keeps each row's savings where its prices are known (zero elsewhere);
        # only usage counts, so a negative credit's prices never read as a saving.
        # An unused commitment row is a negative saving of its whole EffectiveCost (FinOps
        # toolkit definitions): no negotiated saving, and -EffectiveCost as commitment saving,
        # decided here from the row's status whatever the importer kept for it.
        _sum_if(and_(_usage, status != "Unused"), _negotiated),
        _minus(
            _sum_if(and_(_usage, status != "Unused"), _commitment),
            _sum_if(and_(_usage, status == "Unused"), _effective),
        ),
    ]
    currency, rows = col(CostDay.currency), func.coalesce(func.sum(col(CostDay.row_count)), 0)
    columns = [part for pair in sums for part in pair]
    result = await session.exec(
        select_columns(currency, rows, *columns)
        .where(*_window(start, end, workspace_id))
        .group_by(currency)
    )
    names = [f.name for f in fields(WindowTotals)][1:-1]  # the money, in `sums`' order
    totals = {}
    for code, count, *parts in result.all():
        amounts = [money.join(*parts[i : i + 2]) for i in range(0, len(parts), 2)]
        totals[code] = WindowTotals(code, **dict(zip(names, amounts, strict=True)), rows=int(count))
    return totals


@dataclass(frozen=True, slots=True)
class Mover:
    name: str
    current: int
    previous: int

    @property
    def change(self) -> int:
        return self.current - self.previous


HALF_CENT = 5_000_000  # billionths: the least change shown as at least 0.01


async def top_movers(
    session: AsyncSession,
    workspace_id: int | None,
    dimension: Dimension,
    *,
    start: date,
    end: date,
    previous_start: date,
    previous_end: date,
    currency: str,
    limit: int = 3,
) -> list[Mover]:
    """The biggest absolute changes in effective cost from the previous window to this one."""
    column = col(CostDay.service if dimension == "service" else CostDay.sub_account)
    current = _sum_if(and_(_day >= start, _day < end), _effective)
    previous = _sum_if(and_(_day >= previous_start, _day < previous_end), _effective)
    result = await session.exec(
        select_columns(column, *current, *previous)
        .where(
            *_window(min(start, previous_start), max(end, previous_end), workspace_id),
            col(CostDay.currency) == currency,
        )
        .group_by(column)
    )
    # One row per service or sub-account: ranked here, where the joined sums cannot overflow.
    movers = [
        Mover(name, money.join(cu, cn), money.join(pu, pn)) for name, cu, cn, pu, pn in result.all()
    ]
    # A change that rounds to 0.00 is no mover (it read "+0.00 USD (new)").
    movers = [m for m in movers if abs(m.change) >= HALF_CENT]
    return sorted(movers, key=lambda m: (-abs(m.change), m.name))[:limit]


async def top_service_categories(
    session: AsyncSession,
    workspace_id: int | None,
    *,
    start: date,
    end: date,
    currency: str,
    limit: int = 3,
) -> list[tuple[str, int]]:
    """Service categories by effective cost, largest first."""
    category = col(CostDay.service_category)
    result = await session.exec(
        select(category, *_sum(_effective))
        .where(*_window(start, end, workspace_id), col(CostDay.currency) == currency)
        .group_by(category)
    )
    totals = [(name, money.join(units, nanos)) for name, units, nanos in result.all()]
    return sorted(totals, key=lambda t: (-t[1], t[0]))[:limit]


@dataclass(frozen=True, slots=True)
class CommitmentUse:
    commitment_id: str
    used: int
    unused: int


async def commitment_utilisation(
    session: AsyncSession, workspace_id: int | None, *, start: date, end: date, currency: str
) -> list[CommitmentUse]:
    """Used and unused effective cost per CommitmentDiscountId, the least used first."""
    commitment = col(CostDay.commitment_id)
    status = col(CostDay.commitment_status)
    used = _sum_if(status == "Used", _effective)
    unused = _sum_if(status == "Unused", _effective)
    result = await session.exec(
        select_columns(commitment, *used, *unused)
        .where(
            *_window(start, end, workspace_id),
            col(CostDay.currency) == currency,
            commitment != "",
        )
        .group_by(commitment)
    )
    uses = [
        CommitmentUse(name, money.join(uu, un), money.join(nu, nn))
        for name, uu, un, nu, nn in result.all()
    ]
    uses = [c for c in uses if c.used + c.unused != 0]
    # Ratios sort in Python: one row per commitment is a short list.
    return sorted(uses, key=lambda c: (c.used / (c.used + c.unused), c.commitment_id))


async def weekly_effective(
    session: AsyncSession,
    workspace_id: int | None,
    first_monday: date,
    *,
    weeks: int,
    currency: str,
) -> list[int]:
    """Effective cost per Monday-start week from `first_monday`, oldest first (`weeks` values)."""
    end = first_monday + timedelta(days=7 * weeks)
    result = await session.exec(
        select(_day, *_sum(_effective))
        .where(*_window(first_monday, end, workspace_id), col(CostDay.currency) == currency)
        .group_by(_day)
    )
    totals = [0] * weeks
    for day, units, nanos in result.all():  # at most 7 × weeks rows
        totals[(day - first_monday).days // 7] += money.join(units, nanos)
    return totals


async def freshness(session: AsyncSession, workspace_id: int | None) -> datetime | None:
    """The latest ChargePeriodEnd among the imports the workspace sees, or None."""
    result = await session.exec(
        select(func.max(col(CostImport.period_end))).where(visible_to(workspace_id, CostImport))
    )
    return result.one()


async def latest_day(session: AsyncSession, workspace_id: int | None) -> date | None:
    """The last UTC day of cost data the workspace sees, or None without any."""
    return await _edge_day(session, workspace_id, latest=True)


async def day_span(session: AsyncSession, workspace_id: int | None) -> tuple[date, date] | None:
    """The first and last UTC day of cost data the workspace sees, or None without any."""
    last = await _edge_day(session, workspace_id, latest=True)
    first = await _edge_day(session, workspace_id, latest=False)
    return None if first is None or last is None else (first, last)


async def _edge_day(
    session: AsyncSession, workspace_id: int | None, *, latest: bool
) -> date | None:
    # ORDER BY day LIMIT 1 walks the (day, workspace_id) index from one end and stops at the
    # first visible row; MIN/MAX with a WHERE would read the whole index on SQLite.
    result = await session.exec(
        select(_day)
        .where(visible_to(workspace_id))
        .order_by(_day.desc() if latest else _day)
        .limit(1)
    )
    return result.first()


async def weekly_effective_by_currency(
    session: AsyncSession, workspace_id: int | None, first_monday: date, *, weeks: int
) -> dict[str, list[int]]:
    """Effective cost per Monday-start week from `first_monday`, per currency, oldest first:
    the digest's chart, whose currency is the one with the most cost, in one query."""
    end = first_monday + timedelta(days=7 * weeks)
    currency = col(CostDay.currency)
    result = await session.exec(
        select(_day, currency, *_sum(_effective))
        .where(*_window(first_monday, end, workspace_id))
        .group_by(_day, currency)
    )
    series: dict[str, list[int]] = {}
    for day, code, units, nanos in result.all():  # at most 7 × weeks rows per currency
        bucket = (day - first_monday).days // 7
        series.setdefault(code, [0] * weeks)[bucket] += money.join(units, nanos)
    return series
