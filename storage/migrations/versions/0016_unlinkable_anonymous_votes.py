"""Anonymous votes cast before this revision made unlinkable: their rows rewritten in hash
order, raw de-duplication keys (which name Teams conversations) and delivered poll reminders
forgotten. Data only; the schema is unchanged.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every anonymous poll's vote rows, written again in one transaction in the order of
    # their keyed hashes: one xmin for all, and a rowid / ctid order that follows the hashes,
    # not the order people voted in.
    op.execute(
        "CREATE TEMPORARY TABLE anonymous_vote AS SELECT vote.poll_id, vote.voter, vote.position "
        "FROM vote JOIN poll ON poll.id = vote.poll_id WHERE poll.anonymous"
    )
    op.execute("DELETE FROM vote WHERE poll_id IN (SELECT id FROM poll WHERE poll.anonymous)")
    op.execute(
        "INSERT INTO vote (poll_id, voter, position, voter_name) "
        "SELECT poll_id, voter, position, NULL FROM anonymous_vote "
        "ORDER BY poll_id, voter, position"
    )
    op.execute("DROP TABLE anonymous_vote")
    # De-duplication keys are now stored as keyed hashes; the old raw ones (a Teams message's
    # conversation and id, written with its vote) only matter for minutes. Once-ever keys stay.
    op.execute("DELETE FROM inbound_event WHERE event_id NOT LIKE 'intro:%'")
    # Delivered poll reminders: their recipients are the members who had not voted.
    op.execute(
        "DELETE FROM outbox WHERE kind = 'dm' AND status IN ('sent', 'dead') "
        "AND payload LIKE '%Your vote is missing%'"
    )


def downgrade() -> None:
    """Nothing to undo: the rows hold the same votes, and forgotten rows stay forgotten."""
