"""Metrics people record by hand (`metric coverage 72%`), read back as short series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import groupby

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Metric
from storage.typed import select_columns


@dataclass(frozen=True, slots=True)
class MetricSeries:
    name: str
    unit: str  # the latest value's unit: "%", a word, or ""
    values: tuple[Decimal, ...]  # oldest -> newest, at most the points asked for
    latest_at: datetime

    @property
    def latest(self) -> Decimal:
        return self.values[-1]

    @property
    def change(self) -> Decimal | None:
        """Latest minus previous; None when there is only one value."""
        return self.values[-1] - self.values[-2] if len(self.values) > 1 else None


async def latest(session: AsyncSession, workspace: int, name: str) -> Metric | None:
    """The most recent value of one metric (ties on time broken by insertion order)."""
    statement = (
        select(Metric)
        .where(Metric.workspace_id == workspace, Metric.name == name)
        .order_by(col(Metric.recorded_at).desc(), col(Metric.id).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def record(session: AsyncSession, metric: Metric) -> Metric:
    session.add(metric)
    await session.flush()
    return metric


async def record_or_correct(
    session: AsyncSession, earlier_id: int | None, metric: Metric
) -> Metric:
    """Record `metric`, or, when `earlier_id` names the value the same answer recorded
    before, correct that one in place (a changed check-in answer is not a new reading)."""
    earlier = await session.get(Metric, earlier_id) if earlier_id is not None else None
    if earlier is None or earlier.workspace_id != metric.workspace_id:
        return await record(session, metric)
    earlier.name, earlier.value, earlier.unit = metric.name, metric.value, metric.unit
    session.add(earlier)
    await session.flush()
    return earlier


async def latest_series(
    session: AsyncSession,
    workspace_id: int,
    points: int = 8,
    *,
    name: str | None = None,
    before: datetime | None = None,
) -> list[MetricSeries]:
    """The last `points` values of every metric (or of `name`) recorded before `before` (when
    given), sorted by metric name.

    A window function numbers each metric's rows newest first, so only `points` rows per metric
    leave the database (SQLite >= 3.25 and PostgreSQL both have row_number()).
    """
    recency = (
        func.row_number()
        .over(
            partition_by=col(Metric.name),
            order_by=(col(Metric.recorded_at).desc(), col(Metric.id).desc()),
        )
        .label("recency")  # 1 = newest
    )
    ranked = select_columns(
        Metric.name, Metric.unit, Metric.value, Metric.recorded_at, recency
    ).where(Metric.workspace_id == workspace_id)
    if name is not None:
        ranked = ranked.where(Metric.name == name)
    if before is not None:
        ranked = ranked.where(col(Metric.recorded_at) < before)
    sub = ranked.subquery()
    statement = (
        select(sub.c.name, sub.c.unit, sub.c.value, sub.c.recorded_at)
        .where(sub.c.recency <= max(points, 1))
        .order_by(sub.c.name, sub.c.recency.desc())
    )
    rows = (await session.exec(statement)).all()
    series = []
    for metric_name, group in groupby(rows, key=lambda row: row[0]):
        group_rows = list(group)  # (name, unit, value, recorded_at), oldest -> newest
        _, unit, _, recorded_at = group_rows[-1]
        values = tuple(value for _, _, value, _ in group_rows)
        series.append(MetricSeries(metric_name, unit, values, recorded_at))
    return series
