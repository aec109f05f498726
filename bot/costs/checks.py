"""Which wins are due a check against the bill, and their measurements, for many wins at once.

Reads only. The scopes of the due wins are grouped by the dimensions they use: one grouped
query per group gives every scope's daily series (`storage/cost_scope.grouped_daily`), so
10,000 wins cost a few queries, not 10,000. A check is due when imported data covers its
last day and it has not been recorded yet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal
from itertools import product

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.costs.kpis import money
from bot.costs.verify import (
    Measurement,
    Verdict,
    after_window,
    baseline_window,
    due_checkpoints,
    measure,
)
from storage import cost_kpis, cost_scope
from storage.cost_scope import Term
from storage.models import Win, WinCheck

AT_MOST = 500  # checks measured per run: each run's write stays short


@dataclass(frozen=True, slots=True)
class Check:
    win: Win
    terms: tuple[Term, ...]
    currency: str
    measurement: Measurement

    def row(self) -> WinCheck:
        m = self.measurement
        return WinCheck(
            win_id=self.win.id or 0,
            checkpoint=m.checkpoint,
            verdict=m.verdict.value,
            currency=self.currency,
            baseline_days=m.baseline_days,
            baseline_daily=str(m.baseline_mean),
            after_daily=str(m.after_mean),
            realised_monthly=str(m.realised_monthly),
            band=str(m.band),
        )


async def due(session: AsyncSession, workspace_id: int, *, limit: int = AT_MOST) -> list[Check]:
    """The workspace's checks that imported data now covers and that are not recorded yet,
    measured; at most `limit`, oldest wins first."""
    span = await cost_kpis.day_span(session, workspace_id)
    if span is None:
        return []
    scoped = await cost_scope.scoped_wins(session, workspace_id)
    done = await cost_scope.checks_of(session, [w.id or 0 for w, _ in scoped])
    wanted: list[tuple[Win, tuple[Term, ...], int]] = []
    for win, terms in scoped:
        for checkpoint in due_checkpoints(_day_of(win), span[1]):
            if checkpoint not in done.get(win.id or 0, {}):
                wanted.append((win, terms, checkpoint))
    wanted = wanted[:limit]
    by_dimensions: dict[tuple[str, ...], list[tuple[Win, tuple[Term, ...], int]]] = defaultdict(
        list
    )
    for item in wanted:
        by_dimensions[tuple(sorted({d for d, _ in item[1]}))].append(item)
    checks: list[Check] = []
    for dimensions, items in by_dimensions.items():
        first = min(baseline_window(_day_of(w)).first for w, _, _ in items)
        last = max(after_window(_day_of(w), c).last for w, _, c in items)
        rows = await cost_scope.grouped_daily(
            session, workspace_id, dimensions, first=first, last=last
        )
        index: dict[tuple[str, ...], list[tuple[date, str, int]]] = defaultdict(list)
        for day, currency, *values, nanos in rows:
            index[tuple(values)].append((day, currency, nanos))
        for win, terms, checkpoint in items:
            series = _series(index, dimensions, terms)
            currency = pick_currency(win, series)
            daily = series.get(currency, {})
            checks.append(
                Check(
                    win, terms, currency, measure(daily, span, _day_of(win), checkpoint=checkpoint)
                )
            )
    return checks


def _series(
    index: dict[tuple[str, ...], list[tuple[date, str, int]]],
    dimensions: tuple[str, ...],
    terms: tuple[Term, ...],
) -> dict[str, dict[date, Decimal]]:
    """A scope's daily effective cost per currency: the sum over every combination of its
    values (values of one dimension are alternatives)."""
    choices = [[v for d, v in terms if d == dimension] for dimension in dimensions]
    series: dict[str, dict[date, Decimal]] = defaultdict(dict)
    for combination in product(*choices):
        for day, currency, nanos in index.get(tuple(combination), ()):
            days = series[currency]
            days[day] = days.get(day, Decimal(0)) + money(nanos)
    return dict(series)


def pick_currency(win: Win, series: dict[str, dict[date, Decimal]]) -> str:
    """The currency a win is checked in: its own when the scope has cost in it, else the
    one with the most cost (totals are never converted)."""
    if win.currency in series or not series:
        return win.currency
    return max(series, key=lambda c: (sum(series[c].values()), c))


def _day_of(win: Win) -> date:
    return win.created_at.astimezone(UTC).date()


def seen(check: WinCheck) -> bool:
    return check.verdict == Verdict.SEEN.value
