"""Small helpers shared by the test modules."""

from __future__ import annotations

import re

from sqlalchemy import func
from sqlmodel import SQLModel, select

from storage.engine import Database
from storage.models import Workspace


def number(pattern: str, text: str) -> int:
    """The first integer captured by `pattern` in `text` (e.g. a poll or win id)."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in:\n{text}"
    return int(match[1])


async def rows(database: Database, model: type[SQLModel], workspace: str) -> int:
    """How many rows of a workspace-scoped table belong to `workspace`."""
    async with database.session() as session:
        statement = (
            select(func.count())
            .select_from(model)
            .join(Workspace, Workspace.id == model.workspace_id)  # type: ignore[attr-defined]
            .where(Workspace.external_id == workspace)
        )
        return (await session.exec(statement)).one()
