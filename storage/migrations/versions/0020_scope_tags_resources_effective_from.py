"""scopes on tags and resources; a win's effective-from day

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cost_detail_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("billing_account", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("billing_period", sa.Date(), nullable=False),
        sa.Column("sub_account", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("service_category", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("service", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("consumed_unit", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("effective_units", sa.BigInteger(), nullable=False),
        sa.Column("effective_nanos", sa.BigInteger(), nullable=False),
        sa.Column("consumed_units", sa.BigInteger(), nullable=False),
        sa.Column("consumed_nanos", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_cost_detail_day_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_detail_day")),
    )
    with op.batch_alter_table("cost_detail_day", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cost_detail_day_kind_key_value_day"),
            ["kind", "key", "value", "day"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_cost_detail_day_provider_billing_account_billing_period"),
            ["provider", "billing_account", "billing_period"],
            unique=False,
        )

    with op.batch_alter_table("win", schema=None) as batch_op:
        batch_op.add_column(sa.Column("effective_from", sa.Date(), nullable=True))

    with op.batch_alter_table("win_scope", schema=None) as batch_op:
        batch_op.alter_column(
            "value",
            existing_type=sa.VARCHAR(length=200),
            type_=sqlmodel.sql.sqltypes.AutoString(length=500),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("win_scope", schema=None) as batch_op:
        batch_op.alter_column(
            "value",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=500),
            type_=sa.VARCHAR(length=200),
            existing_nullable=False,
        )

    with op.batch_alter_table("win", schema=None) as batch_op:
        batch_op.drop_column("effective_from")

    with op.batch_alter_table("cost_detail_day", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_cost_detail_day_provider_billing_account_billing_period")
        )
        batch_op.drop_index(batch_op.f("ix_cost_detail_day_kind_key_value_day"))

    op.drop_table("cost_detail_day")
