"""Call records and call-back tasks: what every driver writes as a call goes through menu and queue.

Drivers name a call by ``(provider, provider call id)``. Every function here is idempotent and safe
against the provider's callbacks arriving late, twice or out of order: a call's status only moves
forward (:data:`STATUS_RANK`), a call leaves at most one call-back task, and an abandoned call is
recognised whichever comes first, the queue's "hang-up" result or the call's final status.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from intake.models import Case, ReportRecord, User, utcnow
from intake.phones import mask_phone
from intake.runtime import get_runtime
from intake.states import OPEN_STATUSES
from ivr.models import CallbackRequest, CallbackStatus, CallRecord, QueueOutcome
from ivr.settings import ivr_settings

log = logging.getLogger(__name__)

#: Order of a call's statuses: a callback with a lower rank than the stored status changes nothing.
STATUS_RANK = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "completed": 4,
    "busy": 4,
    "failed": 4,
    "no-answer": 4,
    "canceled": 4,
}
#: Statuses after which a call is over.
FINAL_STATUSES = frozenset(status for status, rank in STATUS_RANK.items() if rank == 4)
#: The channel of the reports calls make (voice messages, agents' cases from calls).
HOTLINE_CHANNEL = "hotline"
#: Earlier cases of the caller shown when a call reaches an agent.
HISTORY_CASES = 10
#: How long after it was answered a call still counts as an agent's current call if its end never
#: arrived, in hours.
CURRENT_CALL_HOURS = 4


@dataclass(frozen=True)
class CallKey:
    provider: str
    call_id: str


def call_started(key: CallKey, caller_phone: str | None, called_number: str | None, lang: str | None = None) -> int:
    """Record a new call (or find it: providers retry their first webhook). Returns its record id."""
    runtime = get_runtime()
    now = utcnow()
    values = {
        "provider": key.provider,
        "provider_call_id": key.call_id,
        "caller_phone": caller_phone,
        "called_number": called_number,
        "language": lang,
        "status": "ringing",
        "started_at": now,
        "updated_at": now,
        "menu_path": [],
    }
    dialect_insert = pg_insert if not runtime.db.is_sqlite else sqlite_insert
    table = CallRecord.__table__
    with runtime.db.engine.begin() as conn:
        conn.execute(dialect_insert(table).values(**values).on_conflict_do_nothing())
        record_id = conn.execute(
            select(table.c.id).where(table.c.provider == key.provider, table.c.provider_call_id == key.call_id)
        ).scalar_one()
    log.info("call %s/%s from %s started", key.provider, key.call_id, mask_phone(caller_phone))
    return int(record_id)


def record_path(key: CallKey, path: list[str], lang: str | None) -> None:
    """Store the call's way through the menu so far."""
    with get_runtime().db.engine.begin() as conn:
        conn.execute(
            update(CallRecord)
            .where(CallRecord.provider == key.provider, CallRecord.provider_call_id == key.call_id)
            .values(menu_path=list(path), language=lang, updated_at=utcnow())
        )


def get_call(session: Session, key: CallKey, *, for_update: bool = False) -> CallRecord | None:
    query = select(CallRecord).where(CallRecord.provider == key.provider, CallRecord.provider_call_id == key.call_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def caller_of(key: CallKey) -> str | None:
    with get_runtime().db.engine.connect() as conn:
        return conn.execute(
            select(CallRecord.caller_phone).where(
                CallRecord.provider == key.provider, CallRecord.provider_call_id == key.call_id
            )
        ).scalar_one_or_none()


def enqueued(key: CallKey, queue: str, priority: int, path: list[str], lang: str) -> None:
    """The caller joined the queue. A second enqueue of the same call keeps the first time (its place)."""
    now = utcnow()
    with get_runtime().db.transaction() as session:
        call = get_call(session, key, for_update=True)
        if call is None:
            log.warning("enqueue of a call we do not know: %s/%s", key.provider, key.call_id)
            return
        if call.status in FINAL_STATUSES:
            return  # the caller is gone already (the final status overtook this request)
        call.queue, call.priority, call.queue_state = queue, priority, "waiting"
        call.enqueued_at = call.enqueued_at or now
        call.menu_path, call.language, call.updated_at = list(path), lang, now
    log.info("call %s/%s queued in %s at priority %s", key.provider, key.call_id, queue, priority)


def agent_connected(key: CallKey, user_id: int, wait_seconds: int | None) -> CallRecord | None:
    """An agent took the call. Returns the record (detached), or None for a call we do not know."""
    now = utcnow()
    with get_runtime().db.transaction() as session:
        call = get_call(session, key, for_update=True)
        if call is None:
            return None
        if call.agent_id is None:
            call.agent_id = user_id
            call.answered_at = now
        call.queue_state, call.outcome = "answered", QueueOutcome.ANSWERED
        if wait_seconds is not None:
            call.wait_seconds = wait_seconds
        elif call.enqueued_at is not None and call.wait_seconds is None:
            call.wait_seconds = int((now - call.enqueued_at).total_seconds())
        call.updated_at = now
        session.flush()
        session.expunge(call)
    log.info("call %s/%s answered by user %s after %ss", key.provider, key.call_id, user_id, call.wait_seconds)
    return call


def left_queue(key: CallKey, outcome: str | None, wait_seconds: int | None = None) -> None:
    """The caller left the queue alive: for a voice message or a call back (``QueueOutcome``), or because
    the provider could not keep them there (``outcome`` None)."""
    with get_runtime().db.transaction() as session:
        call = get_call(session, key, for_update=True)
        if call is None:
            return
        if call.queue_state == "waiting":
            call.queue_state = "left"
        if outcome is not None and call.outcome != QueueOutcome.ANSWERED:
            call.outcome = outcome
        if wait_seconds is not None:
            call.wait_seconds = wait_seconds
        call.updated_at = utcnow()


def voicemail_left(key: CallKey) -> None:
    """The caller recorded a voice message (at the menu, or instead of waiting)."""
    left_queue(key, QueueOutcome.VOICEMAIL)


def request_callback(key: CallKey, reason: str) -> bool:
    """Leave a call-back task for the call; False when it has one already. Keeps the caller's place."""
    with get_runtime().db.transaction() as session:
        call = get_call(session, key, for_update=True)
        if call is None:
            log.warning("call-back asked for by a call we do not know: %s/%s", key.provider, key.call_id)
            return False
        created = _add_callback(session, call, reason)
        if call.queue_state == "waiting":
            call.queue_state = "left"
        if call.outcome != QueueOutcome.ANSWERED:
            call.outcome = QueueOutcome.CALLBACK
        call.updated_at = utcnow()
    return created


def abandoned(key: CallKey, wait_seconds: int | None = None) -> bool:
    """The caller hung up while waiting: count it and leave a call-back task. True the first time."""
    with get_runtime().db.transaction() as session:
        call = get_call(session, key, for_update=True)
        if call is None:
            return False
        return _abandon(session, call, wait_seconds)


def status_changed(
    key: CallKey, status: str, *, duration_seconds: int | None = None, at: datetime | None = None
) -> bool:
    """Apply the provider's call status if it is newer than the stored one. True when it changed.

    A final status ends the call; a caller still waiting in the queue then abandoned it.
    """
    rank = STATUS_RANK.get(status)
    if rank is None:
        raise ValueError(f"unknown call status {status!r}")
    with get_runtime().db.transaction() as session:
        call = get_call(session, key, for_update=True)
        if call is None:
            log.info("status %s for a call we do not know: %s/%s", status, key.provider, key.call_id)
            return False
        if rank <= STATUS_RANK.get(call.status, 0):
            return False
        call.status = status
        call.updated_at = utcnow()
        if status in FINAL_STATUSES:
            call.ended_at = at or utcnow()
            call.duration_seconds = duration_seconds
            if call.queue_state == "waiting":
                _abandon(session, call, None)
            _link_voice_message(session, call)
    log.info("call %s/%s is %s", key.provider, key.call_id, status)
    return True


def link_case(key: CallKey, case_id: int) -> None:
    with get_runtime().db.engine.begin() as conn:
        conn.execute(
            update(CallRecord)
            .where(CallRecord.provider == key.provider, CallRecord.provider_call_id == key.call_id)
            .values(case_id=case_id, updated_at=utcnow())
        )


def _add_callback(session: Session, call: CallRecord, reason: str) -> bool:
    existing = session.scalar(select(CallbackRequest.id).where(CallbackRequest.call_id == call.id))
    if existing is not None:
        return False
    session.add(
        CallbackRequest(
            call_id=call.id,
            phone=call.caller_phone,
            language=call.language,
            reason=reason,
            queued_at=call.enqueued_at or call.started_at,
            requested_at=utcnow(),
            status=CallbackStatus.OPEN,
        )
    )
    log.info("call-back task for call %s/%s (%s)", call.provider, call.provider_call_id, reason)
    return True


def _abandon(session: Session, call: CallRecord, wait_seconds: int | None) -> bool:
    if call.queue_state != "waiting":
        return False
    call.queue_state, call.outcome = "abandoned", QueueOutcome.ABANDONED
    now = utcnow()
    if wait_seconds is not None:
        call.wait_seconds = wait_seconds
    elif call.enqueued_at is not None:
        call.wait_seconds = int((now - call.enqueued_at).total_seconds())
    call.updated_at = now
    _add_callback(session, call, "abandoned")
    log.info("call %s/%s abandoned after %ss in the queue", call.provider, call.provider_call_id, call.wait_seconds)
    return True


def _link_voice_message(session: Session, call: CallRecord) -> None:
    if call.case_id is not None:
        return
    call.case_id = session.scalar(
        select(ReportRecord.case_id)
        .where(
            ReportRecord.channel == HOTLINE_CHANNEL,
            ReportRecord.source_id.like(f"{call.provider_call_id}:%"),
        )
        .limit(1)
    )


# --- what the menu asks for ----------------------------------------------------------------------


def case_status_for(phone: str | None, number: str) -> str | None:
    """The status of case ``number`` if ``phone`` reported it (as the SMS channel answers), else None."""
    if not phone:
        return None
    with get_runtime().db.engine.connect() as conn:
        status = conn.execute(
            select(Case.status)
            .join(ReportRecord, ReportRecord.case_id == Case.id)
            .where(Case.number == number, ReportRecord.contact_phone == phone)
            .limit(1)
        ).scalar_one_or_none()
    return status.value if status is not None else None


def open_case_of(phone: str | None) -> str | None:
    """The number of the caller's most recent open case, whichever channel it came by."""
    if not phone:
        return None
    with get_runtime().db.engine.connect() as conn:
        return conn.execute(
            select(Case.number)
            .join(ReportRecord, ReportRecord.case_id == Case.id)
            .where(ReportRecord.contact_phone == phone, Case.status.in_(list(OPEN_STATUSES)))
            .order_by(ReportRecord.received_at.desc())
            .limit(1)
        ).scalar_one_or_none()


# --- what agents and supervisors see --------------------------------------------------------------


def current_call_for(user_id: int) -> dict[str, Any] | None:
    """The call ``user_id`` is on (answered, not yet ended): caller, history and a draft case, for the console.

    Numbers are masked; the draft is what a case from this call would start with.
    """
    since = utcnow() - timedelta(hours=CURRENT_CALL_HOURS)
    with get_runtime().db.transaction() as session:
        call = session.scalar(
            select(CallRecord)
            .where(CallRecord.agent_id == user_id, CallRecord.ended_at.is_(None), CallRecord.answered_at >= since)
            .order_by(CallRecord.answered_at.desc())
            .limit(1)
        )
        if call is None:
            return None
        history = _history(session, call.caller_phone)
        case_number = session.scalar(select(Case.number).where(Case.id == call.case_id)) if call.case_id else None
    open_case = next((item["number"] for item in history if item["open"]), None)
    return {
        "call": {
            "id": call.id,
            "provider": call.provider,
            "call_id": call.provider_call_id,
            "caller": mask_phone(call.caller_phone),
            "language": call.language,
            "started_at": call.started_at.isoformat(),
            "answered_at": call.answered_at.isoformat() if call.answered_at else None,
            "wait_seconds": call.wait_seconds,
            "priority": call.priority,
            "menu_path": call.menu_path,
            "case": case_number,
        },
        "history": history,
        "open_case": open_case,
        "draft": {
            "channel": HOTLINE_CHANNEL,
            "source_id": call.provider_call_id,
            "caller": mask_phone(call.caller_phone),
            "priority": call.priority or 3,
            "joins": open_case,
            "text": "",
        },
    }


def _history(session: Session, phone: str | None) -> list[dict[str, Any]]:
    if not phone:
        return []
    rows = session.execute(
        select(Case.number, Case.status, Case.summary, Case.created_at, Case.channel)
        .where(
            or_(
                Case.reporter_phone == phone,
                Case.id.in_(select(ReportRecord.case_id).where(ReportRecord.contact_phone == phone)),
            )
        )
        .order_by(Case.id.desc())
        .limit(HISTORY_CASES)
    ).all()
    return [
        {
            "number": row.number,
            "status": row.status.value,
            "open": row.status in OPEN_STATUSES,
            "summary": row.summary,
            "channel": row.channel,
            "created_at": row.created_at.isoformat(),
        }
        for row in rows
    ]


def open_callbacks(limit: int = 100) -> list[dict[str, Any]]:
    """Open call-back tasks in the callers' order (their place in the queue); numbers masked."""
    with get_runtime().db.transaction() as session:
        rows = session.execute(
            select(CallbackRequest, CallRecord.provider_call_id)
            .join(CallRecord, CallRecord.id == CallbackRequest.call_id)
            .where(CallbackRequest.status == CallbackStatus.OPEN)
            .order_by(CallbackRequest.queued_at, CallbackRequest.id)
            .limit(limit)
        ).all()
        return [
            {
                "id": task.id,
                "call_id": call_id,
                "caller": mask_phone(task.phone),
                "language": task.language,
                "reason": task.reason,
                "queued_at": task.queued_at.isoformat(),
                "requested_at": task.requested_at.isoformat(),
            }
            for task, call_id in rows
        ]


def complete_callback(callback_id: int, user_id: int, note: str | None = None) -> bool:
    """Mark a call-back task done; False if it was not open."""
    with get_runtime().db.engine.begin() as conn:
        done = conn.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == callback_id, CallbackRequest.status == CallbackStatus.OPEN)
            .values(status=CallbackStatus.DONE, done_by_id=user_id, done_at=utcnow(), note=note)
        ).rowcount
    return bool(done)


def queue_snapshot(since: datetime | None = None) -> dict[str, Any]:
    """The hotline at a glance (wallboard): waiting now, longest wait, agents available, and since ``since``
    (default: 24 h) calls, answered, abandoned, voice messages, call-backs asked for, open call-back tasks."""
    since = since or utcnow() - timedelta(hours=24)
    now = utcnow()
    roles = ivr_settings(get_runtime().config).queue.agent_roles
    with get_runtime().db.engine.connect() as conn:
        waiting, oldest = conn.execute(
            select(func.count(), func.min(CallRecord.enqueued_at)).where(CallRecord.queue_state == "waiting")
        ).one()
        outcomes = dict(
            conn.execute(
                select(CallRecord.outcome, func.count())
                .where(CallRecord.started_at >= since, CallRecord.outcome.is_not(None))
                .group_by(CallRecord.outcome)
            ).all()
        )
        calls = conn.execute(select(func.count()).where(CallRecord.started_at >= since)).scalar_one()
        open_tasks = conn.execute(
            select(func.count()).select_from(CallbackRequest).where(CallbackRequest.status == CallbackStatus.OPEN)
        ).scalar_one()
        available = conn.execute(
            select(func.count())
            .select_from(User)
            .where(User.presence == "available", User.active.is_(True), User.role.in_(roles))
        ).scalar_one()
    return {
        "waiting": waiting,
        "longest_wait_seconds": int((now - oldest).total_seconds()) if oldest else 0,
        "calls": calls,
        "answered": outcomes.get(QueueOutcome.ANSWERED, 0),
        "abandoned": outcomes.get(QueueOutcome.ABANDONED, 0),
        "voicemail": outcomes.get(QueueOutcome.VOICEMAIL, 0),
        "callback": outcomes.get(QueueOutcome.CALLBACK, 0),
        "open_callbacks": open_tasks,
        "agents_available": available,
    }
