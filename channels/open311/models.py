"""Stored model of the Open311 server: partner platforms with their API keys, and the requests they filed.

Tables are created by migration ``0006``. A request is a report of the ``partner`` channel (and so a
case); this row adds what GeoReport needs on top: which partner filed it, under which service code, and
the token a ``batch`` service answers with.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake.models import Base, BigId, ReportRecord, utcnow


class Open311Partner(Base):
    """A partner platform allowed to file requests; only the SHA-256 of its API key is kept."""

    __tablename__ = "open311_partners"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Open311Request(Base):
    """A service request a partner filed: one report, hence one case (its number is the request id)."""

    __tablename__ = "open311_requests"
    __table_args__ = (
        # GET requests: a date range, newest first.
        Index("ix_open311_requests_requested_at", "requested_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("open311_partners.id"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), unique=True)
    #: Handed to the partner by ``batch`` services, to look the request id up later.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    service_code: Mapped[str] = mapped_column(String(64), index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[ReportRecord] = relationship()
    partner: Mapped[Open311Partner] = relationship()
