"""check-in metric owner

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Without an owner a metric question records no value (earlier questions included): two
    # members' answers would otherwise make a trend that only alternates between them.
    with op.batch_alter_table("checkin_question", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("metric_owner", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "metric_owner_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("checkin_question", schema=None) as batch_op:
        batch_op.drop_column("metric_owner_name")
        batch_op.drop_column("metric_owner")
