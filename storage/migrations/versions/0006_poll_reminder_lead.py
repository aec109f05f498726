"""poll reminder lead: poll.remind_at

Each committee poll with a deadline now stores when its non-voters are reminded
(`remind_at` = `closes_at` less the poll's lead, `remind 2h`), instead of every poll using
FINOPS_POLL_REMINDER_HOURS at query time. Committee polls with a deadline that are not closed
yet get the default lead, 24 hours, computed here in Python because SQLite and PostgreSQL do
interval arithmetic differently. A deployment that had set another FINOPS_POLL_REMINDER_HOURS
gets 24 hours for the polls open at the upgrade; a reminder already sent is not sent again (the
run ledger remembers it). Other polls keep NULL: no reminder.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_LEAD = timedelta(hours=24)  # FINOPS_POLL_REMINDER_HOURS's default
poll = sa.table(
    "poll",
    sa.column("id", sa.Integer()),
    sa.column("committee", sa.Boolean()),
    sa.column("closes_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("remind_at", sqlmodel.sql.sqltypes.UTCDateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table("poll", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("remind_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    connection = op.get_bind()
    waiting = connection.execute(
        sa.select(poll.c.id, poll.c.closes_at).where(
            poll.c.committee.is_(True),
            poll.c.closed_at.is_(None),
            poll.c.closes_at.is_not(None),
        )
    ).all()
    for poll_id, closes_at in waiting:
        connection.execute(
            sa.update(poll).where(poll.c.id == poll_id).values(remind_at=closes_at - DEFAULT_LEAD)
        )


def downgrade() -> None:
    with op.batch_alter_table("poll", schema=None) as batch_op:
        batch_op.drop_column("remind_at")
