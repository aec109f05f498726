"""one waiting update per subject (and home tab), kept by a unique partial index

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = "kind IN ('update', 'home') AND status = 'pending'"


def upgrade() -> None:
    # Duplicates queued before the index (a race between replicas could add two): the oldest
    # stays; it renders the state when it is sent, as the others would have.
    op.execute(
        f"DELETE FROM outbox WHERE {WAITING} AND id NOT IN "
        f"(SELECT min(id) FROM outbox WHERE {WAITING} GROUP BY workspace_id, conversation)"
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ux_outbox_one_waiting_update",
            ["workspace_id", "conversation"],
            unique=True,
            postgresql_where=sa.text(WAITING),
            sqlite_where=sa.text(WAITING),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ux_outbox_one_waiting_update")
