"""inbox: platform requests stored before they are acknowledged, and their answers

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("payload", sqlmodel.sql.sqltypes.AutoString(length=1000000), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("lease_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("platform", "key", name=op.f("uq_inbox_platform_key")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_lease_until"), ["lease_until"], unique=False)
    op.create_table(
        "inbox_answer",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("answer", sqlmodel.sql.sqltypes.AutoString(length=1000000), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_inbox_answer")),
    )
    with op.batch_alter_table("inbox_answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbox_answer_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_answer_created_at"))
    op.drop_table("inbox_answer")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_lease_until"))
    op.drop_table("inbox")
