"""Stored model of mail: every message id we received or sent, so that replies find their case.

Inbound reports themselves are ordinary reports (channel ``email``, the raw message kept); this table
only maps ``Message-ID`` → case, in both directions, and remembers mail that opened no case
(auto-replies, bounces). Created by migration ``0007``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, BigId, utcnow


class MailKind:
    REPORT = "report"  # opened a case
    REPLY = "reply"  # joined the case it answers
    AUTO_REPLY = "auto_reply"  # out-of-office and the like: kept, opens nothing
    BOUNCE = "bounce"  # a delivery status notification about one of our mails
    EMPTY = "empty"  # nothing to report: no text, no attachment
    OUTBOUND = "outbound"  # one of ours


class MailRecord(Base):
    __tablename__ = "email_messages"
    __table_args__ = (UniqueConstraint("direction", "message_id", name="uq_email_messages_direction_message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: ``in`` or ``out``.
    direction: Mapped[str] = mapped_column(String(3))
    #: The ``Message-ID`` without its angle brackets.
    message_id: Mapped[str] = mapped_column(String(255), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    #: Address of the other side (sender of inbound mail, recipient of ours).
    address: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(255), default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_messages.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
