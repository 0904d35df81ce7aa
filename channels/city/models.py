"""Stored model of city-level dispatch: one row per work order, keyed by the platform and its order code.

Tables are created by migration ``0006``. The order's first push is also a report of the ``city`` channel
(source id ``<platform>:<order code>``) and so a case; later pushes of the same code update this row and
the case instead of opening another.

``deadline`` is the marker routing's clocks are measured against: while a case holds (or has merged into
it) a city order, :mod:`channels.city.deadlines` puts the city's deadline back after every transition,
after :func:`routing.deadlines.update_clocks` has set its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base, BigId, utcnow


class CityOrder(Base):
    """A work order (工单) the city platform dispatched to the district, as last pushed."""

    __tablename__ = "city_orders"
    __table_args__ = (UniqueConstraint("platform", "order_code", name="uq_city_orders_platform_order_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The platform's name in ``city.platforms``.
    platform: Mapped[str] = mapped_column(String(32))
    #: The city's order code (``workordercode``).
    order_code: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    #: The city's category (``scene``) and the taxonomy code it maps to, if any.
    city_category: Mapped[str] = mapped_column(String(64), default="")
    category: Mapped[str | None] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text, default="")
    #: ``area`` and ``place`` as the city wrote them; the case's address joins them.
    area: Mapped[str] = mapped_column(String(200), default="")
    place: Mapped[str] = mapped_column(String(500), default="")
    dispatched_at: Mapped[datetime]
    #: The city's deadline (处理时限): the case's finish clock, whatever routing's rules say.
    deadline: Mapped[datetime | None]
    #: The city's state (0 pending, 1 in progress, 2 done) and order type (0 event … 4 device), as sent.
    state: Mapped[int] = mapped_column(Integer, default=0)
    order_type: Mapped[int] = mapped_column(Integer, default=0)
    attachment_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The last push, parsed (the first one is kept verbatim as the case's report).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: How many times the city pushed this code (1: never resent).
    pushes: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
