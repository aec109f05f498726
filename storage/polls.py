"""Polls, options and votes. Tallies are computed in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, func, insert, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Poll, PollOption, Vote, Workspace


async def create(session: AsyncSession, poll: Poll, labels: list[str]) -> Poll:
    session.add(poll)
    await session.flush()
    assert poll.id is not None  # the flush assigned it
    for position, label in enumerate(labels, start=1):
        session.add(PollOption(poll_id=poll.id, position=position, label=label))
    await session.flush()
    return poll


async def get(session: AsyncSession, workspace: int, poll_id: int, *, lock: bool = False):
    statement = select(Poll).where(Poll.workspace_id == workspace, Poll.id == poll_id)
    if lock:  # serialise concurrent votes on one poll (PostgreSQL; SQLite locks the file)
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


async def options(session: AsyncSession, poll_id: int) -> list[PollOption]:
    statement = (
        select(PollOption).where(PollOption.poll_id == poll_id).order_by(col(PollOption.position))
    )
    return list((await session.exec(statement)).all())


async def choices(session: AsyncSession, poll_id: int, voter: str) -> set[int]:
    statement = select(Vote.position).where(Vote.poll_id == poll_id, Vote.voter == voter)
    return set((await session.exec(statement)).all())


async def replace_choices(
    session: AsyncSession,
    poll_id: int,
    voter: str,
    *,
    positions: set[int],
    voter_name: str | None,
    anonymous: bool = False,
) -> None:
    if anonymous:
        await _rewrite_anonymous(session, poll_id, voter, positions=positions)
        return
    await session.exec(delete(Vote).where(col(Vote.poll_id) == poll_id, col(Vote.voter) == voter))
    for position in sorted(positions):
        session.add(Vote(poll_id=poll_id, voter=voter, position=position, voter_name=voter_name))
    await session.flush()


async def _rewrite_anonymous(
    session: AsyncSession, poll_id: int, voter: str, *, positions: set[int]
) -> None:
    """An anonymous vote rewrites every vote row of its poll, in the order of the voters'
    keyed hashes: all rows then carry this transaction's id (PostgreSQL `xmin`) and an
    insertion order (SQLite `rowid`, PostgreSQL `ctid`) that say nothing about who voted
    when, so no row can be matched to the transaction, or the moment, of one person's vote."""
    statement = select(Vote.voter, Vote.position).where(Vote.poll_id == poll_id)
    kept = {(v, p) for v, p in await session.exec(statement) if v != voter}
    rows = sorted(kept | {(voter, p) for p in positions})
    await session.exec(delete(Vote).where(col(Vote.poll_id) == poll_id))
    if rows:
        values = [{"poll_id": poll_id, "voter": v, "position": p} for v, p in rows]
        await session.exec(insert(Vote), params=values)


async def tally(session: AsyncSession, poll_id: int) -> dict[int, int]:
    statement = (
        select(Vote.position, func.count())
        .where(Vote.poll_id == poll_id)
        .group_by(col(Vote.position))
    )
    return {position: n for position, n in await session.exec(statement)}


async def voter_count(session: AsyncSession, poll_id: int) -> int:
    statement = select(func.count(func.distinct(Vote.voter))).where(Vote.poll_id == poll_id)
    return (await session.exec(statement)).one()


async def voters(session: AsyncSession, poll_id: int) -> set[str]:
    statement = select(Vote.voter).where(Vote.poll_id == poll_id).distinct()
    return set((await session.exec(statement)).all())


async def names_by_option(session: AsyncSession, poll_id: int) -> dict[int, list[str]]:
    """Who chose what; only ever called for polls that are not anonymous."""
    statement = (
        select(Vote.position, Vote.voter_name)
        .where(Vote.poll_id == poll_id, col(Vote.voter_name).is_not(None))
        .order_by(col(Vote.voter_name))
    )
    names: dict[int, list[str]] = {}
    for position, name in await session.exec(statement):
        assert name is not None  # the query keeps named votes only
        names.setdefault(position, []).append(name)
    return names


def _open(workspace: int, now: datetime):
    return (
        Poll.workspace_id == workspace,
        col(Poll.closed_at).is_(None),
        or_(col(Poll.closes_at).is_(None), col(Poll.closes_at) > now),
    )


async def open_polls(session: AsyncSession, workspace: int, now: datetime, *, limit: int = 20):
    statement = (
        select(Poll)
        .where(*_open(workspace, now))
        .order_by(col(Poll.closes_at).is_(None), col(Poll.closes_at), col(Poll.id))
        .limit(limit)
    )
    return list((await session.exec(statement)).all())


async def open_count(session: AsyncSession, workspace: int, now: datetime) -> int:
    statement = select(func.count()).select_from(Poll).where(*_open(workspace, now))
    return (await session.exec(statement)).one()


async def deadline_polls(session: AsyncSession, now: datetime) -> list[tuple[Poll, Workspace]]:
    """Polls not closed yet whose deadline has passed, or whose reminder (`remind_at`, set on
    committee polls only) is due: the scheduler closes the first and reminds for the second."""
    statement = (
        select(Poll, Workspace)
        .join(Workspace, col(Workspace.id) == Poll.workspace_id)
        .where(
            col(Poll.closed_at).is_(None),
            col(Poll.closes_at).is_not(None),
            or_(col(Poll.closes_at) <= now, col(Poll.remind_at) <= now),
        )
        .order_by(col(Poll.closes_at))
        .limit(200)
    )
    return list((await session.exec(statement)).all())


async def latest(session: AsyncSession, workspace: int, limit: int = 6) -> list[Poll]:
    """The newest polls, open or closed."""
    statement = (
        select(Poll)
        .where(Poll.workspace_id == workspace)
        .order_by(col(Poll.id).desc())
        .limit(limit)
    )
    return list((await session.exec(statement)).all())


async def latest_closed(
    session: AsyncSession, workspace: int, now: datetime, *, limit: int = 4
) -> list[Poll]:
    """The newest polls that are no longer open (closed, or past their deadline)."""
    statement = (
        select(Poll)
        .where(
            Poll.workspace_id == workspace,
            or_(
                col(Poll.closed_at).is_not(None),
                and_(col(Poll.closes_at).is_not(None), col(Poll.closes_at) <= now),
            ),
        )
        .order_by(col(Poll.id).desc())
        .limit(limit)
    )
    return list((await session.exec(statement)).all())


async def after(session: AsyncSession, workspace: int, after_id: int, *, limit: int = 200):
    """Polls with an id above `after_id`, oldest first (the CSV export pages through them)."""
    statement = (
        select(Poll)
        .where(Poll.workspace_id == workspace, col(Poll.id) > after_id)
        .order_by(col(Poll.id))
        .limit(limit)
    )
    return list((await session.exec(statement)).all())


async def results(
    session: AsyncSession, poll_ids: list[int]
) -> tuple[dict[int, list[PollOption]], dict[tuple[int, int], int], dict[int, int]]:
    """For several polls at once: their options, the votes per (poll, option) and the
    number of distinct voters per poll. Three grouped queries, whatever the number of polls."""
    if not poll_ids:
        return {}, {}, {}
    options: dict[int, list[PollOption]] = {}
    statement = (
        select(PollOption)
        .where(col(PollOption.poll_id).in_(poll_ids))
        .order_by(col(PollOption.poll_id), col(PollOption.position))
    )
    for option in await session.exec(statement):
        options.setdefault(option.poll_id, []).append(option)
    counts = select(Vote.poll_id, Vote.position, func.count()).where(
        col(Vote.poll_id).in_(poll_ids)
    )
    tallies = {
        (poll_id, position): n
        for poll_id, position, n in await session.exec(
            counts.group_by(col(Vote.poll_id), col(Vote.position))
        )
    }
    people = (
        select(Vote.poll_id, func.count(func.distinct(Vote.voter)))
        .where(col(Vote.poll_id).in_(poll_ids))
        .group_by(col(Vote.poll_id))
    )
    voters = {poll_id: n for poll_id, n in await session.exec(people)}
    return options, tallies, voters


async def names_for(session: AsyncSession, poll_ids: list[int]) -> dict[tuple[int, int], list[str]]:
    """Who chose what in several polls: only ever called with polls that are not anonymous
    (anonymous votes carry no name anyway)."""
    if not poll_ids:
        return {}
    statement = (
        select(Vote.poll_id, Vote.position, Vote.voter_name)
        .where(col(Vote.poll_id).in_(poll_ids), col(Vote.voter_name).is_not(None))
        .order_by(col(Vote.voter_name))
    )
    names: dict[tuple[int, int], list[str]] = {}
    for poll_id, position, name in await session.exec(statement):
        assert name is not None  # the query keeps named votes only
        names.setdefault((poll_id, position), []).append(name)
    return names
