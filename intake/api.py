"""The read API (``/api/v1/cases``) and ``/healthz``."""

from __future__ import annotations

import base64
import time
from typing import Any

import redis
from flask import Blueprint, Response, jsonify, request
from rq import Queue, Worker
from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session, selectinload

from intake.auth import FULL_PHONE_ROLES, Role
from intake.cases import record
from intake.models import Attachment, Case, CaseEvent, ReportRecord
from intake.phones import mask_phone
from intake.queue import ALL_QUEUES
from intake.states import CaseStatus
from intake.web import attachment_response, csrf, current_user, json_error, require_token, runtime

bp = Blueprint("api", __name__)
csrf.exempt(bp)

#: Page size of ``GET /api/v1/cases`` when none is asked for, and the largest allowed.
DEFAULT_PAGE = 50
MAX_PAGE = 200


def _phone(value: str | None, full: bool) -> str | None:
    if value is None:
        return None
    return value if full else mask_phone(value)


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "number": case.number,
        "status": case.status.value,
        "channel": case.channel,
        "priority": case.priority,
        "category": case.category,
        "summary": case.summary,
        "address": case.address,
        "lat": case.lat,
        "lon": case.lon,
        "grid_code": case.grid_code,
        "department": case.department_code,
        "reporter_phone": _phone(case.reporter_phone, full=False),
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
    }


def _cursor(case_id: int) -> str:
    return base64.urlsafe_b64encode(str(case_id).encode()).decode()


def _decode_cursor(value: str) -> int:
    return int(base64.urlsafe_b64decode(value.encode()).decode())


def _visible(query: Any) -> Any:
    """Department staff see only their unit's cases."""
    user = current_user()
    if user.role == Role.DEPARTMENT:
        return query.where(Case.department_code == user.department_code)
    return query


@bp.get("/api/v1/cases")
@require_token()
def list_cases() -> Response:
    query = _visible(select(Case))
    if statuses := request.args.get("status"):
        try:
            wanted = [CaseStatus(value.strip()) for value in statuses.split(",")]
        except ValueError:
            return json_error(400, f"status: use any of {', '.join(s.value for s in CaseStatus)}")
        query = query.where(Case.status.in_(wanted))
    if channel := request.args.get("channel"):
        query = query.where(Case.channel == channel)
    if text_filter := request.args.get("q", "").strip():
        pattern = f"%{text_filter}%"
        query = query.where(
            or_(Case.summary.ilike(pattern), Case.description.ilike(pattern), Case.number == text_filter)
        )
    try:
        limit = int(request.args.get("limit", DEFAULT_PAGE))
    except ValueError:
        return json_error(400, "limit: must be a whole number")
    if not 1 <= limit <= MAX_PAGE:
        return json_error(400, f"limit: must be 1 to {MAX_PAGE}")
    if cursor := request.args.get("cursor"):
        try:
            query = query.where(Case.id < _decode_cursor(cursor))
        except ValueError:
            return json_error(400, "cursor: not a cursor this API gave out")
    with runtime().db.transaction() as session:
        cases = session.scalars(query.order_by(Case.id.desc()).limit(limit + 1)).all()
        page = cases[:limit]
        body = {
            "cases": [case_summary(case) for case in page],
            "next_cursor": _cursor(page[-1].id) if len(cases) > limit else None,
        }
    return jsonify(body)


@bp.get("/api/v1/cases/<number>")
@require_token()
def get_case(number: str) -> Response:
    user = current_user()
    full = request.args.get("full_phone") == "1"
    if full and Role(user.role) not in FULL_PHONE_ROLES:
        return json_error(403, f"role {user.role} may not see full phone numbers")
    with runtime().db.transaction() as session:
        case = session.scalar(
            _visible(select(Case))
            .where(Case.number == number)
            .options(selectinload(Case.reports).selectinload(ReportRecord.attachments), selectinload(Case.events))
        )
        if case is None:
            return json_error(404, f"no case {number}")
        if full:
            # Seeing a full number is itself part of the case's history.
            record(session, case, "phone_viewed", actor=f"user:{user.username}", detail={"via": "api"})
            session.flush()
        body = _case_detail(session, case, full)
    return jsonify(body)


def _case_detail(session: Session, case: Case, full: bool) -> dict[str, Any]:
    body = case_summary(case)
    body["reporter_phone"] = _phone(case.reporter_phone, full)
    body["description"] = case.description
    body["due_at"] = case.due_at.isoformat() if case.due_at else None
    body["reports"] = [
        {
            "id": report.id,
            "channel": report.channel,
            "source_id": report.source_id,
            "received_at": report.received_at.isoformat(),
            "source_time": report.source_time.isoformat() if report.source_time else None,
            "contact_phone": _phone(report.contact_phone, full),
            "contact_name": report.contact_name,
            "text": report.text,
            "category": report.category,
            "address": report.address,
            "lat": report.lat,
            "lon": report.lon,
            "attachments": [_attachment(a) for a in report.attachments],
        }
        for report in case.reports
    ]
    body["history"] = [
        _event(e) for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    ]
    return body


def _attachment(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "status": attachment.status,
        "size": attachment.size,
        "url": f"/api/v1/attachments/{attachment.id}" if attachment.sha256 else None,
    }


def _event(event: CaseEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "actor": event.actor,
        "channel": event.channel,
        "kind": event.kind,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "detail": event.detail,
    }


@bp.get("/api/v1/attachments/<int:attachment_id>")
@require_token()
def get_attachment(attachment_id: int) -> Response:
    return attachment_response(attachment_id, _visible)


@bp.get("/livez")
def livez() -> Response:
    """Liveness: the process answers. Touches neither database nor Redis (see /healthz)."""
    return Response("ok\n", mimetype="text/plain")


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    rt = runtime()
    body: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        with rt.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        body["database"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}
    except Exception as err:  # report, do not raise: this is the page that says what is wrong
        body["database"] = {"ok": False, "error": type(err).__name__}
    try:
        rt.redis.ping()
        workers = Worker.all(connection=rt.redis)
        body["redis"] = {"ok": True}
        body["workers"] = {
            "count": len(workers),
            "busy": sum(1 for w in workers if w.get_state() == "busy"),
        }
        body["queues"] = {name: Queue(name, connection=rt.redis).count for name in ALL_QUEUES}
    except redis.RedisError as err:
        body["redis"] = {"ok": False, "error": type(err).__name__}
        body["workers"] = {"count": 0}
    healthy = body["database"]["ok"] and body["redis"]["ok"]
    body["status"] = "ok" if healthy and body["workers"]["count"] else ("degraded" if healthy else "down")
    return jsonify(body), 200 if healthy else 503
