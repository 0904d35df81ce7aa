"""HTTP for grid workers: their JSON API (``/api/v1/grid/``), their phone page (``/grid``), and the
console's side of check tasks (``/console/api/cases/<number>/grid-checks``).

The API takes a bearer token per worker: one the center issued (``gridline grid-workers token``) or
one the phone got by signing in with an SMS code sent to the worker's registered number.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import aliased

from agent_ui.auth import CONSOLE_ROLES, login_required
from agent_ui.web import acting_user
from channels.app.errors import InvalidField
from channels.app.mobile import (
    MAX_NOTE_CHARS,
    bearer_token,
    bool_field,
    error_response,
    json_object,
    local_phone,
    parse_report,
    read_body,
    text_field,
)
from channels.app.otp import check_code, send_code
from channels.app.settings import app_settings
from channels.errors import ChannelError
from channels.grid import tasks
from channels.grid.models import GridWorker
from channels.grid.settings import grid_settings
from channels.grid.workers import issue_token, worker_by_phone, worker_for_token
from intake import Contact, InvalidReport, Location, Report, submit
from intake.cases import latest_results
from intake.i18n import translate
from intake.models import Case, ReportRecord
from intake.phones import mask_phone
from intake.states import CaseStatus
from intake.web import csrf, lang, limiter, runtime, t

log = logging.getLogger(__name__)

CHANNEL = "grid"
#: Sign-in codes asked for per client address (each number also has its own limits).
CODE_RATE_LIMIT = "10/minute;60/hour"
VERIFY_RATE_LIMIT = "30/minute"
#: The worker's own recent reports listed on the phone.
MY_REPORTS = 50
#: Only our own files on the phone page.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

bp = Blueprint(
    "grid", __name__, template_folder="templates", static_folder="static/grid", static_url_path="/grid/static"
)

F = TypeVar("F", bound=Callable[..., Any])


@bp.errorhandler(ChannelError)
def _channel_error(err: ChannelError) -> Response:
    return error_response(err)


@bp.errorhandler(InvalidReport)
def _invalid_report(err: InvalidReport) -> Response:
    return error_response(InvalidField(err.field, err.problem))


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def require_worker(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token(request)
        with runtime().db.transaction() as session:
            worker = worker_for_token(session, token)
            session.expunge(worker)
        g.grid_worker = worker
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def current_worker() -> GridWorker:
    return g.grid_worker


def _worker_json(worker: GridWorker) -> dict[str, Any]:
    return {"code": worker.code, "name": worker.name, "grid_code": worker.grid_code, "phone": mask_phone(worker.phone)}


# --- sign-in -----------------------------------------------------------------------------------


@bp.post("/api/v1/grid/auth/code")
@csrf.exempt
@limiter.limit(CODE_RATE_LIMIT)
def ask_code() -> tuple[Response, int]:
    body = json_object(request)
    phone = local_phone(body.get("phone"))
    settings = app_settings(runtime().config).codes
    ttl = settings.ttl_seconds
    with runtime().db.transaction() as session:
        if worker_by_phone(session, phone) is not None:
            ttl = send_code(session, CHANNEL, phone, translate("grid.code.sms", "zh"), settings)
        else:
            # The same answer as for a worker: nobody learns who is registered by asking.
            log.info("grid sign-in code asked for an unregistered number %s", mask_phone(phone))
    return jsonify({"sent": True, "expires_in": ttl}), 202


@bp.post("/api/v1/grid/auth/verify")
@csrf.exempt
@limiter.limit(VERIFY_RATE_LIMIT)
def verify_code() -> Response:
    body = json_object(request)
    phone = local_phone(body.get("phone"))
    code = text_field(body, "code", 16, required=True)
    check_code(CHANNEL, phone, code, app_settings(runtime().config).codes)
    days = grid_settings(runtime().config).session_days
    with runtime().db.transaction() as session:
        worker = worker_by_phone(session, phone)
        if worker is None:  # retired between asking for the code and using it
            raise InvalidField("phone", "not an active grid worker")
        token = issue_token(session, worker, "sms", days=days)
        answer = {"token": token, "expires_in_days": days, "worker": _worker_json(worker)}
    log.info("grid worker %s signed in on a phone", answer["worker"]["code"])
    return jsonify(answer)


@bp.get("/api/v1/grid/me")
@require_worker
def me() -> Response:
    worker = current_worker()
    with runtime().db.transaction() as session:
        open_count = sum(1 for task in tasks.open_tasks(session, worker, include_answered=0))
    return jsonify({**_worker_json(worker), "open_tasks": open_count})


# --- reports -----------------------------------------------------------------------------------


@bp.post("/api/v1/grid/reports")
@csrf.exempt
@require_worker
def report() -> tuple[Response, int]:
    worker = current_worker()
    limit = runtime().config.worker.max_attachment_bytes
    body = read_body(request, max_photo_bytes=limit)
    parsed = parse_report(body, client_id=request.headers.get("Idempotency-Key"))
    result = submit(
        Report(
            channel=CHANNEL,
            source_id=f"{worker.code}:{parsed.client_id}",
            text=parsed.text,
            # No phone: a worker's report is the government finding a problem (主动发现), so nobody is
            # asked how satisfied they are; the worker follows it in the app instead.
            contact=Contact(name=worker.name),
            location=Location(lat=parsed.lat, lon=parsed.lon, address=parsed.address),
            category=parsed.category,
            attachments=parsed.photos,
            raw=parsed.raw,
            raw_content_type=body.content_type,
            meta={"grid_worker": worker.code, "grid_code": worker.grid_code, "lang": lang(), "via": _via()},
        )
    )
    log.info(
        "grid worker %s report %s as case %s (%d photos, duplicate=%s)",
        worker.code,
        result.report_id,
        result.case_number,
        len(parsed.photos),
        result.duplicate,
    )
    answer = {"case_number": result.case_number, "report_id": result.report_id, "duplicate": result.duplicate}
    return jsonify(answer), 200 if result.duplicate else 201


def _via() -> str:
    return "page" if request.mimetype == "multipart/form-data" else "api"


@bp.get("/api/v1/grid/reports")
@require_worker
def my_reports() -> Response:
    worker = current_worker()
    # A report merged into another case (the same problem from a citizen, a camera, ...) shows the
    # progress and the result of that case: the worker follows what became of what they found.
    surviving = aliased(Case)
    with runtime().db.transaction() as session:
        rows = session.execute(
            select(Case.number, Case.summary, ReportRecord.received_at, Case, surviving)
            .join(Case, Case.id == ReportRecord.case_id)
            .outerjoin(surviving, surviving.id == Case.merged_into_id)
            .where(ReportRecord.channel == CHANNEL, ReportRecord.source_id.like(f"{worker.code}:%"))
            .order_by(ReportRecord.id.desc())
            .limit(MY_REPORTS)
        ).all()
        shown = [target or own for *_, own, target in rows]
        results = latest_results(session, [case.id for case in shown if case.status in _WITH_RESULT])
        reports = [
            {
                "case_number": row.number,
                "merged_into": case.number if case.number != row.number else None,
                "status": case.status.value,
                "status_text": t(f"status.{case.status.value}"),
                "summary": row.summary,
                "received_at": row.received_at.isoformat(),
                "result": results.get(case.id, ""),
            }
            for row, case in zip(rows, shown, strict=True)
        ]
    return jsonify({"reports": reports})


#: Statuses in which the unit's result is there to show.
_WITH_RESULT = frozenset({CaseStatus.HANDLED, CaseStatus.CHECKED, CaseStatus.CLOSED})


# --- check tasks -------------------------------------------------------------------------------


@bp.get("/api/v1/grid/tasks")
@require_worker
def task_list() -> Response:
    with runtime().db.transaction() as session:
        views = tasks.open_tasks(session, current_worker())
    return jsonify({"tasks": [_task_json(view) for view in views]})


def _task_json(view: tasks.TaskView) -> dict[str, Any]:
    return {**view.as_json(), "case_status_text": t(f"status.{view.case_status}")}


@bp.get("/api/v1/grid/tasks/<int:task_id>")
@require_worker
def task_detail(task_id: int) -> Response:
    with runtime().db.transaction() as session:
        view = tasks.view(session, tasks.task_of(session, current_worker(), task_id))
    return jsonify(_task_json(view))


@bp.post("/api/v1/grid/tasks/<int:task_id>/answer")
@csrf.exempt
@require_worker
def answer(task_id: int) -> Response:
    worker = current_worker()
    body = read_body(request, max_photo_bytes=runtime().config.worker.max_attachment_bytes)
    resolved = bool_field(body.fields, "resolved")
    note = text_field(body.fields, "note", MAX_NOTE_CHARS)
    with runtime().db.transaction() as session:
        task = tasks.answer_task(session, worker, task_id, resolved=resolved, note=note, photos=body.photos)
        view = tasks.view(session, task)
    return jsonify(_task_json(view))


# --- the phone page ----------------------------------------------------------------------------


#: Messages the page's script shows, in the page language.
PAGE_STRINGS = (
    "code_sent",
    "merged_into",
    "my_cell",
    "located",
    "locate_failed",
    "sent",
    "unit_result",
    "instruction",
    "resolved",
    "not_resolved",
    "note",
    "photos",
    "answer",
    "answered",
    "error",
    "offline",
)


@bp.get("/grid")
def page() -> str:
    from channels.web.views import category_groups

    strings = {key: t(f"grid.page.{key}") for key in PAGE_STRINGS}
    return render_template("grid/index.html", groups=category_groups(lang()), strings=strings)


@bp.get("/grid/manifest.webmanifest")
def manifest() -> Response:
    response = jsonify(
        {
            "name": t("grid.app_name"),
            "short_name": t("grid.short_name"),
            "start_url": "/grid",
            "scope": "/grid",
            "display": "standalone",
            "background_color": "#f4f5f7",
            "theme_color": "#0b5cad",
            "lang": "zh-CN" if lang() == "zh" else "en",
            "icons": [
                {"src": "/app/static/icon-192.png", "sizes": "192x192", "type": "image/png"},
                {"src": "/app/static/icon-512.png", "sizes": "512x512", "type": "image/png"},
            ],
        }
    )
    response.mimetype = "application/manifest+json"
    return response


# --- the console's side ------------------------------------------------------------------------


@bp.post("/console/api/cases/<number>/grid-checks")
@login_required(*CONSOLE_ROLES)
def create_check(number: str) -> tuple[Response, int]:
    """The center sends a handled case to the grid worker of its cell for an on-site check."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidField("body", "expected a JSON object")
    user = acting_user()
    notify = grid_settings(runtime().config).notify_tasks_by_sms
    with runtime().db.transaction() as session:
        task = tasks.create_task(
            session,
            number,
            actor=f"user:{user.username}",
            instruction=text_field(body, "instruction", tasks.MAX_INSTRUCTION_CHARS),
            worker_code=text_field(body, "worker", 32) or None,
            notify=notify,
        )
        answer = {"task": task.id, "worker": task.worker.code, "status": task.status}
    return jsonify(answer), 201


@bp.get("/console/api/cases/<number>/grid-checks")
@login_required(*CONSOLE_ROLES)
def list_checks(number: str) -> Response:
    with runtime().db.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        if case_id is None:
            raise tasks.NotFound(f"no case {number}")
        return jsonify({"tasks": tasks.tasks_of_case(session, case_id)})
