"""HTTP for leaders: "my assignments" (``/leader``), one assignment's case (``/leader/cases/<number>``),
and their actions as console JSON (``/console/api/leader/...``: signed in, CSRF like the console).

The console shows the mark through the ``leader_mark(number)`` template global (case page) and
``GET /console/api/leader/marks`` (the queue's rows).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from agent_ui.auth import CONSOLE_ROLES, current_user, login_required
from agent_ui.followup import case_view
from agent_ui.web import acting_user
from channels.app.errors import InvalidField
from channels.app.mobile import error_response, idempotency_key, number_field, text_field
from channels.errors import ChannelError
from channels.leader import assign
from channels.leader.models import LeaderAssignment
from channels.web.views import category_groups
from intake import InvalidReport
from intake.auth import Role
from intake.categories import is_known
from intake.models import Case, User, utcnow
from intake.states import FINAL_STATUSES
from intake.web import lang, runtime, t

bp = Blueprint(
    "leader", __name__, template_folder="templates", static_folder="static/leader", static_url_path="/leader/static"
)

#: Who gives assignments: the district's leaders (and admins, who stand in for them).
LEADER_ROLES = (Role.LEADER, Role.ADMIN)
#: Everybody who may see a mark: the console's users and the leaders.
MARK_ROLES = (*CONSOLE_ROLES, Role.LEADER)


@bp.errorhandler(ChannelError)
def _channel_error(err: ChannelError) -> Response:
    return error_response(err)


@bp.errorhandler(InvalidReport)
def _invalid_report(err: InvalidReport) -> Response:
    return error_response(InvalidField(err.field, err.problem))


def _zone() -> ZoneInfo:
    return ZoneInfo(runtime().config.server.timezone)


def _local(moment: datetime | None) -> str:
    return moment.astimezone(_zone()).strftime("%Y-%m-%d %H:%M") if moment else ""


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidField("body", "expected a JSON object")
    return body


def _priority(body: dict[str, Any]) -> int:
    value = body.get("priority", 1)
    try:
        priority = int(value)
    except (TypeError, ValueError) as err:
        raise InvalidField("priority", "1 (urgent) to 4 (low)") from err
    if isinstance(value, bool) or priority not in (1, 2, 3, 4):
        raise InvalidField("priority", "1 (urgent) to 4 (low)")
    return priority


def _due(body: dict[str, Any]) -> datetime | None:
    """``due``: ISO 8601; without an offset it is local time of the district (a datetime-local field)."""
    value = str(body.get("due") or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise InvalidField("due", "a date and time like 2026-12-01T18:00") from err
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_zone())


# --- actions -----------------------------------------------------------------------------------


@bp.post("/console/api/leader/assignments")
@login_required(*LEADER_ROLES)
def create() -> tuple[Response, int]:
    """A new case by the leader's assignment."""
    body = _body()
    category = text_field(body, "category", 64) or None
    if category and not is_known(category):
        raise InvalidField("category", f"unknown category {category!r}")
    lat, lon = number_field(body, "lat"), number_field(body, "lon")
    if (lat is None) != (lon is None):
        raise InvalidField("lon" if lon is None else "lat", "give both lat and lon")
    new = assign.NewCase(
        text=text_field(body, "text", 2000, required=True),
        instruction=text_field(body, "instruction", assign.MAX_INSTRUCTION_CHARS, required=True),
        priority=_priority(body),
        due_at=_due(body),
        category=category,
        address=text_field(body, "address", 200) or None,
        lat=lat,
        lon=lon,
        client_id=idempotency_key(request.headers.get("Idempotency-Key"), body),
    )
    number, duplicate = assign.create_case(acting_user(), new, lang=lang())
    return jsonify({"case_number": number, "duplicate": duplicate}), 200 if duplicate else 201


@bp.post("/console/api/leader/cases/<number>/flag")
@login_required(*LEADER_ROLES)
def flag(number: str) -> Response:
    """Mark an existing open case with the leader's instruction, priority and deadline."""
    body = _body()
    with runtime().db.transaction() as session:
        case = assign.flag_case(
            session,
            number,
            acting_user(),
            instruction=text_field(body, "instruction", assign.MAX_INSTRUCTION_CHARS, required=True),
            priority=_priority(body),
            due_at=_due(body),
        )
        answer = {"case_number": case.number, "priority": case.priority, "due_at": _iso(case.due_at)}
    return jsonify(answer)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@bp.get("/console/api/leader/assignments")
@login_required(*LEADER_ROLES)
def my_assignments_json() -> Response:
    with runtime().db.transaction() as session:
        return jsonify({"assignments": _rows(session, acting_user())})


@bp.get("/console/api/leader/marks")
@login_required(*MARK_ROLES)
def marks_json() -> Response:
    """Open cases that carry a leader's mark, for the queue: number → priority and deadline."""
    with runtime().db.transaction() as session:
        numbers = dict(
            session.execute(
                select(Case.id, Case.number).where(
                    Case.id.in_(assign.marked_case_ids()), Case.status.not_in(list(FINAL_STATUSES))
                )
            ).all()
        )
        found = assign.marks(session, list(numbers))
    return jsonify(
        {
            "marks": {
                numbers[case_id]: {"priority": mark["priority"], "due_at": _iso(mark["due_at"])}
                for case_id, mark in found.items()
            },
            "label": t("leader.mark"),
        }
    )


def _rows(session: Session, leader: User) -> list[dict[str, Any]]:
    now = utcnow()
    rows = []
    for row, own in assign.assignments_of(session, leader):
        # A case merged into another: the leader follows the surviving case.
        case = (session.get(Case, own.merged_into_id) if own.merged_into_id else None) or own
        rows.append(
            {
                "case_number": case.number,
                "assigned_case": own.number,
                "summary": case.summary,
                "status": case.status.value,
                "status_text": t(f"status.{case.status.value}"),
                "instruction": row.instruction,
                "priority": row.priority,
                "leader_due": _local(row.due_at),
                "due": _local(case.due_at),
                "due_at": _iso(case.due_at),
                "overdue": case.due_at is not None and case.due_at < now and case.status not in FINAL_STATUSES,
                "department": case.department_code or "",
                "created_case": row.created_case,
                "assigned_at": _local(row.created_at),
            }
        )
    return rows


# --- pages -------------------------------------------------------------------------------------


@bp.get("/leader")
@login_required(*LEADER_ROLES)
def page() -> str:
    user = acting_user()
    with runtime().db.transaction() as session:
        rows = _rows(session, user)
    return render_template("leader/assignments.html", rows=rows, user=user, groups=category_groups(lang()))


@bp.get("/leader/cases/<number>")
@login_required(*LEADER_ROLES)
def case_page(number: str) -> tuple[str, int] | str | BaseResponse:
    """The leader follows a case: its status, unit, clocks, the unit's result and its history."""
    user = acting_user()
    with runtime().db.transaction() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        # The leader's own case, or one theirs was merged into (they follow the surviving case).
        mine = case is not None and session.scalar(
            select(LeaderAssignment.id).where(
                or_(
                    LeaderAssignment.case_id == case.id,
                    LeaderAssignment.case_id.in_(select(Case.id).where(Case.merged_into_id == case.id)),
                ),
                LeaderAssignment.leader_id == user.id,
            )
        )
        if case is None or (not mine and user.role != Role.ADMIN):
            return render_template("console/message.html", message=t("console.case.not_found"), user=user), 404
        if case.merged_into_id is not None:
            surviving = session.scalar(select(Case.number).where(Case.id == case.merged_into_id))
            return redirect(url_for("leader.case_page", number=surviving))
        view = case_view(session, case, _zone())
    return render_template("leader/case.html", case=view, user=user)


# --- the console's mark --------------------------------------------------------------------------


def leader_mark(number: str) -> dict[str, Any] | None:
    """The mark of a case for the console's case page: instructions, strictest priority and deadline."""
    user = current_user()
    if user is None:
        return None
    with runtime().db.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        if case_id is None:
            return None
        rows = session.execute(
            select(LeaderAssignment, User.display_name, User.username)
            .join(User, User.id == LeaderAssignment.leader_id)
            .where(LeaderAssignment.case_id == case_id)
            .order_by(LeaderAssignment.id)
        ).all()
        if not rows:
            return None
        return {
            "priority": min(row[0].priority for row in rows),
            "due": _local(min((row[0].due_at for row in rows if row[0].due_at), default=None)),
            "instructions": [
                (display or username, row.instruction, _local(row.created_at)) for row, display, username in rows
            ],
        }


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"leader_mark": leader_mark}
