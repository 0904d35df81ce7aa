"""The hotline's JSON for the agents' console: the call an agent is on, call-back tasks, the queue.

``GET /console/api/calls/current`` is what the console fetches when the live event stream says
``{"event": "call", "user_id": <its user>}``: the caller (masked), their earlier cases and a draft case.
The console's sign-in (``agent_ui.auth``) guards them, answering 401/403 as JSON like every
``/console/api/`` call; ``agent_ui`` itself never imports this package.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from agent_ui.auth import login_required
from agent_ui.web import acting_user
from intake.auth import Role
from intake.web import json_error, t
from ivr import calls
from ivr.reports import MAX_CALL_TEXT_CHARS, case_from_call

#: Roles that take calls in the console; supervisors and admins also see the queue's figures.
CALL_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
SUPERVISOR_ROLES = (Role.SUPERVISOR, Role.ADMIN)

bp = Blueprint("ivr_console", __name__)


@bp.get("/console/api/calls/current")
@login_required(*CALL_ROLES)
def current() -> Response:
    current = calls.current_call_for(acting_user().id)
    for item in current["history"] if current else []:
        item["status_label"] = t(f"status.{item['status']}")
    return jsonify({"current": current})


@bp.get("/console/api/calls/callbacks")
@login_required(*CALL_ROLES)
def callbacks() -> Response:
    return jsonify({"callbacks": calls.open_callbacks()})


@bp.post("/console/api/calls/callbacks/<int:callback_id>/done")
@login_required(*CALL_ROLES)
def callback_done(callback_id: int) -> Response:
    body = request.get_json(silent=True)
    if body is None:
        body = {}  # a click with no note
    if not isinstance(body, dict):
        return json_error(400, "body: must be a JSON object")
    note = str(body.get("note") or "")[:500] or None
    if not calls.complete_callback(callback_id, acting_user().id, note):
        return json_error(409, f"call-back task {callback_id} is not open")
    return jsonify({"done": callback_id})


@bp.get("/console/api/calls/queue")
@login_required(*SUPERVISOR_ROLES)
def queue() -> Response:
    return jsonify(calls.queue_snapshot())


@bp.post("/console/api/calls/<int:call_id>/case")
@login_required(*CALL_ROLES)
def case_from_current_call(call_id: int) -> Response:
    """The agent turns what the caller said into a report: a new case, or joined to their open case."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error(400, "expected a JSON object")
    text = str(body.get("text") or "").strip()
    if not text or len(text) > MAX_CALL_TEXT_CHARS:
        return json_error(400, f"text: 1 to {MAX_CALL_TEXT_CHARS} characters of what the caller reported")
    result = case_from_call(call_id, acting_user().id, text, join_open_case=bool(body.get("join_open_case")))
    if result is None:
        return json_error(404, f"call {call_id} is not one of yours")
    return jsonify(
        {"number": result.case_number, "new_case": result.new_case, "url": f"/console/cases/{result.case_number}"}
    )
