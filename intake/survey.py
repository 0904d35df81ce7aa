"""The satisfaction question after close (回访): reporters answer 1 satisfied, 2 basically
satisfied, 3 not satisfied, by replying to the closing SMS.

A merged case has several reporters; each may answer. The case keeps the least satisfied answer
(a unit counts as satisfying only when everyone who answered is), and every answer is in its
history. A "not satisfied" answer lets a supervisor reopen the case.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from enum import IntEnum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake.cases import record
from intake.models import Case, ReportRecord, utcnow
from intake.phones import mask_phone
from intake.states import CaseStatus

log = logging.getLogger(__name__)

#: How long after close a reply still counts as an answer to the question, in days.
SURVEY_WINDOW_DAYS = 7


class Satisfaction(IntEnum):
    SATISFIED = 1
    BASICALLY_SATISFIED = 2
    NOT_SATISFIED = 3


def case_awaiting_answer(session: Session, phone: str) -> Case | None:
    """The reporter's most recently closed case (their own, or one theirs was merged into)."""
    own = select(ReportRecord.case_id).where(ReportRecord.contact_phone == phone)
    merged_into = select(Case.merged_into_id).where(Case.id.in_(own), Case.merged_into_id.is_not(None))
    since = utcnow() - timedelta(days=SURVEY_WINDOW_DAYS)
    return session.scalar(
        select(Case)
        .where(
            Case.status == CaseStatus.CLOSED,
            Case.closed_at >= since,
            or_(Case.id.in_(own), Case.id.in_(merged_into)),
        )
        .order_by(Case.closed_at.desc())
        .limit(1)
        .with_for_update()
    )


def record_answer(session: Session, case: Case, answer: Satisfaction, *, phone: str, channel: str) -> None:
    previous = case.satisfaction
    case.satisfaction = max(previous or 0, int(answer))
    record(
        session,
        case,
        "rated",
        actor="citizen",
        channel=channel,
        detail={"answer": int(answer), "from": mask_phone(phone), "case_rating": case.satisfaction},
    )
    log.info("case %s rated %d by a reporter", case.number, int(answer))


def answer_by_phone(session: Session, phone: str, answer: Satisfaction, *, channel: str) -> Case | None:
    """Record a reporter's answer on their recently closed case; None when nothing awaits one."""
    case = case_awaiting_answer(session, phone)
    if case is None:
        return None
    record_answer(session, case, answer, phone=phone, channel=channel)
    return case
