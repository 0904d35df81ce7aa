"""Supervision (督办): warn units before a deadline, mark overdue cases, escalate them, and urge (催办).

:func:`supervise` is a periodic job (``gridline scheduler`` enqueues it, a worker runs it). For the
clock that runs now (:data:`routing.deadlines.CLOCK_OF_STATUS`) it

- warns the unit once per clock when ``warn_at`` of it has run (real time from dispatch to due; the
  duty phone is staffed round the clock): event ``deadline_warning``, an SMS to the unit's duty phone;
- marks the case overdue once when a clock has run out: ``overdue_at``, event ``overdue``;
- escalates once when the running clock has been out for ``escalate_after``: ``escalated_at``, event
  ``escalated``, an SMS to the unit's head, and one more urge on the case's count. A unit that signed
  for a case late but finishes it in time is not escalated.

Which marks last how long is :mod:`routing.deadlines`' business (it clears them as clocks change).
The job is idempotent and safe to run from several schedulers at once: each case is re-checked under a
row lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite takes its one write lock per transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake.cases import record
from intake.errors import IllegalTransition
from intake.i18n import register, translate
from intake.models import Case, CaseEvent, utcnow
from intake.processing import publish_queue_event
from intake.queue import after_commit
from intake.runtime import get_runtime
from intake.states import CaseStatus
from routing.calendar import WorkCalendar, calendar_for
from routing.deadlines import CLOCK_OF_STATUS
from routing.models import Department
from routing.settings import DeadlineSettings, routing_settings
from routing.unit_messages import text_unit

log = logging.getLogger(__name__)

#: How often ``gridline scheduler`` runs :func:`supervise`, in seconds.
SUPERVISE_INTERVAL_SECONDS = 60
#: Cases read per query of the scan (a handful of columns each, no locks).
SCAN_BATCH = 1000
#: Cases locked and acted on per transaction.
ACT_BATCH = 100
#: Statuses in which a unit's clock runs, so supervision watches them and a supervisor may urge.
SUPERVISED_STATUSES: tuple[CaseStatus, ...] = tuple(CLOCK_OF_STATUS)

WARN = "warn"
OVERDUE = "overdue"
ESCALATE = "escalate"

register(
    {
        "event.deadline_warning": {"zh": "临期预警", "en": "Deadline warning"},
        "event.overdue": {"zh": "已超期", "en": "Past deadline"},
        "event.escalated": {"zh": "超期升级督办", "en": "Escalated as overdue"},
        "event.urged": {"zh": "催办", "en": "Urged"},
        "clock.respond": {"zh": "签收", "en": "sign-for"},
        "clock.finish": {"zh": "办结", "en": "finish"},
        "clock.feedback": {"zh": "反馈", "en": "feedback"},
        "sms.deadline_warning": {
            "zh": "【怀柔12345】临期预警：案件{number}的{clock}时限将于{due}到期，请抓紧办理。",
            "en": "[Huairou 12345] Deadline warning: the {clock} deadline of case {number} is {due}.",
        },
        "sms.escalated": {
            "zh": "【怀柔12345】超期督办：{unit}承办的案件{number}{clock}时限已于{due}到期，请督促办理。",
            "en": "[Huairou 12345] Overdue: case {number} of {unit} passed its {clock} deadline on {due}. "
            "Please see to it.",
        },
        "sms.urged": {
            "zh": "【怀柔12345】催办：请尽快办理案件{number}。{note}",
            "en": "[Huairou 12345] Reminder: please deal with case {number} without delay. {note}",
        },
    }
)


class _Clocked(Protocol):
    """What deciding needs: a scanned row or a loaded case."""

    status: CaseStatus
    dispatched_at: datetime | None
    respond_due_at: datetime | None
    finish_due_at: datetime | None
    feedback_due_at: datetime | None
    warned_at: datetime | None
    overdue_at: datetime | None
    escalated_at: datetime | None


def steps_due(case: _Clocked, now: datetime, deadlines: DeadlineSettings, calendar: WorkCalendar) -> list[str]:
    """What supervision owes ``case`` at ``now``: any of :data:`WARN`, :data:`OVERDUE`, :data:`ESCALATE`."""
    name = CLOCK_OF_STATUS.get(case.status)
    due = getattr(case, f"{name}_due_at") if name is not None else None
    if due is None:
        return []
    steps: list[str] = []
    if now >= due:
        if case.overdue_at is None:
            steps.append(OVERDUE)
        # From the due time, not from when we noticed: a scheduler that was down escalates on time.
        if case.escalated_at is None and now >= calendar.add(due, deadlines.escalate_after):
            steps.append(ESCALATE)
    elif (
        case.warned_at is None
        and case.dispatched_at is not None
        and now >= case.dispatched_at + (due - case.dispatched_at) * deadlines.warn_at
    ):
        steps.append(WARN)
    return steps


def supervise(now: datetime | None = None) -> dict[str, int]:
    """The periodic job: warn, mark overdue and escalate what is due; returns how many of each."""
    runtime = get_runtime()
    now = now or utcnow()
    deadlines = routing_settings(runtime.config).deadlines
    calendar = calendar_for(runtime.config)
    todo = _scan(now, deadlines, calendar)
    counts = {"warned": 0, "overdue": 0, "escalated": 0}
    for start in range(0, len(todo), ACT_BATCH):
        for key, value in _act(todo[start : start + ACT_BATCH], now, deadlines, calendar).items():
            counts[key] += value
    if any(counts.values()):
        log.info("supervision: %(warned)d warned, %(overdue)d overdue, %(escalated)d escalated", counts)
    return counts


def _scan(now: datetime, deadlines: DeadlineSettings, calendar: WorkCalendar) -> list[int]:
    """Ids of cases that need a step, from a lock-free read of their clock columns."""
    runtime = get_runtime()
    todo: list[int] = []
    last = 0
    while True:
        with runtime.db.transaction() as session:
            rows = session.execute(
                select(
                    Case.id,
                    Case.status,
                    Case.dispatched_at,
                    Case.respond_due_at,
                    Case.finish_due_at,
                    Case.feedback_due_at,
                    Case.warned_at,
                    Case.overdue_at,
                    Case.escalated_at,
                )
                # The status leads the (status, finish_due_at) index; a case with every mark needs nothing.
                .where(
                    Case.status.in_(SUPERVISED_STATUSES),
                    or_(Case.warned_at.is_(None), Case.overdue_at.is_(None), Case.escalated_at.is_(None)),
                    Case.id > last,
                )
                .order_by(Case.id)
                .limit(SCAN_BATCH)
            ).all()
        todo.extend(row.id for row in rows if steps_due(row, now, deadlines, calendar))  # type: ignore[arg-type]
        if len(rows) < SCAN_BATCH:
            return todo
        last = rows[-1].id


def _act(ids: Sequence[int], now: datetime, deadlines: DeadlineSettings, calendar: WorkCalendar) -> dict[str, int]:
    runtime = get_runtime()
    lang = runtime.config.server.default_language
    counts = {"warned": 0, "overdue": 0, "escalated": 0}
    with runtime.db.transaction() as session:
        cases = session.scalars(
            select(Case)
            .where(Case.id.in_(ids))
            .order_by(Case.id)
            # Another scheduler holding a case is acting on it; its commit makes our re-check a no-op.
            .with_for_update(skip_locked=True)
        ).all()
        changed: list[str] = []
        for case in cases:
            # Re-checked under the lock: the scan's view may be stale by now.
            steps = steps_due(case, now, deadlines, calendar)
            if not steps:
                continue
            name = CLOCK_OF_STATUS[case.status]
            due: datetime = getattr(case, f"{name}_due_at")
            detail: dict[str, Any] = {"clock": name, "due": due.isoformat()}
            unit = session.get(Department, case.department_code) if case.department_code else None
            if OVERDUE in steps:
                case.overdue_at = now
                record(session, case, "overdue", actor="system", detail=detail, at=now)
                counts["overdue"] += 1
            if ESCALATE in steps:
                case.escalated_at = now
                case.urge_count = (case.urge_count or 0) + 1  # escalation is the strongest urge
                record(
                    session, case, "escalated", actor="system", detail={**detail, "urge_count": case.urge_count}, at=now
                )
                unit_name = (unit.name_en if lang == "en" else unit.name_zh) if unit else case.department_code or ""
                body = translate("sms.escalated", lang, unit=unit_name, **_sms_values(case, name, due, calendar, lang))
                text_unit(session, case, unit.head_phone if unit else None, body, "system", "head")
                counts["escalated"] += 1
            if WARN in steps:
                case.warned_at = now
                record(session, case, "deadline_warning", actor="system", detail=detail, at=now)
                body = translate("sms.deadline_warning", lang, **_sms_values(case, name, due, calendar, lang))
                text_unit(session, case, unit.duty_phone if unit else None, body, "system", "duty")
                counts["warned"] += 1
            changed.append(case.number)
        if changed:
            # The wallboard and consoles re-read their figures on any queue event.
            after_commit(session, lambda: publish_queue_event({"event": "supervision", "cases": changed}))
    return counts


def urge(session: Session, case: Case, *, actor: str, note: str = "") -> CaseEvent:
    """A supervisor's urge (催办): count it, record it with ``note`` and text the unit's duty phone.

    Load ``case`` with ``for_update=True`` so that two urges at once both count.
    """
    if case.status not in SUPERVISED_STATUSES:
        raise IllegalTransition(case.number, case.status.value, "urge")
    note = note.strip()
    case.urge_count = (case.urge_count or 0) + 1
    detail: dict[str, Any] = {"urge_count": case.urge_count}
    if note:
        detail["note"] = note
    event = record(session, case, "urged", actor=actor, detail=detail)
    lang = get_runtime().config.server.default_language
    unit = session.get(Department, case.department_code) if case.department_code else None
    body = translate("sms.urged", lang, number=case.number, note=note).strip()
    text_unit(session, case, unit.duty_phone if unit else None, body, actor, "duty")
    return event


def _sms_values(case: Case, clock: str, due: datetime, calendar: WorkCalendar, lang: str) -> dict[str, str]:
    return {
        "number": case.number,
        "clock": translate(f"clock.{clock}", lang),
        "due": due.astimezone(calendar.zone).strftime("%m-%d %H:%M"),
    }
