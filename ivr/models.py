"""Stored model of the hotline: every call's record, and the call-back tasks calls leave behind.

Tables are created by migration ``0004``. Voice messages are not stored here: they become reports of
the ``hotline`` channel (source id ``<call id>:<recording id>``) whose recordings are attachments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, BigId, utcnow


class QueueOutcome:
    """How a call's time in the queue ended (``CallRecord.outcome``)."""

    ANSWERED = "answered"  # an agent took it
    ABANDONED = "abandoned"  # the caller hung up while waiting
    VOICEMAIL = "voicemail"  # the caller left a voice message instead
    CALLBACK = "callback"  # the caller asked to be called back instead


class CallbackStatus:
    OPEN = "open"
    DONE = "done"


class CallRecord(Base):
    """One phone call to the hotline, whichever telephony provider carried it."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("provider", "provider_call_id", name="uq_calls_provider_call_id"),
        # The waiting queue: calls of one state by priority, then age.
        Index("ix_calls_queue", "queue_state", "priority", "enqueued_at"),
        Index("ix_calls_caller_phone", "caller_phone"),
        Index("ix_calls_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: ``twilio`` or ``asterisk``.
    provider: Mapped[str] = mapped_column(String(16))
    #: Twilio's CallSid, Asterisk's channel id.
    provider_call_id: Mapped[str] = mapped_column(String(64))
    #: E.164 number of the caller (full; masked wherever it is shown or logged).
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    #: The hotline number dialled.
    called_number: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    #: The provider's last call status (``ringing``, ``in-progress``, ``completed``, ``no-answer``, ...);
    #: it only ever moves forward, whatever order the provider's callbacks arrive in.
    status: Mapped[str] = mapped_column(String(16), default="ringing")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When an agent took the call.
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    #: Seconds the call lasted, as the provider counts them.
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    #: The way through the menu: ``["lang:zh", "main:1", "queue:3", "agent"]``.
    menu_path: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: The queue the call waited in, its priority (1 urgent … 4 low) and where it is now:
    #: ``waiting``, ``answered``, ``left`` (for a message or a call back), ``abandoned``.
    queue: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int | None] = mapped_column(Integer)
    queue_state: Mapped[str | None] = mapped_column(String(16))
    enqueued_at: Mapped[datetime | None]
    #: Seconds the caller waited in the queue.
    wait_seconds: Mapped[int | None] = mapped_column(Integer)
    #: :class:`QueueOutcome` of the call's time in the queue (or of its menu choice).
    outcome: Mapped[str | None] = mapped_column(String(16))
    #: The agent who took the call.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: The case the call is about: the one its voice message opened or joined, or the agent's.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CallbackRequest(Base):
    """A call-back task: asked for in the menu, or left by a caller who hung up while waiting."""

    __tablename__ = "callback_requests"
    __table_args__ = (Index("ix_callback_requests_open", "status", "queued_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: One task per call, whatever makes it (the caller's key and their hang-up can both arrive).
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    #: E.164 number to call back (full; masked wherever it is shown or logged).
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    #: ``requested`` (menu), ``queue`` (left the queue for it), ``abandoned`` (hung up while waiting).
    reason: Mapped[str] = mapped_column(String(16))
    #: The caller's place: when they joined the queue (or called, if they never queued). Tasks are
    #: worked in this order, so leaving the queue for a call back keeps one's place.
    queued_at: Mapped[datetime]
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.OPEN)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(500))
