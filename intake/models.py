"""Stored model: cases, the reports they hold, attachments, the audit history, users and tokens.

The channel-facing input is :class:`intake.report.Report` (a plain dataclass); these are its
stored forms. Every table is created by the Alembic migrations in ``intake/migrations``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column, relationship

from intake.states import OPEN_STATUSES, CaseStatus

#: An id column that is BIGINT on PostgreSQL and SQLite's rowid alias on SQLite.
BigId = BigInteger().with_variant(Integer, "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def __repr__(self) -> str:  # how Alembic writes the column into migrations
        return "sa.DateTime(timezone=True)"

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


#: SQL for "the case is open", as the partial indexes on ``cases`` say it (statuses in a fixed order).
OPEN_CASES = "status IN (" + ", ".join(f"'{status.value}'" for status in sorted(OPEN_STATUSES)) + ")"


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index over the rows matching ``where`` (PostgreSQL and SQLite both have them)."""
    return Index(name, *columns, unique=unique, postgresql_where=text(where), sqlite_where=text(where))


class Case(Base):
    """The unit of work agents handle; holds one or more reports."""

    __tablename__ = "cases"
    __table_args__ = (
        # The agents' queue: open cases of one status by priority, then age.
        Index("ix_cases_queue", "status", "priority", "created_at"),
        Index("ix_cases_reporter_phone", "reporter_phone"),
        Index("ix_cases_claimed_by_id", "claimed_by_id"),
        # Statistics by period, and supervision's scan of open cases' deadlines.
        Index("ix_cases_created_at", "created_at"),
        Index("ix_cases_status_finish_due_at", "status", "finish_due_at"),
        # The wallboard's lists, each a small partial index so that a million closed cases cost nothing.
        partial_index("ix_cases_open_due", "due_at", where=OPEN_CASES),
        partial_index("ix_cases_extension", "updated_at", where="extension_until IS NOT NULL"),
        partial_index("ix_cases_escalated_open", "updated_at", where=f"escalated_at IS NOT NULL AND {OPEN_CASES}"),
        # 2: agent_ui.wallboard.REPEATED_RETURNS (a query with a lower threshold could not use it).
        partial_index("ix_cases_returned_open", "updated_at", where=f"return_count >= 2 AND {OPEN_CASES}"),
        # 3: intake.survey.Satisfaction.NOT_SATISFIED.
        partial_index("ix_cases_dissatisfied", "closed_at", where="satisfaction = 3 AND status = 'closed'"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    status: Mapped[CaseStatus] = mapped_column(
        Enum(CaseStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    #: The channel of the first report.
    channel: Mapped[str] = mapped_column(String(32), index=True)
    #: 1 urgent, 2 high, 3 normal, 4 low: the queue serves lower numbers first.
    priority: Mapped[int] = mapped_column(Integer, default=3)
    category: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(String(500))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    department_code: Mapped[str | None] = mapped_column(String(32), index=True)
    #: E.164 number of the first reporter (full; masked wherever it is shown).
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    #: The agent verifying the case right now, and until when their claim holds (a lease).
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    queued_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    #: The closed loop's clocks (set by routing at dispatch): sign for it, finish, feed back.
    dispatched_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    handled_at: Mapped[datetime | None]
    respond_due_at: Mapped[datetime | None]
    finish_due_at: Mapped[datetime | None]
    feedback_due_at: Mapped[datetime | None]
    #: Supervision (督办): when the case was warned, first went past a deadline, was escalated.
    warned_at: Mapped[datetime | None]
    overdue_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    #: How often units returned it (退单) and how often the center urged it (催办).
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    #: An extension the unit asked for and a supervisor has not yet decided on.
    extension_until: Mapped[datetime | None]
    #: Which routing rule proposed the unit ("rule 3: street-light in 110116001" / default owner).
    route_reason: Mapped[str | None] = mapped_column(String(200))
    #: The reporters' answer to the satisfaction question: 1 satisfied, 2 basically, 3 not satisfied.
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    #: Bumped by every action (:func:`intake.cases.apply`): clients send it back to detect a stale view.
    #: Not an ORM version_id_col, which would turn the worker's batched UPDATEs into one per row.
    version: Mapped[int] = mapped_column(Integer, default=1)

    reports: Mapped[list[ReportRecord]] = relationship(
        back_populates="case", order_by="ReportRecord.id", foreign_keys="ReportRecord.case_id"
    )
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id")


class ReportRecord(Base):
    """One message from one source, stored verbatim beside its normalized fields."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("channel", "source_id", name="uq_reports_channel_source_id"),
        Index("ix_reports_contact_phone", "contact_phone", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    source_time: Mapped[datetime | None]
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    text: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(500))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    #: Channel-specific extras worth querying (JSON).
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The payload exactly as the sender sent it.
    raw: Mapped[bytes] = deferred(mapped_column(LargeBinary, default=b""))
    raw_content_type: Mapped[str] = mapped_column(String(128), default="")

    case: Mapped[Case] = relationship(back_populates="reports", foreign_keys=[case_id])
    attachments: Mapped[list[Attachment]] = relationship(back_populates="report", order_by="Attachment.id")


class AttachmentStatus:
    PENDING = "pending"  # a worker still has to download it
    STORED = "stored"
    FAILED = "failed"
    TOO_LARGE = "too_large"


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The report it came with, or (for a unit's result photos) the history entry it belongs to.
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(128), default="application/octet-stream")
    source_url: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default=AttachmentStatus.PENDING, index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    # Indexed: deleting a blob checks that no attachment uses it.
    sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    error: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[ReportRecord] = relationship(back_populates="attachments")
    case: Mapped[Case] = relationship()


class Blob(Base):
    """Attachment bytes, content-addressed, in the database so every web and worker machine sees them."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseEvent(Base):
    """One entry of a case's history: who did what, when, through which channel."""

    __tablename__ = "case_events"
    __table_args__ = (
        # Returns (退单) by time for the statistics: the few return events, not the whole history.
        partial_index("ix_case_events_returns", "at", where="kind = 'return'"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: ``user:<name>``, ``citizen``, ``system`` or ``channel:<name>``.
    actor: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Shown on the public tracking page.
    public: Mapped[bool] = mapped_column(Boolean, default=False)

    case: Mapped[Case] = relationship(back_populates="events")


class CaseNumberCounter(Base):
    """Per-day case number counter (SQLite); PostgreSQL uses a sequence with a per-day base."""

    __tablename__ = "case_number_days"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    #: SQLite: the last ordinal handed out. PostgreSQL: the sequence value just before the day began.
    value: Mapped[int] = mapped_column(BigInteger)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    department_code: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    #: Agent presence: available, busy, break, offline; and when the console last said so.
    presence: Mapped[str] = mapped_column(String(16), default="offline")
    presence_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class OptOut(Base):
    """A contact who asked for no more outbound messages on a channel (STOP / 退订)."""

    __tablename__ = "opt_outs"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    since: Mapped[datetime] = mapped_column(default=utcnow)


class OutboundStatus:
    QUEUED = "queued"
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider's receipt says it reached the handset
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"  # the recipient opted out


class OutboundMessage(Base):
    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    to: Mapped[str] = mapped_column(String(254))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=OutboundStatus.QUEUED, index=True)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
