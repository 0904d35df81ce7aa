"""The supervisors' wallboard: what waits, for how long, who is on shift, what is overdue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from agent_ui.presence import Presence
from agent_ui.queue import waiting
from intake.models import Case, User, utcnow
from intake.runtime import get_runtime
from intake.states import OPEN_STATUSES, CaseStatus
from intake.survey import Satisfaction


def figures() -> dict[str, Any]:
    now = utcnow()
    in_queue = waiting(now)
    with get_runtime().db.transaction() as session:
        # The oldest per channel in the same pass: min(created_at) alone would walk the created_at index
        # from the oldest of a million closed cases.
        rows = session.execute(
            select(Case.channel, func.count(), func.min(Case.created_at)).where(in_queue).group_by(Case.channel)
        ).all()
        by_channel = {channel: count for channel, count, _ in rows}
        oldest = min((first for _, _, first in rows), default=None)
        in_hand = session.scalar(
            select(func.count()).select_from(Case).where(Case.status == CaseStatus.VERIFYING, Case.lease_until >= now)
        )
        overdue = session.scalar(select(func.count()).select_from(Case).where(overdue_condition(now)))
        attention = _needs_a_supervisor(session, now)
        agents = session.execute(
            select(User.display_name, User.presence)
            .where(User.role.in_(("agent", "supervisor")), User.active.is_(True))
            .order_by(User.presence, User.display_name)
        ).all()
    by_presence: dict[str, list[str]] = {p.value: [] for p in Presence}
    for name, presence in agents:
        by_presence.setdefault(presence, []).append(name)
    return {
        "waiting": sum(by_channel.values()),
        "waiting_by_channel": by_channel,
        "longest_wait_minutes": int((now - oldest).total_seconds() // 60) if oldest else 0,
        "in_hand": in_hand or 0,
        "overdue": overdue or 0,
        "agents": by_presence,
        "attention": attention,
    }


#: Returns (退单) after which a case needs a supervisor's eye (the predicate of the index
#: ``ix_cases_returned_open`` says the same), and how many such cases are listed.
REPEATED_RETURNS = 2
ATTENTION_ROWS = 50
#: How far back a "not satisfied" answer keeps a closed case on the list, in days.
DISSATISFIED_DAYS = 7


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """Open cases past their deadline (served by the partial index ``ix_cases_open_due``)."""
    return and_(Case.status.in_(OPEN_STATUSES), Case.due_at.is_not(None), Case.due_at < now)


def attention_conditions(now: datetime) -> list[tuple[str, ColumnElement[bool]]]:
    """Why a case needs a supervisor, each with its condition (each served by a partial index)."""
    return [
        ("extension", Case.extension_until.is_not(None)),
        ("escalated", and_(Case.escalated_at.is_not(None), Case.status.in_(OPEN_STATUSES))),
        ("returns", and_(Case.return_count >= REPEATED_RETURNS, Case.status.in_(OPEN_STATUSES))),
        (
            "dissatisfied",
            and_(
                Case.status == CaseStatus.CLOSED,
                Case.satisfaction == Satisfaction.NOT_SATISFIED,
                Case.closed_at >= now - timedelta(days=DISSATISFIED_DAYS),
            ),
        ),
    ]


def _needs_a_supervisor(session: Session, now: datetime) -> list[dict[str, str]]:
    """Cases waiting for a supervisor: extension requests, escalations, repeated returns, "not satisfied"."""
    rows: list[dict[str, str]] = []
    for reason, condition in attention_conditions(now):
        found = session.execute(
            select(Case.number, Case.summary).where(condition).order_by(Case.updated_at.desc()).limit(ATTENTION_ROWS)
        ).all()
        rows += [{"number": number, "summary": summary, "reason": reason} for number, summary in found]
    return rows[:ATTENTION_ROWS]
