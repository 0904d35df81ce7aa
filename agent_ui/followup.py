"""The closed loop in the web UI: the department side (签收, 退单, 延期, 办结反馈) and the center's
follow-up (extension decisions, 核查, 结案, reopening, 催办). The work itself is in :mod:`routing.loop`.

JSON endpoints live under ``/console/api/`` so that sign-in and CSRF work as for the console.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, render_template, request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from agent_ui.auth import CONSOLE_ROLES, login_required
from agent_ui.duplicates import channel_label
from agent_ui.errors import ActionRefused
from agent_ui.merged import report_lines, stored_photos
from agent_ui.web import acting_user, json_body
from intake.auth import Role
from intake.models import Attachment, Case, CaseEvent, User, utcnow
from intake.phones import mask_phone
from intake.states import CaseStatus
from intake.web import attachment_response, json_error, lang, runtime, t
from routing import loop
from routing.errors import ActionDenied
from routing.models import Department

bp = Blueprint("followup", __name__)

#: Department staff act on their unit's cases; supervisors and admins may act for any unit.
UNIT_ROLES = (Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
#: Statuses a unit works on.
WITH_UNIT = (CaseStatus.DISPATCHED, CaseStatus.ACCEPTED, CaseStatus.HANDLED)
#: Rows on the department's list.
UNIT_LIST_ROWS = 200


@bp.errorhandler(ActionDenied)
@bp.errorhandler(ActionRefused)
def _denied(err: ActionDenied | ActionRefused) -> Response:
    return json_error(err.status, err.message)


def _run(step: Any, number: str, *args: Any, **kwargs: Any) -> Response:
    with runtime().db.transaction() as session:
        case = step(session, number, acting_user(), *args, **kwargs)
        answer = {"number": case.number, "status": case.status.value}
    return jsonify(answer)


def _local_deadline(value: object) -> datetime:
    """A ``datetime-local`` value (local time of the district) as an aware datetime."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as err:
        raise ActionDenied(400, "until: expected a date and time like 2026-12-01T18:00") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(runtime().config.server.timezone))
    return moment


# --- the unit's side -------------------------------------------------------------------------


@bp.post("/console/api/cases/<number>/sign")
@login_required(*UNIT_ROLES)
def sign(number: str) -> Response:
    return _run(loop.sign, number)


@bp.post("/console/api/cases/<number>/return")
@login_required(*UNIT_ROLES)
def return_case(number: str) -> Response:
    return _run(loop.return_case, number, str(json_body().get("reason", "")))


@bp.post("/console/api/cases/<number>/extension")
@login_required(*UNIT_ROLES)
def request_extension(number: str) -> Response:
    body = json_body()
    return _run(loop.request_extension, number, _local_deadline(body.get("until")), str(body.get("reason", "")))


@bp.post("/console/api/cases/<number>/result")
@login_required(*UNIT_ROLES)
def report_result(number: str) -> Response:
    """Multipart (a note and photos from the page) or JSON (a note only)."""
    if request.mimetype == "multipart/form-data":
        note = request.form.get("note", "")
        photos = [
            loop.Photo(file.filename or "", file.mimetype or "application/octet-stream", file.read())
            for file in request.files.getlist("photos")
            if file.filename
        ]
    else:
        note, photos = str(json_body().get("note", "")), []
    return _run(loop.report_result, number, note, photos)


# --- the center's follow-up ------------------------------------------------------------------


@bp.post("/console/api/cases/<number>/extension/decide")
@login_required(*SUPERVISORS)
def decide_extension(number: str) -> Response:
    body = json_body()
    if not isinstance(body.get("approve"), bool):
        raise ActionDenied(400, "approve: true or false")
    return _run(loop.decide_extension, number, approve=body["approve"], note=str(body.get("note", "")))


@bp.post("/console/api/cases/<number>/check")
@login_required(*CONSOLE_ROLES)
def check(number: str) -> Response:
    body = json_body()
    if not isinstance(body.get("passed"), bool):
        raise ActionDenied(400, "passed: true or false")
    return _run(
        loop.check, number, passed=body["passed"], method=str(body.get("method", "")), note=str(body.get("note", ""))
    )


@bp.post("/console/api/cases/<number>/close")
@login_required(*CONSOLE_ROLES)
def close(number: str) -> Response:
    return _run(loop.close, number, str(json_body().get("note", "")))


@bp.post("/console/api/cases/<number>/reopen")
@login_required(*SUPERVISORS)
def reopen(number: str) -> Response:
    return _run(loop.reopen, number, str(json_body().get("reason", "")))


@bp.post("/console/api/cases/<number>/urge")
@login_required(*SUPERVISORS)
def urge(number: str) -> Response:
    from routing.supervision import urge as urge_case

    note = str(json_body().get("note", "")).strip()[:500]
    with runtime().db.transaction() as session:
        case = loop.case_for_update(session, number)
        if case.status not in WITH_UNIT:
            raise ActionDenied(409, f"case {number} is {case.status.value}: no unit to urge")
        urge_case(session, case, actor=f"user:{acting_user().username}", note=note)
        answer = {"number": case.number, "urges": case.urge_count}
    return jsonify(answer)


# --- the department's pages ------------------------------------------------------------------


def _unit_scope(user: User, entity: Any = Case) -> Any:
    """What a user may see on the department pages: their unit's cases, or all for supervisors."""
    if user.role == Role.DEPARTMENT:
        return entity.department_code == (user.department_code or "")
    return entity.department_code.is_not(None)


@bp.get("/dept")
@login_required(*UNIT_ROLES)
def unit_cases() -> str:
    user = acting_user()
    zone = ZoneInfo(runtime().config.server.timezone)
    now = utcnow()
    with runtime().db.transaction() as session:
        cases = session.scalars(
            select(Case)
            .where(_unit_scope(user), Case.status.in_(WITH_UNIT))
            .order_by(Case.due_at.is_(None), Case.due_at, Case.id)
            .limit(UNIT_LIST_ROWS)
        ).all()
        rows = [
            {
                "number": case.number,
                "status": t(f"status.{case.status.value}"),
                "summary": case.summary,
                "due": _local(case.due_at, zone),
                "due_iso": case.due_at.isoformat() if case.due_at else "",
                "overdue": case.due_at is not None and case.due_at < now,
                "urges": case.urge_count,
            }
            for case in cases
        ]
        unit = _unit_name(session, user.department_code)
    return render_template("console/unit_cases.html", rows=rows, unit=unit, user=user)


@bp.get("/dept/cases/<number>")
@login_required(*UNIT_ROLES)
def unit_case(number: str) -> str | tuple[str, int]:
    user = acting_user()
    zone = ZoneInfo(runtime().config.server.timezone)
    with runtime().db.transaction() as session:
        case = session.scalar(select(Case).where(Case.number == number, _unit_scope(user)))
        if case is None:
            return render_template("console/message.html", message=t("console.case.not_found"), user=user), 404
        view = case_view(session, case, zone)
    return render_template("console/unit_case.html", case=view, user=user, attachment_url="followup.unit_attachment")


@bp.get("/dept/attachments/<int:attachment_id>")
@login_required(*UNIT_ROLES)
def unit_attachment(attachment_id: int) -> Response:
    user = acting_user()
    # The unit's cases, and the duplicates merged into them (their reporters' photos show on the case).
    surviving = aliased(Case)
    visible = select(surviving.id).where(_unit_scope(user, surviving))
    return attachment_response(
        attachment_id, restrict=lambda query: query.where(or_(_unit_scope(user), Case.merged_into_id.in_(visible)))
    )


def case_view(session: Session, case: Case, zone: ZoneInfo) -> dict[str, Any]:
    """What the unit sees of a case (and the console's follow-up panel): no full phone numbers."""
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    result_photos = session.execute(
        select(Attachment.id, Attachment.filename).where(
            Attachment.case_id == case.id, Attachment.event_id.is_not(None)
        )
    ).all()
    return {
        "number": case.number,
        "status": case.status.value,
        "status_label": t(f"status.{case.status.value}"),
        "summary": case.summary,
        "category": case.category,
        "address": case.address,
        "grid_code": case.grid_code,
        "reporter": mask_phone(case.reporter_phone),
        "department": _unit_name(session, case.department_code),
        # Its own reports and those of the duplicates merged into it, each with channel and contact.
        "reports": report_lines(session, case, zone, lang()),
        "photos": stored_photos(session, case),
        "merged_into": session.scalar(select(Case.number).where(Case.id == case.merged_into_id))
        if case.merged_into_id
        else None,
        "result_photos": list(result_photos),
        "respond_due": _local(case.respond_due_at, zone),
        "finish_due": _local(case.finish_due_at, zone),
        "feedback_due": _local(case.feedback_due_at, zone),
        "due_iso": case.due_at.isoformat() if case.due_at else "",
        "extension_until": _local(case.extension_until, zone),
        "return_count": case.return_count,
        "urge_count": case.urge_count,
        "satisfaction": case.satisfaction,
        "history": [(_local(e.at, zone), _label(e.kind), e.actor, _note(e.detail)) for e in events],
    }


def _note(detail: dict[str, Any] | None) -> str:
    detail = detail or {}
    text = str(detail.get("reason") or detail.get("result") or detail.get("note") or "")
    if text:
        return text
    if detail.get("into"):  # merged (or carried along) into another case
        return f"→ {detail['into']}"
    if detail.get("from_channel"):  # a duplicate merged in, and the channel it came through
        return f"← {detail.get('from', '')} ({channel_label(str(detail['from_channel']), lang())})"
    return ""


def _label(kind: str) -> str:
    text = t(f"event.{kind}")
    return kind if text == f"event.{kind}" else text


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def _unit_name(session: Session, code: str | None) -> str:
    if not code:
        return ""
    row = session.execute(select(Department.name_zh, Department.name_en).where(Department.code == code)).first()
    if row is None:
        return code
    return row.name_en if lang() == "en" and row.name_en else row.name_zh
