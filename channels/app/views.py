"""HTTP for the citizen app (社管通): its JSON API (``/api/app/v1/``) and the installable page (``/app/``).

Citizens sign in with their mobile number and a code sent to it by SMS; the bearer token they get
opens "my reports": every case any of whose reports came from that number, through whichever channel.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request, send_from_directory, url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from channels.app.errors import Conflict, InvalidField, NotFound, NotSignedIn
from channels.app.mobile import (
    bearer_token,
    json_object,
    local_phone,
    localized_error_response,
    parse_report,
    read_body,
    text_field,
)
from channels.app.models import AppToken
from channels.app.otp import check_code, new_token, send_code, token_digest
from channels.app.settings import app_settings
from channels.errors import ChannelError
from intake import Contact, InvalidReport, Location, Report, submit
from intake.i18n import translate
from intake.models import Case, CaseEvent, ReportRecord, utcnow
from intake.phones import mask_phone
from intake.states import CaseStatus
from intake.web import csrf, lang, limiter, runtime, t

log = logging.getLogger(__name__)

CHANNEL = "app"
CODE_RATE_LIMIT = "10/minute;60/hour"
VERIFY_RATE_LIMIT = "30/minute"
TOKEN_PREFIX = "ga_"
#: Cases listed under "my reports", newest first.
MY_REPORTS = 100
#: Characters of a phone-number digest in a report's source id (the number itself stays out of logs).
PHONE_KEY_CHARS = 16
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

bp = Blueprint("app", __name__, template_folder="templates", static_folder="static/app", static_url_path="/app/static")

F = TypeVar("F", bound=Callable[..., Any])


@bp.errorhandler(ChannelError)
def _channel_error(err: ChannelError) -> Response:
    # A stable code plus a message in the user's language (Accept-Language, the page's ?lang=/cookie).
    return localized_error_response(err, lang())


@bp.errorhandler(InvalidReport)
def _invalid_report(err: InvalidReport) -> Response:
    return localized_error_response(InvalidField(err.field, err.problem), lang())


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def require_citizen(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        digest = token_digest(bearer_token(request))
        now = utcnow()
        with runtime().db.transaction() as session:
            row = session.scalar(select(AppToken).where(AppToken.token_hash == digest))
            if row is None or row.revoked or row.expires_at <= now:
                raise NotSignedIn("the bearer token is unknown, revoked or expired: sign in again")
            row.last_used_at = now
            g.app_token_id, g.app_phone = row.id, row.phone
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# --- sign-in -----------------------------------------------------------------------------------


@bp.post("/api/app/v1/auth/code")
@csrf.exempt
@limiter.limit(CODE_RATE_LIMIT)
def ask_code() -> tuple[Response, int]:
    body = json_object(request)
    phone = local_phone(body.get("phone"))
    settings = app_settings(runtime().config).codes
    with runtime().db.transaction() as session:
        ttl = send_code(session, CHANNEL, phone, translate("app.code.sms", lang()), settings)
    return jsonify({"sent": True, "expires_in": ttl}), 202


@bp.post("/api/app/v1/auth/verify")
@csrf.exempt
@limiter.limit(VERIFY_RATE_LIMIT)
def verify_code() -> Response:
    body = json_object(request)
    phone = local_phone(body.get("phone"))
    code = text_field(body, "code", 16, required=True)
    settings = app_settings(runtime().config)
    check_code(CHANNEL, phone, code, settings.codes)
    token, digest = new_token(TOKEN_PREFIX)
    expires = utcnow() + timedelta(days=settings.session_days)
    with runtime().db.transaction() as session:
        session.add(AppToken(phone=phone, token_hash=digest, expires_at=expires))
    log.info("citizen %s signed in to the app", mask_phone(phone))
    return jsonify({"token": token, "expires_at": expires.isoformat(), "phone": mask_phone(phone)})


@bp.post("/api/app/v1/auth/sign-out")
@csrf.exempt
@require_citizen
def sign_out() -> tuple[str, int]:
    with runtime().db.transaction() as session:
        row = session.get(AppToken, g.app_token_id)
        if row is not None:
            row.revoked = True
    return "", 204


@bp.get("/api/app/v1/me")
@require_citizen
def me() -> Response:
    return jsonify({"phone": mask_phone(g.app_phone)})


# --- reports -----------------------------------------------------------------------------------


def phone_key(phone: str) -> str:
    return hashlib.sha256(phone.encode()).hexdigest()[:PHONE_KEY_CHARS]


@bp.post("/api/app/v1/reports")
@csrf.exempt
@require_citizen
def report() -> tuple[Response, int]:
    phone: str = g.app_phone
    body = read_body(request, max_photo_bytes=runtime().config.worker.max_attachment_bytes)
    parsed = parse_report(body, client_id=request.headers.get("Idempotency-Key"))
    result = submit(
        Report(
            channel=CHANNEL,
            source_id=f"{phone_key(phone)}:{parsed.client_id}",
            text=parsed.text,
            contact=Contact(phone=phone),
            location=Location(lat=parsed.lat, lon=parsed.lon, address=parsed.address),
            category=parsed.category,
            attachments=parsed.photos,
            raw=parsed.raw,
            raw_content_type=body.content_type,
            meta={"lang": lang(), "via": "page" if request.mimetype == "multipart/form-data" else "api"},
        )
    )
    log.info(
        "app report %s as case %s (%d photos, duplicate=%s)",
        result.report_id,
        result.case_number,
        len(parsed.photos),
        result.duplicate,
    )
    answer = {"case_number": result.case_number, "report_id": result.report_id, "duplicate": result.duplicate}
    return jsonify(answer), 200 if result.duplicate else 201


def _my_case_ids(phone: str) -> Any:
    return select(ReportRecord.case_id).where(ReportRecord.contact_phone == phone)


def _result(session: Session, case: Case) -> str:
    detail = session.scalar(
        select(CaseEvent.detail)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "report_result")
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    return str((detail or {}).get("result", ""))


def _summary(session: Session, case: Case) -> dict[str, Any]:
    # A duplicate merged into another case follows that case from then on.
    shown = session.get(Case, case.merged_into_id) if case.merged_into_id else case
    assert shown is not None
    status = shown.status.value
    return {
        "case_number": case.number,
        "merged_into": shown.number if shown is not case else None,
        "status": status,
        "status_text": t(f"status.{status}"),
        "summary": case.summary,
        "created_at": case.created_at.isoformat(),
        "created_local": _local(case.created_at),
        "channel": case.channel,
        "result": _result(session, shown)
        if shown.status in (CaseStatus.HANDLED, CaseStatus.CHECKED, CaseStatus.CLOSED)
        else "",
        "satisfaction": shown.satisfaction,
        "can_rate": shown.status is CaseStatus.CLOSED,
    }


def _local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(runtime().config.server.timezone)).strftime("%Y-%m-%d %H:%M")


@bp.get("/api/app/v1/reports")
@require_citizen
def my_reports() -> Response:
    with runtime().db.transaction() as session:
        cases = session.scalars(
            select(Case).where(Case.id.in_(_my_case_ids(g.app_phone))).order_by(Case.id.desc()).limit(MY_REPORTS)
        ).all()
        rows = [_summary(session, case) for case in cases]
    return jsonify({"reports": rows})


def _my_case(session: Session, number: str) -> Case:
    case = session.scalar(select(Case).where(Case.number == number, Case.id.in_(_my_case_ids(g.app_phone))))
    if case is None:
        raise NotFound(f"no case {number} of yours")  # somebody else's case is not theirs to see
    return case


@bp.get("/api/app/v1/reports/<number>")
@require_citizen
def report_detail(number: str) -> Response:
    with runtime().db.transaction() as session:
        case = _my_case(session, number)
        answer = _summary(session, case)
        shown_id = case.merged_into_id or case.id
        events = session.execute(
            select(CaseEvent.at, CaseEvent.kind)
            .where(or_(CaseEvent.case_id == case.id, CaseEvent.case_id == shown_id), CaseEvent.public.is_(True))
            .order_by(CaseEvent.at, CaseEvent.id)
        ).all()
    answer["history"] = [{"at": e.at.isoformat(), "kind": e.kind, "text": _event_text(e.kind)} for e in events]
    return jsonify(answer)


def _event_text(kind: str) -> str:
    text = t(f"event.{kind}")
    return t("app.event.other") if text == f"event.{kind}" else text


@bp.post("/api/app/v1/reports/<number>/rating")
@csrf.exempt
@require_citizen
def rate(number: str) -> Response:
    from intake.survey import Satisfaction, record_answer

    body = json_object(request)
    value = body.get("satisfaction")
    if isinstance(value, bool) or value not in (1, 2, 3):
        raise InvalidField("satisfaction", "1 satisfied, 2 basically satisfied, 3 not satisfied")
    with runtime().db.transaction() as session:
        case = _my_case(session, number)
        target = session.get(Case, case.merged_into_id) if case.merged_into_id else case
        assert target is not None
        if target.status is not CaseStatus.CLOSED:
            raise Conflict(f"case {target.number} is not closed yet")
        record_answer(session, target, Satisfaction(value), phone=g.app_phone, channel=CHANNEL)
        answer = _summary(session, case)
    return jsonify(answer)


# --- the installable page ----------------------------------------------------------------------

#: Messages the page's script shows, in the page language.
PAGE_STRINGS = (
    "code_sent",
    "sent",
    "error",
    "offline",
    "located",
    "locate_failed",
    "result",
    "merged_into",
    "rate",
    "rated",
    "no_reports",
    "history",
)


@bp.get("/app")
def page_redirect() -> BaseResponse:
    # The service worker's scope is /app/: the page must live inside it.
    return redirect(url_for("app.page", **request.args), code=301)


@bp.get("/app/")
def page() -> str:
    from channels.web.views import category_groups

    strings = {key: t(f"app.page.{key}") for key in PAGE_STRINGS}
    strings.update({f"satisfaction.{n}": t(f"satisfaction.{n}") for n in (1, 2, 3)})
    return render_template("app/index.html", groups=category_groups(lang()), strings=strings)


@bp.get("/app/manifest.webmanifest")
def manifest() -> Response:
    response = jsonify(
        {
            "id": "/app/",
            "name": t("app.name"),
            "short_name": t("app.short_name"),
            "description": t("app.description"),
            "start_url": "/app/",
            "scope": "/app/",
            "display": "standalone",
            "orientation": "portrait",
            "background_color": "#f4f5f7",
            "theme_color": "#b7191f",
            "lang": "zh-CN" if lang() == "zh" else "en",
            "icons": [
                {"src": "/app/static/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
                {"src": "/app/static/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
            ],
        }
    )
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/app/sw.js")
def service_worker() -> Response:
    response = send_from_directory(bp.static_folder or "", "sw.js", mimetype="text/javascript", max_age=0)
    # Served from /app/ so that it may control /app/; always revalidated so updates arrive.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/app/"
    return response
