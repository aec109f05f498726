"""check-in metric unit

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The unit a bare number answer is in: a form's number field carries no unit.
    with op.batch_alter_table("checkin_question", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("metric_unit", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("checkin_question", schema=None) as batch_op:
        batch_op.drop_column("metric_unit")
