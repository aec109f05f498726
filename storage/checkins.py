"""Check-in questions and members' answers per meeting."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import CheckinAnswer, CheckinQuestion
from storage.upsert import insert_or_update


async def ask(
    session: AsyncSession,
    workspace: int,
    text: str,
    *,
    metric: str | None,
    by: str,
    now: datetime,
    owner: tuple[str, str] | None = None,
    unit: str | None = None,
) -> CheckinQuestion:
    """A new question; `owner` (user id, name) is the member whose answer is the metric's,
    `unit` the unit a bare number answer (a form's number field) is in."""
    question = CheckinQuestion(
        workspace_id=workspace,
        text=text,
        metric=metric,
        metric_owner=owner[0] if owner else None,
        metric_owner_name=owner[1] if owner else None,
        metric_unit=unit,
        created_by=by,
        created_at=now,
    )
    session.add(question)
    await session.flush()
    return question


async def set_owner(
    session: AsyncSession, question: CheckinQuestion, owner: tuple[str, str]
) -> None:
    question.metric_owner, question.metric_owner_name = owner
    session.add(question)
    await session.flush()


async def questions(session: AsyncSession, workspace: int) -> list[CheckinQuestion]:
    """The questions in use, oldest first."""
    statement = (
        select(CheckinQuestion)
        .where(CheckinQuestion.workspace_id == workspace, col(CheckinQuestion.removed_at).is_(None))
        .order_by(col(CheckinQuestion.id))
    )
    return list((await session.exec(statement)).all())


async def remove(session: AsyncSession, workspace: int, question_id: int, *, now: datetime) -> bool:
    statement = (
        update(CheckinQuestion)
        .where(
            col(CheckinQuestion.id) == question_id,
            col(CheckinQuestion.workspace_id) == workspace,
            col(CheckinQuestion.removed_at).is_(None),
        )
        .values(removed_at=now)
    )
    result = await session.exec(statement)
    return result.rowcount == 1


async def answer(
    session: AsyncSession,
    question_id: int,
    meeting: str,
    *,
    user_id: str,
    user_name: str,
    text: str,
    now: datetime,
    metric_id: int | None = None,
) -> None:
    await insert_or_update(
        session,
        CheckinAnswer,
        ("question_id", "meeting", "user_id"),
        question_id=question_id,
        meeting=meeting,
        user_id=user_id,
        user_name=user_name,
        answer=text,
        answered_at=now,
        metric_id=metric_id,
    )


async def answer_of(
    session: AsyncSession, question_id: int, meeting: str, *, user_id: str
) -> CheckinAnswer | None:
    statement = select(CheckinAnswer).where(
        CheckinAnswer.question_id == question_id,
        CheckinAnswer.meeting == meeting,
        CheckinAnswer.user_id == user_id,
    )
    return (await session.exec(statement)).first()


async def answers(
    session: AsyncSession, question_ids: list[int], meeting: str
) -> list[CheckinAnswer]:
    if not question_ids:
        return []
    statement = (
        select(CheckinAnswer)
        .where(col(CheckinAnswer.question_id).in_(question_ids), CheckinAnswer.meeting == meeting)
        .order_by(col(CheckinAnswer.question_id), col(CheckinAnswer.user_name))
    )
    return list((await session.exec(statement)).all())
