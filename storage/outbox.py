"""The outbox: rows written with the change that causes them, claimed and settled by workers.

Claiming is safe across replicas: on PostgreSQL with `FOR UPDATE SKIP LOCKED` (replicas never
wait on each other's rows); on SQLite the transaction already holds the write lock (BEGIN
IMMEDIATE). A conversation is handed to one sender at a time, oldest row first, and not again
until its pacing interval has passed since the last send, whichever replica sent it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, delete, exists, func, or_, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from storage.models import OutboxMessage, Workspace
from storage.upsert import insert_statement

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
STATUSES = (PENDING, SENDING, SENT, DEAD)


@dataclass(frozen=True, slots=True)
class Claimed:
    row: OutboxMessage
    platform: str
    workspace: str  # the platform's id for the workspace (Slack team, Teams tenant)


@dataclass(frozen=True, slots=True)
class Queued:
    """A message to queue: its kind (post | dm | update), pacing key, payload and subject."""

    kind: str
    conversation: str
    payload: str = ""
    subject: str = ""


async def add(session: AsyncSession, workspace: int, rows: list[Queued], *, now: datetime) -> None:
    """Queue `rows` in one INSERT (a scheduled run may queue hundreds). An update of a subject
    (or a home tab) that already has one waiting is not added: the waiting one renders the
    state when it is sent (the unique index `ux_outbox_one_waiting_update`)."""
    if not rows:
        return
    template = _defaults()
    values = [
        {
            **template,
            "workspace_id": workspace,
            "kind": row.kind,
            "conversation": row.conversation[:300],
            "subject": row.subject,
            "payload": row.payload,
            "not_before": now,
            "created_at": now,
        }
        for row in rows
    ]
    await (await session.connection()).execute(
        insert_statement(session, OutboxMessage).on_conflict_do_nothing(), values
    )


@functools.cache
def _defaults() -> dict[str, Any]:
    """An outbox row's column defaults, from the model (read once)."""
    blank = OutboxMessage(workspace_id=0, kind="", conversation="")
    return blank.model_dump(exclude={"id"})


async def add_home(
    session: AsyncSession, workspace: int, user_id: str, *, payload: str, now: datetime
) -> bool:
    """Ask for a person's home tab to be published, unless a request is already waiting (it
    renders the tab as it is when sent). False when one was waiting."""
    conversation = f"home:{user_id}"
    if await _waiting(session, workspace, conversation):
        return False
    await add(session, workspace, [Queued("home", conversation, payload, "home")], now=now)
    return True


async def _waiting(session: AsyncSession, workspace: int, conversation: str) -> bool:
    """Is a row for `conversation` still pending (it renders the state when it is sent)?"""
    waiting = select(OutboxMessage.id).where(
        OutboxMessage.workspace_id == workspace,
        OutboxMessage.conversation == conversation,
        OutboxMessage.status == PENDING,
    )
    return (await session.exec(waiting.limit(1))).first() is not None


async def claim(
    session: AsyncSession,
    platform: str,
    now: datetime,
    *,
    owner: str,
    lease: timedelta,
    interval: timedelta,
    limit: int,
    workspace: str | None = None,
) -> list[Claimed]:
    """Up to `limit` rows of `platform` that are due, at most one per conversation, each the
    oldest unsent row of its conversation, none in a conversation that is being sent to or was
    sent to less than `interval` ago. Rows whose sender's lease ran out are taken over and
    marked uncertain. Commit right after, before sending."""
    statement = _claiming(
        postgresql=session.bind.dialect.name == "postgresql", one_workspace=workspace is not None
    )
    params = {"platform": platform, "now": now, "recent": now - interval, "limit": limit}
    if workspace is not None:
        params["workspace"] = workspace
    found = list((await session.exec(statement, params=params)).all())
    claimed = []
    for row, external_id in found:
        row.uncertain = row.uncertain or row.status == SENDING  # its sender died mid-send
        row.status, row.claimed_by = SENDING, owner
        row.lease_until = now + lease
        row.attempts += 1
        session.add(row)
        claimed.append(Claimed(row, platform, external_id))
    await session.flush()
    return claimed


@functools.cache
def _claiming(*, postgresql: bool, one_workspace: bool) -> Select[OutboxMessage, str]:
    """The claim's SELECT, built once (its values are bound at each call): building it, with
    an aliased table and a correlated EXISTS, cost more CPU than running it (about 4 ms a
    claim, and the outbox worker claims after every transaction that queues a message)."""
    # Typed by the columns they are compared with.
    now: BindParameter[Any] = bindparam("now")
    recent: BindParameter[Any] = bindparam("recent")
    other = aliased(OutboxMessage)
    busy = exists().where(
        col(other.workspace_id) == OutboxMessage.workspace_id,
        col(other.conversation) == OutboxMessage.conversation,
        col(other.id) != OutboxMessage.id,
        or_(
            and_(col(other.status).in_([PENDING, SENDING]), col(other.id) < OutboxMessage.id),
            and_(col(other.status) == SENDING, col(other.lease_until) > now),
            and_(col(other.status) == SENT, col(other.sent_at) > recent),
        ),
    )
    due = or_(
        and_(col(OutboxMessage.status) == PENDING, col(OutboxMessage.not_before) <= now),
        and_(col(OutboxMessage.status) == SENDING, col(OutboxMessage.lease_until) <= now),
    )
    statement = (
        select(OutboxMessage, Workspace.external_id)
        .join(Workspace, col(Workspace.id) == OutboxMessage.workspace_id)
        .where(Workspace.platform == bindparam("platform"), due, ~busy)
        .order_by(col(OutboxMessage.id))
        .limit(bindparam("limit", type_=Integer))
    )
    if one_workspace:
        statement = statement.where(Workspace.external_id == bindparam("workspace"))
    if postgresql:
        statement = statement.with_for_update(skip_locked=True, of=OutboxMessage)
    return statement


async def settle(
    session: AsyncSession,
    row_id: int,
    owner: str,
    *,
    status: str,
    now: datetime,
    message_id: str = "",
    error: str = "",
    retry_at: datetime | None = None,
    uncertain: bool = False,
    count_attempt: bool = True,
    forget: bool = False,
) -> bool:
    """Record how a send ended; only the replica that holds the claim may (False otherwise).
    `forget`: a row that is delivered or dead is deleted instead (its recipient is a secret)."""
    if forget and status in (SENT, DEAD):
        gone = delete(OutboxMessage).where(
            col(OutboxMessage.id) == row_id,
            col(OutboxMessage.claimed_by) == owner,
            col(OutboxMessage.status) == SENDING,
        )
        return (await session.exec(gone)).rowcount == 1
    values: dict = {"status": status, "last_error": error[:500], "claimed_by": ""}
    if status == SENT:
        values |= {"sent_at": now, "message_id": message_id[:100], "uncertain": False}
    if retry_at is not None:
        values |= {"not_before": retry_at, "uncertain": uncertain, "lease_until": None}
    if not count_attempt:
        values["attempts"] = col(OutboxMessage.attempts) - 1
    statement = (
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == row_id,
            col(OutboxMessage.claimed_by) == owner,
            col(OutboxMessage.status) == SENDING,
        )
        .values(**values)
    )
    result = await session.exec(statement)
    return result.rowcount == 1


async def listing(
    session: AsyncSession, status: str | None = None, limit: int = 100
) -> list[tuple[OutboxMessage, Workspace]]:
    statement = select(OutboxMessage, Workspace).join(
        Workspace, col(Workspace.id) == OutboxMessage.workspace_id
    )
    if status is not None:
        statement = statement.where(OutboxMessage.status == status)
    statement = statement.order_by(col(OutboxMessage.id).desc()).limit(limit)
    return list((await session.exec(statement)).all())


async def counts(session: AsyncSession) -> dict[str, int]:
    statement = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    return {status: n for status, n in (await session.exec(statement)).all()}


async def retry_dead(session: AsyncSession, ids: list[int] | None, now: datetime) -> int:
    """Put dead rows (all, or those in `ids`) back in line with a fresh attempt budget."""
    statement = update(OutboxMessage).where(col(OutboxMessage.status) == DEAD)
    if ids is not None:
        statement = statement.where(col(OutboxMessage.id).in_(ids))
    statement = statement.values(status=PENDING, attempts=0, not_before=now, last_error="")
    result = await session.exec(statement)
    return result.rowcount


async def unsettled(session: AsyncSession, platform: str, workspace: str) -> int:
    """How many rows of one workspace are still waiting or being sent."""
    statement = (
        select(func.count())
        .select_from(OutboxMessage)
        .join(Workspace, col(Workspace.id) == OutboxMessage.workspace_id)
        .where(
            Workspace.platform == platform,
            Workspace.external_id == workspace,
            col(OutboxMessage.status).in_([PENDING, SENDING]),
        )
    )
    return (await session.exec(statement)).one()


async def prune_sent(session: AsyncSession, before: datetime) -> int:
    """Forget delivered rows older than `before` (dead ones stay until someone looks)."""
    statement = delete(OutboxMessage).where(
        col(OutboxMessage.status) == SENT, col(OutboxMessage.sent_at) < before
    )
    result = await session.exec(statement)
    return result.rowcount
