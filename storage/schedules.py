"""Schedules (the source of truth for recurring posts) and the run ledger (exactly once)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Schedule, ScheduleRun, Workspace
from storage.upsert import insert_ignore, insert_or_update


async def save(
    session: AsyncSession,
    workspace: int,
    kind: str,
    *,
    weekday: int,
    at: str,
    timezone: str,
    enabled: bool,
    by: str,
    now: datetime,
    cadence: str = "weekly",
    anchor: date | None = None,
) -> None:
    await insert_or_update(
        session,
        Schedule,
        ("workspace_id", "kind"),
        workspace_id=workspace,
        kind=kind,
        weekday=weekday,
        at=at,
        timezone=timezone,
        enabled=enabled,
        cadence=cadence,
        anchor=anchor,
        updated_by=by,
        updated_at=now,
    )


async def find(session: AsyncSession, workspace: int, kind: str) -> Schedule | None:
    statement = (
        select(Schedule)
        .where(Schedule.workspace_id == workspace, Schedule.kind == kind)
        .execution_options(populate_existing=True)  # an upsert may just have changed it
    )
    return (await session.exec(statement)).first()


async def all_with_workspaces(
    session: AsyncSession, *, enabled_only: bool = False
) -> list[tuple[Schedule, Workspace]]:
    statement = select(Schedule, Workspace).join(
        Workspace, col(Workspace.id) == Schedule.workspace_id
    )
    if enabled_only:
        statement = statement.where(col(Schedule.enabled).is_(True))
    return list((await session.exec(statement.order_by(col(Schedule.id)))).all())


async def claim(
    session: AsyncSession,
    job: str,
    period: str,
    *,
    owner: str,
    now: datetime,
    outcome: str = "done",
) -> bool:
    """Claim (job, period) inside the transaction that does the work: the first claimant
    wins; a concurrent one waits for it (PostgreSQL's unique index, SQLite's write lock) and
    then sees the row. If the work fails or its replica dies, the claim rolls back with it.
    `outcome="skipped"` marks a missed period, so it is neither run nor logged again."""
    return await insert_ignore(
        session,
        ScheduleRun,
        job=job,
        period=period,
        owner=owner,
        outcome=outcome,
        finished_at=now,
    )


async def ran_at(
    session: AsyncSession, job: str, period: str, *, any_outcome: bool = False
) -> datetime | None:
    """When (job, period) ran; with `any_outcome`, also when it was marked skipped."""
    statement = select(ScheduleRun.finished_at).where(
        ScheduleRun.job == job, ScheduleRun.period == period
    )
    if not any_outcome:
        statement = statement.where(ScheduleRun.outcome == "done")
    return (await session.exec(statement)).first()
