"""Stored model of the grid workers (网格员): who they are, their devices' tokens, their check tasks.

Grid workers are not console users: the district has about 26,000 of them, imported from CSV, who
sign in on a phone (an SMS code or a token issued by the center) and never see the console.
Tables are created by migration ``0007``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake.models import Base, BigId, Case, utcnow


class GridWorker(Base):
    __tablename__ = "grid_workers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The district's own number for the worker (工号); the import's key.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    #: E.164 mobile number: where sign-in codes and task notices go (masked wherever shown or logged).
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    #: The 15-digit grid cell the worker looks after.
    grid_code: Mapped[str] = mapped_column(String(15), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GridWorkerToken(Base):
    """A bearer token of one worker's device; only its SHA-256 is stored."""

    __tablename__ = "grid_worker_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_workers.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: ``sms`` (signed in with a code) or what the center wrote when it issued the token.
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: ``None``: until revoked (a token the center issued for a managed device).
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    worker: Mapped[GridWorker] = relationship()


class TaskStatus:
    OPEN = "open"
    ANSWERED = "answered"
    CANCELLED = "cancelled"


class GridCheckTask(Base):
    """核查: the center asks the worker of a case's cell to look at a unit's result on site."""

    __tablename__ = "grid_check_tasks"
    __table_args__ = (Index("ix_grid_check_tasks_worker_status", "worker_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_workers.id"))
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.OPEN)
    #: What the center wants looked at.
    instruction: Mapped[str] = mapped_column(Text, default="")
    #: ``user:<name>`` of whoever created the task.
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    #: The worker's verdict: is the problem solved on site?
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    answer_note: Mapped[str | None] = mapped_column(Text)
    #: The case history entry holding the answer (its photos are attachments of that entry).
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))

    case: Mapped[Case] = relationship()
    worker: Mapped[GridWorker] = relationship()
