"""cost_day: the whole BillingCurrency (USDC is not USD); billing_period, the replacement key

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cost_day") as batch:  # SQLite rebuilds the table
        batch.alter_column(
            "currency",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=3),
            type_=sqlmodel.sql.sqltypes.AutoString(length=30),
            existing_nullable=False,
        )
        batch.add_column(sa.Column("billing_period", sa.Date(), nullable=True))
    # Existing rows: the month of their charge, as an export without BillingPeriodStart.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE cost_day SET billing_period = date_trunc('month', day)::date")
    else:
        op.execute("UPDATE cost_day SET billing_period = date(day, 'start of month')")
    with op.batch_alter_table("cost_day") as batch:
        batch.alter_column("billing_period", existing_type=sa.Date(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("cost_day") as batch:
        batch.drop_column("billing_period")
        batch.alter_column(
            "currency",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=30),
            type_=sqlmodel.sql.sqltypes.AutoString(length=3),
            existing_nullable=False,
        )
