"""Stored model of leader assignments (领导指派): a leader's instruction on a case, which they follow.

Created by migration ``0007``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake.models import Base, BigId, Case, User, utcnow


class LeaderAssignment(Base):
    __tablename__ = "leader_assignments"
    __table_args__ = (UniqueConstraint("case_id", "leader_id", name="uq_leader_assignments_case_id_leader_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: The leader's instruction (批示).
    instruction: Mapped[str] = mapped_column(Text)
    #: 1 urgent … 4 low; the case's priority is raised to it, never lowered.
    priority: Mapped[int] = mapped_column(Integer)
    #: The leader's own deadline for finishing the case, if any: the unit's clocks never run past it.
    due_at: Mapped[datetime | None]
    #: True when the leader created the case; False when they flagged an existing one.
    created_case: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship()
    leader: Mapped[User] = relationship()
