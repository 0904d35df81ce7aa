"""The supervisors' wallboard: what waits, for how long, who is on shift, what is overdue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
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
        rows = session.execute(select(Case.channel, func.count()).where(in_queue).group_by(Case.channel)).all()
        by_channel = {channel: count for channel, count in rows}
        oldest = session.scalar(select(func.min(Case.created_at)).where(in_queue))
        in_hand = session.scalar(
            select(func.count()).select_from(Case).where(Case.status == CaseStatus.VERIFYING, Case.lease_until >= now)
        )
        overdue = session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.status.in_(OPEN_STATUSES), Case.due_at.is_not(None), Case.due_at < now)
        )
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


#: Returns (退单) after which a case needs a supervisor's eye, and how many such cases are listed.
REPEATED_RETURNS = 2
ATTENTION_ROWS = 50
#: How far back a "not satisfied" answer keeps a closed case on the list, in days.
DISSATISFIED_DAYS = 7


def _needs_a_supervisor(session: Session, now: datetime) -> list[dict[str, str]]:
    """Cases waiting for a supervisor: extension requests, escalations, repeated returns, "not satisfied"."""
    reasons = [
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
    rows: list[dict[str, str]] = []
    for reason, condition in reasons:
        found = session.execute(
            select(Case.number, Case.summary).where(condition).order_by(Case.updated_at.desc()).limit(ATTENTION_ROWS)
        ).all()
        rows += [{"number": number, "summary": summary, "reason": reason} for number, summary in found]
    return rows[:ATTENTION_ROWS]
