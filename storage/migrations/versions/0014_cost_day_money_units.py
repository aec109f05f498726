"""cost_day: each amount as whole units plus billionths, so large bills never overflow

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = ("billed", "effective", "list", "contracted", "negotiated", "commitment")
NANO = 1_000_000_000


def upgrade() -> None:
    with op.batch_alter_table("cost_day") as batch:
        for name in MEASURES:
            batch.add_column(
                sa.Column(f"{name}_units", sa.BigInteger(), nullable=False, server_default="0")
            )
    # Existing totals in billionths become units and the rest; both databases divide
    # integers toward zero and give the remainder the dividend's sign, as storage/money.py.
    # Every SET reads the row's old values.
    moves = ", ".join(
        f"{name}_units = {name}_nanos / {NANO}, {name}_nanos = {name}_nanos % {NANO}"
        for name in MEASURES
    )
    op.execute(f"UPDATE cost_day SET {moves}")


def downgrade() -> None:
    moves = ", ".join(f"{name}_nanos = {name}_units * {NANO} + {name}_nanos" for name in MEASURES)
    op.execute(f"UPDATE cost_day SET {moves}")
    with op.batch_alter_table("cost_day") as batch:
        for name in MEASURES:
            batch.drop_column(f"{name}_units")
