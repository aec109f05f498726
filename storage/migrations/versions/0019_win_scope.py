"""win scope: what part of the bill a win touched

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "win_scope",
        sa.Column("win_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["win_id"], ["win.id"], name=op.f("fk_win_scope_win_id_win"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("win_id", "dimension", "value", name=op.f("pk_win_scope")),
    )


def downgrade() -> None:

    op.drop_table("win_scope")
