"""Console pages and its JSON endpoints (``/console/api/``, CSRF-protected like the pages)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from agent_ui import actions, duplicates, live, wallboard
from agent_ui.auth import CONSOLE_ROLES, LockedOut, authenticate, current_user, login_required, sign_in
from agent_ui.errors import ActionRefused
from agent_ui.followup import case_view
from agent_ui.merged import report_attachments
from agent_ui.presence import Presence, heartbeat, set_presence
from agent_ui.queue import claim_next, release, waiting
from agent_ui.web import acting_user, json_body
from intake.auth import Role
from intake.categories import load as load_categories
from intake.errors import AuthError
from intake.models import Case, utcnow
from intake.states import CaseStatus
from intake.web import attachment_response, json_error, lang, limiter, runtime, t
from routing.loop import CHECK_METHODS
from routing.rules import propose
from routing.settings import routing_settings
from routing.stats import CHANNEL_ORDER

bp = Blueprint(
    "console", __name__, template_folder="templates", static_folder="static/console", static_url_path="/console/static"
)

#: Rows on the queue page.
QUEUE_PAGE_ROWS = 50
LOGIN_RATE_LIMIT = "30/minute"
#: Where roles without a seat in the console land after signing in.
LANDING_PAGES = {Role.DEPARTMENT: "followup.unit_cases", Role.LEADER: "leader.page"}


def _safe_next(target: str | None) -> str:
    """Only same-site paths: ``next`` must not send a fresh session to another site."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("console.queue")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_RATE_LIMIT, methods=["POST"])
def login() -> str | BaseResponse | tuple[str, int]:
    error = None
    if request.method == "POST":
        try:
            user = authenticate(request.form.get("username", "").strip(), request.form.get("password", ""))
        except LockedOut:
            error = t("console.login.locked")
        except AuthError:
            error = t("console.login.failed")
        else:
            sign_in(user)
            if user.role in CONSOLE_ROLES:
                set_presence(user, Presence.AVAILABLE)
            if not request.args.get("next") and user.role in LANDING_PAGES:
                return redirect(url_for(LANDING_PAGES[user.role]))
            return redirect(_safe_next(request.args.get("next")))
        return render_template("console/login.html", error=error), 401
    return render_template("console/login.html", error=error)


@bp.post("/logout")
def logout() -> BaseResponse:
    user = current_user()
    if user is not None and user.role in CONSOLE_ROLES:
        set_presence(user, Presence.OFFLINE)
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("/console")
@login_required(*CONSOLE_ROLES)
def queue() -> str:
    return render_template("console/queue.html", rows=_waiting_rows(), user=current_user())


def _waiting_rows() -> list[dict[str, object]]:
    now = utcnow()
    with runtime().db.transaction() as db:
        cases = db.scalars(
            select(Case).where(waiting(now)).order_by(Case.priority, Case.created_at, Case.id).limit(QUEUE_PAGE_ROWS)
        ).all()
        return [
            {
                "number": case.number,
                "channel": case.channel,
                "priority": case.priority,
                "summary": case.summary,
                "waiting_minutes": int((now - case.created_at).total_seconds() // 60),
                "due": case.due_at.isoformat() if case.due_at else "",
                "returns": case.return_count,
            }
            for case in cases
        ]


@bp.get("/console/api/queue")
@login_required(*CONSOLE_ROLES)
def queue_json() -> Response:
    return jsonify({"cases": _waiting_rows()})


@bp.get("/console/api/events")
@login_required(*CONSOLE_ROLES)
def events() -> Response:
    """Server-sent events: a line per change to the queue (fed through Redis, so any web process will do)."""
    response = Response(stream_with_context(live.stream()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return response


@bp.errorhandler(ActionRefused)
def _refused(err: ActionRefused) -> Response:
    return json_error(err.status, err.message)


@bp.post("/console/api/cases/<number>/update")
@login_required(*CONSOLE_ROLES)
def update(number: str) -> Response:
    return jsonify({"changed": actions.update_case(number, acting_user(), json_body())})


@bp.post("/console/api/cases/<number>/invalidate")
@login_required(*CONSOLE_ROLES)
def invalidate(number: str) -> Response:
    body = json_body()
    actions.invalidate(number, acting_user(), str(body.get("reason", "")), str(body.get("note", "")))
    return jsonify({"status": CaseStatus.INVALID.value})


@bp.post("/console/api/cases/<number>/dispatch")
@login_required(*CONSOLE_ROLES)
def dispatch(number: str) -> Response:
    body = json_body()
    actions.dispatch(number, acting_user(), str(body.get("department", "")), str(body.get("override_reason", "")))
    return jsonify({"status": CaseStatus.DISPATCHED.value})


@bp.get("/console/api/cases/<number>/candidates")
@login_required(*CONSOLE_ROLES)
def merge_candidates(number: str) -> Response:
    return jsonify({"candidates": [asdict(c) for c in duplicates.candidates(number, lang())]})


@bp.post("/console/api/cases/<number>/merge")
@login_required(*CONSOLE_ROLES)
def merge(number: str) -> Response:
    actions.merge(number, acting_user(), str(json_body().get("into", "")))
    return jsonify({"status": CaseStatus.MERGED.value})


@bp.post("/console/api/cases/<number>/ask")
@login_required(*CONSOLE_ROLES)
def ask(number: str) -> Response:
    body = json_body()
    reply_lang = body.get("lang") if body.get("lang") in ("zh", "en") else "zh"
    actions.ask_for_info(number, acting_user(), str(body.get("question", "")), reply_lang)
    return jsonify({"asked": True})


@bp.post("/console/api/cases/<number>/release")
@login_required(*CONSOLE_ROLES)
def release_case(number: str) -> Response:
    user = acting_user()
    with runtime().db.transaction() as db:
        case_id = db.scalar(select(Case.id).where(Case.number == number))
    if case_id is None:
        return json_error(404, f"no case {number}")
    return jsonify({"released": release(user, case_id, "agent let it go")})


@bp.post("/console/api/cases/<number>/phone")
@login_required(*CONSOLE_ROLES)
def phone(number: str) -> Response:
    return jsonify({"phone": actions.reveal_phone(number, acting_user())})


@bp.get("/console/attachments/<int:attachment_id>")
@login_required(*CONSOLE_ROLES)
def attachment(attachment_id: int) -> Response:
    """A stored photo or recording of a case, for the case page."""
    return attachment_response(attachment_id)


@bp.get("/console/wallboard")
@login_required(Role.SUPERVISOR, Role.ADMIN)
def wallboard_page() -> str:
    labels = {channel: duplicates.channel_label(channel, lang()) for channel in CHANNEL_ORDER}
    return render_template(
        "console/wallboard.html", figures=wallboard.figures(), channel_labels=labels, user=current_user()
    )


@bp.get("/console/api/wallboard")
@login_required(Role.SUPERVISOR, Role.ADMIN)
def wallboard_json() -> Response:
    return jsonify(wallboard.figures())


@bp.get("/console/cases/<number>")
@login_required(*CONSOLE_ROLES)
def case_page(number: str) -> str | tuple[str, int]:
    rt = runtime()
    zone = ZoneInfo(rt.config.server.timezone)
    user = current_user()
    assert user is not None
    with rt.db.transaction() as db:
        case = db.scalar(select(Case).where(Case.number == number))
        if case is None:
            return render_template("console/message.html", message=t("console.case.not_found")), 404
        view = case_view(db, case, zone)
        view.update(
            {
                "channel": case.channel,
                "channel_label": duplicates.channel_label(case.channel, lang()),
                "attachments": [
                    (a.id, a.filename or a.content_type, a.content_type, a.status) for a in report_attachments(db, case)
                ],
                "held_by_me": case.claimed_by_id == user.id,
                "priority": case.priority,
                "lat": case.lat,
                "lon": case.lon,
                "earlier": _earlier_cases(db, case),
            }
        )
        proposal = propose(routing_settings(rt.config), category=case.category, grid_code=case.grid_code)
    candidates = duplicates.candidates(number, lang()) if view["held_by_me"] else []
    return render_template(
        "console/case.html",
        case=view,
        user=user,
        categories=[(code, c.name(lang()), c.group(lang())) for code, c in load_categories().items()],
        departments=actions.departments(lang()),
        proposal=proposal,
        proposal_reason=actions.proposal_text(proposal),
        invalid_reasons=actions.INVALID_REASONS,
        check_methods=CHECK_METHODS,
        candidates=candidates,
        attachment_url="console.attachment",
    )


@bp.get("/console/api/addresses")
@login_required(*CONSOLE_ROLES)
def address_search() -> Response:
    """The case page's address box: gazetteer matches with point, cell and confidence."""
    from routing.gazetteer import gazetteer

    query = request.args.get("q", "").strip()
    if not query or len(query) > 200:
        return json_error(400, "q: 1 to 200 characters of address")
    with runtime().db.transaction() as db:
        addresses = gazetteer(db)
    best = addresses.match(query)
    return jsonify(
        {"best": _address(best) if best else None, "matches": [_address(m) for m in addresses.search(query)]}
    )


def _address(match: Any) -> dict[str, Any]:
    return {**asdict(match), "reason_texts": [t(f"address.reason.{code}") for code in match.reasons]}


#: Earlier cases of the same reporter shown on the case page.
EARLIER_CASES = 10


def _earlier_cases(db: Any, case: Case) -> list[tuple[str, str, str]]:
    if not case.reporter_phone:
        return []
    rows = db.execute(
        select(Case.number, Case.status, Case.summary)
        .where(Case.reporter_phone == case.reporter_phone, Case.id != case.id)
        .order_by(Case.id.desc())
        .limit(EARLIER_CASES)
    ).all()
    return [(row.number, t(f"status.{row.status.value}"), row.summary) for row in rows]


@bp.post("/console/api/next")
@login_required(*CONSOLE_ROLES)
def next_case() -> Response | tuple[str, int]:
    user = acting_user()
    claim = claim_next(user)
    if claim is None:
        return "", 204
    set_presence(user, Presence.BUSY)
    return jsonify(
        {
            "number": claim.number,
            "lease_until": claim.lease_until.isoformat(),
            "url": url_for("console.case_page", number=claim.number),
        }
    )


@bp.post("/console/api/presence")
@login_required(*CONSOLE_ROLES)
def presence() -> Response:
    try:
        wanted = Presence(json_body().get("presence"))
    except ValueError:
        return json_error(400, f"presence: use any of {', '.join(p.value for p in Presence)}")
    set_presence(acting_user(), wanted)
    return jsonify({"presence": wanted.value, "lang": lang()})


@bp.post("/console/api/heartbeat")
@login_required(*CONSOLE_ROLES)
def beat() -> Response:
    heartbeat(acting_user())
    return jsonify({"ok": True})
