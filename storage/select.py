"""`select` for more columns than sqlmodel's typed overloads take (four).

sqlmodel's own `select(*entities)` builds exactly this `Select` for two or more entities; only
its type hints stop at four, so a wider statement would not type-check. The rows come back as
plain tuples of `Any`, as they would from SQLAlchemy for so many columns.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.sql.expression import Select


def select_columns(*entities: Any) -> Select[*tuple[Any, ...]]:
    """`select(a, b, c, d, e, ...)` for five or more columns or expressions."""
    return Select(*entities)
