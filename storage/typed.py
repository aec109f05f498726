"""Typed ways to what sqlmodel builds but leaves untyped, so callers need no `type: ignore`.

`select_columns`: sqlmodel's own `select(*entities)` builds exactly this `Select` for two or
more entities; only its type hints stop at four, so a wider statement would not type-check.
The rows come back as plain tuples of `Any`, as they would from SQLAlchemy for so many columns.

`table_of`: the `Table` a table model is mapped to (SQLModel's metaclass sets `__table__`
without declaring it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlmodel import SQLModel
from sqlmodel.sql.expression import Select


def select_columns(*entities: Any) -> Select[*tuple[Any, ...]]:
    """`select(a, b, c, d, e, ...)` for five or more columns or expressions."""
    return Select(*entities)


def table_of(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]  # set by the metaclass, undeclared
    assert isinstance(table, Table)
    return table
