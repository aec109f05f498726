"""verified savings: win scopes and checks

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
        "win_check",
        sa.Column("win_id", sa.Integer(), nullable=False),
        sa.Column("checkpoint", sa.Integer(), nullable=False),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("baseline_days", sa.Integer(), nullable=False),
        sa.Column("baseline_daily", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("after_daily", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("realised_monthly", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("band", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("checked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["win_id"], ["win.id"], name=op.f("fk_win_check_win_id_win"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("win_id", "checkpoint", name=op.f("pk_win_check")),
    )
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
    op.drop_table("win_check")
