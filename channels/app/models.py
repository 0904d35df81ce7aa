"""Stored model of phone sign-in: one-time SMS codes and the citizen app's session tokens.

Codes are kept only as an HMAC under the server's secret key, so that a copy of the database alone
does not give away a live code (six digits are quickly guessed from a plain hash). Tables are created
by migration ``0007``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, BigId, utcnow


class PhoneCode(Base):
    __tablename__ = "phone_codes"
    __table_args__ = (Index("ix_phone_codes_lookup", "purpose", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: Who signs in with it: ``app`` (a citizen) or ``grid`` (a grid worker).
    purpose: Mapped[str] = mapped_column(String(16))
    #: E.164 (masked wherever shown or logged).
    phone: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    #: Wrong guesses so far; the code dies at the configured maximum.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None]


class AppToken(Base):
    """A citizen's signed-in app: a bearer token for one phone number, expiring."""

    __tablename__ = "app_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
