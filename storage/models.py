"""SQLModel tables. Times are aware UTC; money is integer minor units (cents) or Decimal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _workspace_fk() -> Column:
    return Column(ForeignKey("workspace.id", ondelete="CASCADE"), nullable=False)


class Workspace(SQLModel, table=True):
    """A Slack team, a Teams tenant, or the local console."""

    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    external_id: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class Setting(SQLModel, table=True):
    """`config <key> <value>`, per workspace."""

    workspace_id: int = Field(foreign_key="workspace.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=2000)


class Win(SQLModel, table=True):
    __table_args__ = (
        Index(None, "workspace_id", "created_at"),
        Index(None, "workspace_id", "author_id", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=_workspace_fk())
    author_id: str = Field(max_length=100)
    author_name: str = Field(max_length=200)
    text: str = Field(max_length=500)
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    recurrence: str = Field(max_length=10)  # one-time | monthly | annual
    annualised_minor: int = Field(sa_type=BigInteger)
    avoidance: bool = False  # cost avoidance: reported apart, never added into savings
    conversation_id: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    undone_at: datetime | None = None
    undone_by: str | None = Field(default=None, max_length=100)
    # The day the change took effect, when its scope gives one (`win scope 12 … from
    # 2026-11-02`): the checks against the bill are anchored there rather than on created_at.
    effective_from: date | None = None


class WinDay(SQLModel, table=True):
    """Live wins per UTC day, currency and kind (saving or cost avoidance), kept in the
    transaction that logs or undoes a win (storage/wins.py). The dashboard's chart and long
    periods read these few rows instead of every win."""

    __tablename__ = "win_day"
    workspace_id: int = Field(foreign_key="workspace.id", primary_key=True, ondelete="CASCADE")
    day: date = Field(primary_key=True)  # the UTC date of created_at
    currency: str = Field(primary_key=True, max_length=3)
    avoidance: bool = Field(primary_key=True)
    wins: int = 0
    annualised_minor: int = Field(default=0, sa_type=BigInteger)


class WinTag(SQLModel, table=True):
    """A category of a win: a capability slug (capability=True) or a free tag."""

    __tablename__ = "win_tag"
    __table_args__ = (Index(None, "tag"),)
    win_id: int = Field(foreign_key="win.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(primary_key=True, max_length=60)
    capability: bool = False


class WinCredit(SQLModel, table=True):
    """A person credited with a win; the author always is."""

    __tablename__ = "win_credit"
    __table_args__ = (Index(None, "user_id"),)
    win_id: int = Field(foreign_key="win.id", primary_key=True, ondelete="CASCADE")
    user_id: str = Field(primary_key=True, max_length=100)
    user_name: str = Field(max_length=200)


class WinScope(SQLModel, table=True):
    """What part of the bill a win touched (bot/parsing/scope.py): one row per term. Terms of
    different dimensions all apply; values of one dimension are alternatives."""

    __tablename__ = "win_scope"
    win_id: int = Field(foreign_key="win.id", primary_key=True, ondelete="CASCADE")
    dimension: str = Field(primary_key=True, max_length=20)
    value: str = Field(primary_key=True, max_length=500)  # a tag's `key=value`, a resource id


class WinCheck(SQLModel, table=True):
    """A win checked against the bill at a checkpoint (30, 60 or 90 days after it; the method
    is bot/costs/verify.py). Written once per (win, checkpoint): the insert that wins a race
    between replicas is the one that updates the celebration and sends the DMs. Amounts are
    decimal text in the currency's major units, exact at any size."""

    __tablename__ = "win_check"
    win_id: int = Field(foreign_key="win.id", primary_key=True, ondelete="CASCADE")
    checkpoint: int = Field(primary_key=True)
    verdict: str = Field(max_length=20)  # seen | not seen | no baseline
    currency: str = Field(max_length=30)
    baseline_days: int
    baseline_daily: str = Field(max_length=60)
    after_daily: str = Field(max_length=60)
    realised_monthly: str = Field(max_length=60)
    band: str = Field(max_length=60)
    checked_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """Who changed what: undone wins, closed polls, configuration, committee, links."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index(None, "workspace_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=_workspace_fk())
    actor_id: str = Field(max_length=100)
    action: str = Field(max_length=40)
    subject: str = Field(max_length=100)
    detail: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)


class Poll(SQLModel, table=True):
    __table_args__ = (Index(None, "workspace_id", "closed_at", "closes_at"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=_workspace_fk())
    creator_id: str = Field(max_length=100)
    creator_name: str = Field(max_length=200)
    question: str = Field(max_length=300)
    anonymous: bool = False
    multi: bool = False
    committee: bool = False
    conversation_id: str = Field(default="", max_length=100)
    conversation_name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    closes_at: datetime | None = None
    closed_at: datetime | None = None
    # When committee members who have not voted are reminded: closes_at less the poll's lead
    # (`remind 2h`, default FINOPS_POLL_REMINDER_HOURS). None: no reminder (`remind off`, no
    # deadline, or not a committee poll).
    remind_at: datetime | None = None


class PollOption(SQLModel, table=True):
    __tablename__ = "poll_option"
    poll_id: int = Field(foreign_key="poll.id", primary_key=True, ondelete="CASCADE")
    position: int = Field(primary_key=True)  # 1-based, as people type it in `vote 12 2`
    label: str = Field(max_length=75)


class Vote(SQLModel, table=True):
    """One row per (poll, voter, chosen option).

    `voter` is the user id, or for anonymous polls a keyed hash of it: still one vote per
    person and changeable, but the row cannot be traced back without the key. No timestamp is
    kept, so rows cannot be matched to chat activity either.
    """

    poll_id: int = Field(foreign_key="poll.id", primary_key=True, ondelete="CASCADE")
    voter: str = Field(primary_key=True, max_length=100)
    position: int = Field(primary_key=True)
    voter_name: str | None = Field(default=None, max_length=200)  # None on anonymous polls


class Metric(SQLModel, table=True):
    __table_args__ = (Index(None, "workspace_id", "name", "recorded_at"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=_workspace_fk())
    name: str = Field(max_length=50)
    value: Decimal = Field(sa_column=Column(Numeric(24, 6), nullable=False))
    unit: str = Field(default="", max_length=20)
    recorded_by: str = Field(max_length=100)
    recorded_at: datetime = Field(default_factory=utcnow)


class LearnLink(SQLModel, table=True):
    __tablename__ = "learn_link"
    __table_args__ = (UniqueConstraint("workspace_id", "topic", "url"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=_workspace_fk())
    topic: str = Field(max_length=60)
    url: str = Field(max_length=500)
    title: str = Field(max_length=200)
    added_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class CommitteeMember(SQLModel, table=True):
    __tablename__ = "committee_member"
    workspace_id: int = Field(foreign_key="workspace.id", primary_key=True, ondelete="CASCADE")
    user_id: str = Field(primary_key=True, max_length=100)
    user_name: str = Field(max_length=200)
    persona: str = Field(max_length=30)
    added_at: datetime = Field(default_factory=utcnow)


class InboundEvent(SQLModel, table=True):
    """Platform event ids already handled: retries, even on another replica, are recognised."""

    __tablename__ = "inbound_event"
    platform: str = Field(primary_key=True, max_length=20)
    event_id: str = Field(primary_key=True, max_length=100)
    received_at: datetime = Field(default_factory=utcnow, index=True)


class InboxItem(SQLModel, table=True):
    """A platform request stored before it is acknowledged (bot/intake.py): the receiving
    process works it off at once and deletes it; if that process dies, any replica takes it
    over once its lease has run out. `key` is a keyed hash of the platform's delivery id
    (trigger id, action timestamp, event id, activity id): a second delivery of the same
    request while the first is here is recognised and not stored again.

    On PostgreSQL the table is in the bot's database. On SQLite it lives in a file of its own
    beside the database (`<db file>.inbox`, see `Database.inbox_engine`), so storing a request
    never waits for the write lock the bot's work holds on the main file; the main file's
    `inbox` table (made by the migrations, which serve both databases) stays empty there."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("platform", "key"), Index(None, "lease_until"))
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    key: str = Field(max_length=100)
    # What the platform sent, sealed (storage/secret.py `seal`): unreadable without the key.
    payload: str = Field(max_length=1_000_000)
    attempts: int = 0
    received_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime = Field(default_factory=utcnow)


class InboxAnswer(SQLModel, table=True):
    """The bot's answer to a stored request, sealed, written in the work's own transaction
    (so it is in the bot's database on SQLite too): a replay after the work committed sends
    it instead of nothing. Pruned after an hour (bot/intake.py); never written for a vote."""

    __tablename__ = "inbox_answer"
    key: str = Field(primary_key=True, max_length=100)  # the request's InboxItem.key
    answer: str = Field(max_length=1_000_000)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class PostedMessage(SQLModel, table=True):
    """Where the bot posted something it may update later (a poll): subject -> platform ids."""

    __tablename__ = "posted_message"
    workspace_id: int = Field(foreign_key="workspace.id", primary_key=True, ondelete="CASCADE")
    subject: str = Field(primary_key=True, max_length=60)
    conversation_id: str = Field(max_length=100)
    message_id: str = Field(max_length=100)  # Slack ts, Teams activity id
    posted_at: datetime = Field(default_factory=utcnow)


class ConversationAddress(SQLModel, table=True):
    """How to reach a conversation later (Teams' serialised ConversationReference), refreshed
    from every authenticated activity; `key` is the conversation id, or `user:<id>` for the
    personal chat with someone."""

    __tablename__ = "conversation_address"
    workspace_id: int = Field(foreign_key="workspace.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(primary_key=True, max_length=300)
    reference: str = Field(max_length=10_000)  # JSON
    service_url: str = Field(max_length=500)
    updated_at: datetime = Field(default_factory=utcnow)


class BlockedRecipient(SQLModel, table=True):
    """A person who blocked or removed the bot: no more direct messages to them."""

    __tablename__ = "blocked_recipient"
    workspace_id: int = Field(foreign_key="workspace.id", primary_key=True, ondelete="CASCADE")
    user_id: str = Field(primary_key=True, max_length=200)
    reason: str = Field(max_length=200)
    blocked_at: datetime = Field(default_factory=utcnow)


class Schedule(SQLModel, table=True):
    """A recurring post (the weekly digest), per workspace: the source of truth every replica
    reads. `weekday` 0 = Monday; `at` is local time in `timezone`."""

    __table_args__ = (UniqueConstraint("workspace_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=_workspace_fk())
    kind: str = Field(max_length=30)  # "digest" | "committee" (the meeting)
    weekday: int
    at: str = Field(max_length=5)  # "HH:MM"
    timezone: str = Field(max_length=64)
    # weekly | biweekly (every other week from `anchor`) | monthly (the first <weekday>)
    cadence: str = Field(default="weekly", max_length=10)
    anchor: date | None = None  # the local date of the first meeting (biweekly)
    enabled: bool = True
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow)


class ScheduleRun(SQLModel, table=True):
    """The run ledger: one row per (job, period), inserted in the transaction that does the
    work, so whoever commits it ran it and nobody runs it again."""

    __tablename__ = "schedule_run"
    job: str = Field(primary_key=True, max_length=100)  # "digest:12", "poll-close:7"
    period: str = Field(primary_key=True, max_length=40)  # the due time, ISO
    owner: str = Field(max_length=100)  # host:pid of the replica that ran it
    outcome: str = Field(default="done", max_length=20)  # done | skipped
    finished_at: datetime | None = None


class Welcome(SQLModel, table=True):
    """One row per person ever welcomed in a workspace: the guard against a second welcome."""

    __table_args__ = (Index(None, "workspace_id", "welcomed_at"),)
    workspace_id: int = Field(foreign_key="workspace.id", primary_key=True, ondelete="CASCADE")
    user_id: str = Field(primary_key=True, max_length=100)
    user_name: str = Field(max_length=200)
    welcomed_at: datetime = Field(default_factory=utcnow)


ONE_WAITING = "kind IN ('update', 'home') AND status = 'pending'"


class OutboxMessage(SQLModel, table=True):
    """A message the bot sends on its own, written in the same transaction as the change that
    causes it and delivered by the outbox worker (bot/outbox.py) of any replica.

    `conversation` is the pacing key: a channel id, `user:<id>` for a direct message, the
    subject (`poll:12`) of an in-place update, or `home:<id>` for a person's home tab.
    `uncertain` marks a row whose earlier attempt may have reached the platform (a timeout, a
    replica that died mid-send): before sending it again the platform is asked whether it
    already has it, where the platform allows."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(None, "status", "not_before"),
        Index(None, "workspace_id", "conversation", "status"),
        # One waiting update per subject (and home tab): it renders the state when it is
        # sent, so a second would repeat it. Kept by the database, so an insert never has
        # to look first and two replicas cannot both add one (storage/outbox.py add).
        Index(
            "ux_outbox_one_waiting_update",
            "workspace_id",
            "conversation",
            unique=True,
            postgresql_where=text(ONE_WAITING),
            sqlite_where=text(ONE_WAITING),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=_workspace_fk())
    kind: str = Field(max_length=10)  # post | dm | update | home (a Slack home tab)
    conversation: str = Field(max_length=300)
    subject: str = Field(default="", max_length=60)
    payload: str = Field(default="", max_length=200_000)  # bot.message_json + delivery hints
    status: str = Field(default="pending", max_length=10)  # pending | sending | sent | dead
    attempts: int = 0
    uncertain: bool = False
    not_before: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    claimed_by: str = Field(default="", max_length=100)
    last_error: str = Field(default="", max_length=500)
    message_id: str = Field(default="", max_length=100)  # Slack ts, Teams activity id
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class CheckinQuestion(SQLModel, table=True):
    """A question every committee member answers before each meeting; with `metric`, the
    answer of `metric_owner` is recorded as that metric's value, one per meeting (others'
    answers are only shown). Removed questions stay, so past answers keep their text."""

    __tablename__ = "checkin_question"
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=_workspace_fk())
    text: str = Field(max_length=300)
    metric: str | None = Field(default=None, max_length=50)
    metric_owner: str | None = Field(default=None, max_length=100)  # a user id
    metric_owner_name: str | None = Field(default=None, max_length=200)
    metric_unit: str | None = Field(default=None, max_length=20)  # for a bare number answer
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    removed_at: datetime | None = None


class CheckinAnswer(SQLModel, table=True):
    """One member's answer to one question for one meeting (`meeting`: its period key);
    changed in place until the meeting starts."""

    __tablename__ = "checkin_answer"
    question_id: int = Field(
        sa_column=Column(ForeignKey("checkin_question.id", ondelete="CASCADE"), primary_key=True)
    )
    meeting: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(primary_key=True, max_length=100)
    user_name: str = Field(max_length=200)
    answer: str = Field(max_length=1000)
    answered_at: datetime = Field(default_factory=utcnow)
    metric_id: int | None = None  # the metric value this answer recorded (updated on change)


class Decision(SQLModel, table=True):
    """The committee's decision log: append-only; a decision is superseded by a later one,
    never edited."""

    __table_args__ = (Index(None, "workspace_id", "decided_at"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=_workspace_fk())
    text: str = Field(max_length=500)
    decided_by: str = Field(max_length=100)
    decided_by_name: str = Field(max_length=200)
    decided_at: datetime = Field(default_factory=utcnow)
    poll_id: int | None = None
    supersedes: int | None = None  # the id of the decision this one replaces
    superseded_by: int | None = None


class RoleAssignment(SQLModel, table=True):
    """An admin's change to the default responsibility matrix: persona x activity -> R/A/C/I."""

    __tablename__ = "role_assignment"
    workspace_id: int = Field(foreign_key="workspace.id", primary_key=True, ondelete="CASCADE")
    persona: str = Field(primary_key=True, max_length=30)
    activity: str = Field(primary_key=True, max_length=60)
    role: str = Field(max_length=1)
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow)


class DigestArchive(SQLModel, table=True):
    """Every digest as it was posted (`digest post` or the weekly schedule), for the dashboard's
    archive: the week it covers (its Monday, local date) and the message as JSON
    (bot/message_json.py)."""

    __tablename__ = "digest_archive"
    __table_args__ = (Index(None, "workspace_id", "posted_at"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=_workspace_fk())
    week_start: date
    posted_at: datetime = Field(default_factory=utcnow)
    message: str = Field(max_length=200_000)  # bot.message_json
    # The stretch of time it covers, [start, end) in UTC; a scheduled digest's end is its
    # scheduled minute, and the next scheduled digest starts there (bot/features/digest_periods).
    period_start: datetime | None = None
    period_end: datetime | None = None
    scheduled: bool = False


class DashboardScreen(SQLModel, table=True):
    """A long-lived dashboard link for a shared display (`dashboard screen`): valid until an
    admin revokes it (`dashboard revoke <id>`). The token itself is signed and carries this
    row's id; the row says whether it still opens the page and when it last did."""

    __tablename__ = "dashboard_screen"
    __table_args__ = (Index(None, "workspace_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=_workspace_fk())
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(max_length=100)
    created_by_name: str = Field(default="", max_length=200)
    revoked_at: datetime | None = None
    revoked_by: str | None = Field(default=None, max_length=100)
    last_used_at: datetime | None = None


class CostDay(SQLModel, table=True):
    """FOCUS cost and usage, summed per day and dimension by `finops-bot focus import`
    (bot/costs/importer.py). Each amount is two integers, as Google's Money type: whole
    units of the billing currency (`*_units`) and billionths (`*_nanos`, of the same sign,
    below 10^9 in size), so that SQLite, whose integers are 64-bit and whose NUMERIC is a
    float, sums exactly up to 9.2 × 10^18 units (a 10^15 IDR bill included); see
    `storage/money.py`. `workspace_id` None is the whole installation's bill, seen by every
    workspace."""

    __tablename__ = "cost_day"
    __table_args__ = (Index(None, "day", "workspace_id"), Index(None, "provider", "day"))
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int | None = Field(
        default=None, foreign_key="workspace.id", ondelete="CASCADE", nullable=True
    )
    day: date  # the UTC date of ChargePeriodStart
    provider: str = Field(max_length=100)
    currency: str = Field(max_length=30)  # BillingCurrency, whole (USDC is not USD); "" if none
    billing_account: str = Field(max_length=200)
    sub_account: str = Field(max_length=200)  # SubAccountName, else SubAccountId
    # First day of BillingPeriodStart: an import replaces (provider, account, period) whole.
    billing_period: date
    service_category: str = Field(max_length=60)
    service: str = Field(max_length=200)
    region: str = Field(max_length=100)
    charge_category: str = Field(max_length=30)
    pricing_category: str = Field(max_length=30)
    commitment_status: str = Field(max_length=20)  # Used, Unused or ""
    commitment_id: str = Field(max_length=500)  # CommitmentDiscountId or ""
    tagged: bool  # Tags holds at least one key
    owner: str = Field(max_length=200)  # the first configured owner tag's value, or ""
    row_count: int = Field(sa_type=BigInteger)
    billed_units: int = Field(default=0, sa_type=BigInteger)
    billed_nanos: int = Field(sa_type=BigInteger)
    effective_units: int = Field(default=0, sa_type=BigInteger)
    effective_nanos: int = Field(sa_type=BigInteger)
    list_units: int = Field(default=0, sa_type=BigInteger)
    list_nanos: int = Field(sa_type=BigInteger)
    contracted_units: int = Field(default=0, sa_type=BigInteger)
    contracted_nanos: int = Field(sa_type=BigInteger)
    # Savings summed row by row where the prices are known (zero where they are missing, as
    # the FinOps toolkit does), purchases left out: negotiated = ListCost - ContractedCost
    # over rows with both, commitment = ContractedCost - EffectiveCost over rows with
    # ContractedCost (negative for unused commitments). Total = their sum.
    negotiated_units: int = Field(default=0, sa_type=BigInteger)
    negotiated_nanos: int = Field(sa_type=BigInteger)
    commitment_units: int = Field(default=0, sa_type=BigInteger)
    commitment_nanos: int = Field(sa_type=BigInteger)


class CostDetailDay(SQLModel, table=True):
    """The daily effective cost of what CostDay does not keep, for win scopes: per value of a
    tag key listed in the workspace's `cost-scope-tags` (kind "tag", `key` that key), and
    per resource a live win is scoped to (kind "resource", `key` ""). The dimensions a scope
    can combine them with are kept beside; replaced by (provider, billing account, billing
    period) with CostDay. Consumed quantity, per unit, allows a per-unit view."""

    __tablename__ = "cost_detail_day"
    __table_args__ = (
        Index(None, "kind", "key", "value", "day"),
        Index(None, "provider", "billing_account", "billing_period"),
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int | None = Field(
        default=None, foreign_key="workspace.id", ondelete="CASCADE", nullable=True
    )
    day: date
    provider: str = Field(max_length=100)
    currency: str = Field(max_length=30)
    billing_account: str = Field(max_length=200)
    billing_period: date
    sub_account: str = Field(max_length=200)
    service_category: str = Field(max_length=60)
    service: str = Field(max_length=200)
    region: str = Field(max_length=100)
    kind: str = Field(max_length=10)  # "tag" or "resource"
    key: str = Field(max_length=128)  # the tag key as configured; "" for a resource
    value: str = Field(max_length=500)  # the tag's value, or the ResourceId
    consumed_unit: str = Field(max_length=60)  # ConsumedUnit, "" when none
    row_count: int = Field(sa_type=BigInteger)
    effective_units: int = Field(default=0, sa_type=BigInteger)
    effective_nanos: int = Field(sa_type=BigInteger)
    consumed_units: int = Field(default=0, sa_type=BigInteger)  # ConsumedQuantity, as money
    consumed_nanos: int = Field(sa_type=BigInteger)


class CostImport(SQLModel, table=True):
    """One provider's part of one `focus import`: what it covered, for the summary and the
    data-freshness KPI (the latest ChargePeriodEnd seen)."""

    __tablename__ = "cost_import"
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int | None = Field(
        default=None, foreign_key="workspace.id", ondelete="CASCADE", nullable=True
    )
    provider: str = Field(max_length=100)
    first_day: date
    last_day: date
    row_count: int = Field(sa_type=BigInteger)
    period_end: datetime  # the latest ChargePeriodEnd (or start) in the export
    source: str = Field(max_length=1000)  # the file names
    imported_at: datetime = Field(default_factory=utcnow)


class ChartImage(SQLModel, table=True):
    """A PNG chart the bot made for a digest, served at `/charts/<token>.png` so Teams cards
    can show it (the token is random and unguessable)."""

    __tablename__ = "chart_image"
    token: str = Field(primary_key=True, max_length=64)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    png: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=utcnow)


class CostWatch(SQLModel, table=True):
    """A directory the scheduler scans for new FOCUS exports (`focus import --watch DIR`)."""

    __tablename__ = "cost_watch"
    directory: str = Field(primary_key=True, max_length=1000)
    workspace_id: int | None = Field(
        default=None, foreign_key="workspace.id", ondelete="CASCADE", nullable=True
    )
    added_at: datetime = Field(default_factory=utcnow)


class CostFile(SQLModel, table=True):
    """An export file as last imported from a watched directory: a changed size or
    modification time means the provider rewrote it, so its folder is imported again."""

    __tablename__ = "cost_file"
    path: str = Field(primary_key=True, max_length=1000)
    size: int = Field(sa_type=BigInteger)
    mtime_ns: int = Field(sa_type=BigInteger)
    imported_at: datetime = Field(default_factory=utcnow)
