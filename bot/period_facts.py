"""What happened in a period, read once for everything that reports on one: the digest, the
committee's agenda and the dashboard.

Each reader names the period ([start, until), aware; None for an open end) and asks for the
parts it shows. What counts in a period (live wins by when they were logged, decisions by when
they were recorded, metric trends as of the period's end, welcomes inside it) is decided here
and nowhere else, so the three reports cannot disagree. Reads only: safe in a read-only
transaction (`Database.reading()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from storage import cost_scope, decisions, onboarding, polls, wins
from storage import metrics as metric_store
from storage.metrics import MetricSeries
from storage.models import Decision, Poll, Win, WinCheck
from storage.wins import Contributor, Totals, WinView

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Listed(Generic[T]):
    """The first items of a list, and how many there are in all (a cut list says so)."""

    items: list[T]
    total: int


@dataclass(frozen=True, slots=True)
class PeriodFacts:
    session: AsyncSession
    workspace_id: int
    start: datetime | None  # None: since the beginning
    until: datetime | None  # None: up to now
    now: datetime

    async def wins(self, *, since: datetime | None = None) -> Totals:
        """Live wins logged in the period (or from `since` to its end): count and annualised
        sums per currency, cost avoidance apart. From the daily totals, so as cheap for all
        time as for a week."""
        start = since or self.start or EPOCH
        bounds = [start, self.until or _midnight_after(self.now)]
        count, savings, avoidance = 0, dict[str, int](), dict[str, int]()
        for row in await wins.totals_by_interval(self.session, self.workspace_id, bounds):
            count += row.count
            if row.annualised:
                (avoidance if row.avoidance else savings)[row.currency] = row.annualised
        return Totals(count, savings, avoidance)

    async def top_wins(self, limit: int) -> list[WinView]:
        """The period's most valuable wins (annualised savings, avoidance left out)."""
        return await wins.list_wins(
            self.session,
            self.workspace_id,
            start=self.start,
            end=self.until,
            limit=limit,
            order_by_value=True,
        )

    async def contributors(self, limit: int | None, *, rank_currency: str) -> list[Contributor]:
        """The people credited with the most wins in the period."""
        return await wins.contributors(
            self.session,
            self.workspace_id,
            start=self.start,
            end=self.until,
            limit=limit,
            rank_currency=rank_currency,
        )

    async def open_polls(self, limit: int) -> Listed[Poll]:
        """Polls open now, closing soonest first (a poll is open or not now, not in a period)."""
        found = await polls.open_polls(self.session, self.workspace_id, self.now, limit=limit)
        total = (
            len(found)
            if len(found) < limit
            else await polls.open_count(self.session, self.workspace_id, self.now)
        )
        return Listed(found, total)

    async def decisions(self) -> list[Decision]:
        """Decisions recorded in the period, oldest first."""
        return await decisions.between(
            self.session, self.workspace_id, start=self.start, end=self.until
        )

    async def metric_trends(self, points: int = 8, *, new_only: bool = False) -> list[MetricSeries]:
        """Each metric's last `points` values as of the period's end, by name; `new_only`
        keeps the metrics with a reading inside the period (each reading is reported once)."""
        series = await metric_store.latest_series(
            self.session, self.workspace_id, points, before=self.until
        )
        if new_only and self.start is not None:
            series = [s for s in series if s.latest_at >= self.start]
        return series

    async def checks(self) -> list[tuple[Win, WinCheck]]:
        """Wins checked against the bill in the period (bot/costs/checks.py), oldest first."""
        return await cost_scope.checks_between(
            self.session, self.workspace_id, start=self.start, until=self.until
        )

    async def newcomers(self) -> Listed[str]:
        """The people welcomed in the period, in order (the first 50 named)."""
        start, until = self.start or EPOCH, self.until or self.now
        names = await onboarding.welcomed_between(
            self.session, self.workspace_id, start=start, end=until
        )
        total = (
            len(names)
            if len(names) < onboarding.NAMED
            else await onboarding.welcomed_count(
                self.session, self.workspace_id, start=start, end=until
            )
        )
        return Listed(names, total)


def _midnight_after(now: datetime) -> datetime:
    """Midnight UTC two days on: an upper bound past every win, on a day boundary (so the
    daily totals answer for the whole last day)."""
    return datetime.combine(
        now.astimezone(UTC).date() + timedelta(days=2), datetime.min.time(), tzinfo=UTC
    )
