"""Which wins are due a check against the bill, and their measurements, for many wins at once.

Reads only. The scopes of the due wins are grouped by the dimensions they use: one grouped
query per group gives every scope's daily series (`storage/cost_scope.grouped_daily`), so
10,000 wins cost a few queries, not 10,000. A check is due when imported data covers its
last day and it has not been recorded yet; one without a baseline (too few days with cost in
the scope before the win, as for a resource kept only from a later import on) is not
recorded, so it is measured again after the next import.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import product
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.costs.verify import (
    Measurement,
    Verdict,
    after_window,
    baseline_window,
    due_checkpoints,
    measure,
)
from storage import cost_kpis, cost_scope, money
from storage.cost_scope import Term
from storage.models import Win

AT_MOST = 200  # checks recorded per write transaction: each stays short


@dataclass(frozen=True, slots=True)
class Check:
    win: Win
    terms: tuple[Term, ...]
    currency: str
    measurement: Measurement
    people: tuple[Term, ...] = ()  # those credited (user id, name): told when it is seen

    def row(self, now: datetime) -> dict[str, Any]:
        """The `win_check` row (a dict: thousands are written at once)."""
        m = self.measurement
        return {
            "win_id": self.win.id or 0,
            "checkpoint": m.checkpoint,
            "verdict": m.verdict.value,
            "currency": self.currency,
            "baseline_days": m.baseline_days,
            "baseline_daily": str(m.baseline_mean),
            "after_daily": str(m.after_mean),
            "realised_monthly": str(m.realised_monthly),
            "band": str(m.band),
            "checked_at": now,
        }


async def due(session: AsyncSession, workspace_id: int) -> list[Check]:
    """The workspace's checks that imported data now covers and that are not recorded yet,
    measured, oldest wins first."""
    span = await cost_kpis.day_span(session, workspace_id)
    if span is None:
        return []
    scoped = await cost_scope.scoped_wins(session, workspace_id)
    done = await cost_scope.checks_of(session, [w.id or 0 for w, _ in scoped])
    wanted: list[tuple[Win, tuple[Term, ...], int]] = []
    for win, terms in scoped:
        for checkpoint in due_checkpoints(win_day(win), span[1]):
            if checkpoint not in done.get(win.id or 0, {}):
                wanted.append((win, terms, checkpoint))
    by_dimensions: dict[tuple[str, ...], list[tuple[Win, tuple[Term, ...], int]]] = defaultdict(
        list
    )
    for item in wanted:
        by_dimensions[tuple(sorted({d for d, _ in item[1]}))].append(item)
    checks: list[Check] = []
    for dimensions, items in by_dimensions.items():
        first = min(baseline_window(win_day(w)).first for w, _, _ in items)
        last = max(after_window(win_day(w), c).last for w, _, c in items)
        rows = await cost_scope.grouped_daily(
            session, workspace_id, dimensions, first=first, last=last
        )
        # (the dimensions' values) -> currency -> day -> cost: a scope reads only its days.
        index: dict[tuple[str, ...], dict[str, dict[date, int]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        for day, currency, *values, nanos in rows:
            index[tuple(values)][currency][day] = nanos
        for win, terms, checkpoint in items:
            days = [*baseline_window(win_day(win)).dates()]
            days += after_window(win_day(win), checkpoint).dates()
            series = _series(index, dimensions, terms, days=days)
            currency = pick_currency(win, series)
            daily = series.get(currency, {})
            measured = measure(daily, span, win_day(win), checkpoint=checkpoint, scale=money.NANO)
            if measured.verdict is Verdict.NO_BASELINE:
                continue  # not recorded: measured again once new data (or the scope) changes
            checks.append(Check(win, terms, currency, measured))
    seen = [c.win.id or 0 for c in checks if c.measurement.verdict is Verdict.SEEN]
    people = await cost_scope.credited(session, seen)
    return [
        replace(c, people=tuple(people.get(c.win.id or 0, ())))
        if c.measurement.verdict is Verdict.SEEN
        else c
        for c in checks
    ]


def _series(
    index: dict[tuple[str, ...], dict[str, dict[date, int]]],
    dimensions: tuple[str, ...],
    terms: tuple[Term, ...],
    *,
    days: list[date],
) -> dict[str, dict[date, int]]:
    """A scope's daily effective cost per currency on `days`: the sum over every combination
    of its values (values of one dimension are alternatives)."""
    choices = [[v for d, v in terms if d == dimension] for dimension in dimensions]
    if all(len(values) == 1 for values in choices):  # most scopes: the index's own series
        # (`measure` reads only its windows' days, so the other days it holds do no harm)
        found = index.get(tuple(values[0] for values in choices), {})
        return {c: costs for c, costs in found.items() if any(d in costs for d in days)}
    series: dict[str, dict[date, int]] = defaultdict(dict)
    for combination in product(*choices):
        for currency, costs in index.get(tuple(combination), {}).items():
            into = series[currency]
            for day in days:
                if day in costs:
                    into[day] = into.get(day, 0) + costs[day]
    return {currency: days_ for currency, days_ in series.items() if days_}


def pick_currency(win: Win, series: Mapping[str, Mapping[date, int | Decimal]]) -> str:
    """The currency a win is checked in: its own when the scope has cost in it, else the
    one with the most cost (totals are never converted)."""
    if win.currency in series or not series:
        return win.currency
    return max(series, key=lambda c: (sum(series[c].values()), c))


def win_day(win: Win) -> date:
    """The day a win's checks are anchored on: the day its change took effect when its scope
    gives one, else the UTC day it was logged."""
    return win.effective_from or win.created_at.astimezone(UTC).date()
