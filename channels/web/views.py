"""HTTP for the website channel: the public form (``/report``), its JSON twin and case tracking.

Parsing and validation live in :mod:`channels.web.adapter`; this module reads requests, calls
:func:`intake.submit` (the one submit path) and renders answers in the page language.

* ``GET/POST /report``: the form; its hidden ``submission_id`` is the source id, so a double
  submit is one report. A good POST redirects (303) to ``/report/done``.
* ``POST /api/v1/reports``: the same fields as JSON, bearer token, no CSRF. ``Idempotency-Key``
  (scoped to the calling user) is the source id; a replay answers 200 with the first result,
  whatever its body.
* ``GET/POST /track`` and ``GET /api/v1/track``: case number + last four digits of a reporter's
  phone; failed look-ups are rate limited per IP.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy import and_, or_, select
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers.response import Response as BaseResponse

from channels.web import adapter
from channels.web.adapter import InvalidInput, Photo, UnsupportedMediaType
from intake import InvalidReport, submit
from intake.categories import load as load_categories
from intake.i18n import LANGUAGES
from intake.models import Case, CaseEvent, ReportRecord
from intake.phones import last_four
from intake.web import csrf, current_user, json_error, lang, limiter, require_token, runtime, t, wants_json

log = logging.getLogger(__name__)

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static/web",
    static_url_path="/static/web",
)

#: Form submissions per IP; ``WEB_REPORT_RATE_LIMIT`` in the app config overrides it.
REPORT_RATE_LIMIT = "20/hour"
#: Failed tracking look-ups per IP (successful ones are free): guessing four digits stays slow.
TRACK_RATE_LIMIT = "20/hour"
LANG_COOKIE_SECONDS = 365 * 24 * 3600
#: Session key holding the last confirmation, so that /report/done survives a reload or a language switch.
_DONE_KEY = "web_done"
_CASE_NUMBER = re.compile(r"^\d{8}-\d{6,7}$")
_LAST_FOUR = re.compile(r"^\d{4}$")
#: Only our own files: no external map tiles, fonts or scripts.
_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _report_limit() -> str:
    return str(current_app.config.get("WEB_REPORT_RATE_LIMIT", REPORT_RATE_LIMIT))


def _track_limit() -> str:
    return str(current_app.config.get("WEB_TRACK_RATE_LIMIT", TRACK_RATE_LIMIT))


def _track_miss(response: Response) -> bool:
    return response.status_code == 404


# --- language, headers, errors ---------------------------------------------------------------


@bp.app_context_processor
def _page_helpers() -> dict[str, Any]:
    return {"switch_lang_url": switch_lang_url, "html_lang": lambda: "zh-CN" if lang() == "zh" else "en"}


def switch_lang_url(target: str) -> str:
    """The current page in ``target``: same path and query, ``lang`` replaced (POST pages fall back to GET)."""
    args = {key: value for key, value in request.args.items() if key != "lang"}
    if request.endpoint == "web.track" and request.form.get("number"):
        args["number"] = request.form["number"]  # keep the number, never the phone digits
    return url_for(request.endpoint or "web.report_form", **(request.view_args or {}), **args, lang=target)


@bp.after_request
def _after(response: Response) -> Response:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie("lang", chosen, max_age=LANG_COOKIE_SECONDS, samesite="Lax", httponly=True)
    response.vary.update(("Cookie", "Accept-Language"))
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint in ("web.track", "web.track_json", "web.report_done"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(CSRFError)
def _csrf_failed(err: CSRFError) -> Response | tuple[str, int]:
    # A form left open too long or a lost cookie: show the form again, keeping what was typed.
    log.info("web form refused: %s", err.description)
    if request.endpoint == "web.track":
        return _render_track(errors={"form": t("web.error.csrf")}, status=400)
    return _render_form(request.form, {"form": t("web.error.csrf")}, status=400, photos_dropped=bool(_uploads()))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(err: RequestEntityTooLarge) -> Response | tuple[str, int]:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    if wants_json():
        return json_error(413, f"body: larger than {limit} bytes")
    return render_template(
        "web/message.html", title=t("web.too_large.title"), body=t("web.too_large.body", size=adapter.human_size(limit))
    ), 413


@bp.errorhandler(429)
def _rate_limited(err: Exception) -> Response | tuple[str, int]:
    if wants_json():
        return json_error(429, "too many requests; try again later")
    title, body = t("web.rate_limited.title"), t("web.rate_limited.body")
    return render_template("web/message.html", title=title, body=body), 429


# --- the public form ----------------------------------------------------------------------------


@bp.get("/report")
def report_form() -> tuple[str, int]:
    return _render_form({}, {})


@bp.post("/report")
@limiter.limit(_report_limit, methods=["POST"])
def report_submit() -> BaseResponse | tuple[str, int]:
    rt = runtime()
    page_lang = lang()
    uploads = _uploads()
    limit = rt.config.worker.max_attachment_bytes
    # Read one more photo and one more byte than allowed: enough to say "too many"/"too large".
    photos = [
        Photo(filename=upload.filename or "", data=upload.stream.read(limit + 1), declared_type=upload.mimetype)
        for upload in uploads[: adapter.MAX_PHOTOS + 1]
    ]
    try:
        report = adapter.from_form(request.form, photos, lang=page_lang, max_photo_bytes=limit)
        result = submit(report)
    except InvalidInput as err:
        log.info("web form refused: %s", ", ".join(err.problems))
        return _render_form(request.form, err.messages(page_lang), status=400, photos_dropped=bool(photos))
    except InvalidReport as err:
        log.info("web form refused by intake: %s", err.field)
        errors = {err.field if err.field in adapter.FIELDS else "form": err.problem}
        return _render_form(request.form, errors, status=400, photos_dropped=bool(photos))
    log.info(
        "web form report %s as case %s (%d photos, duplicate=%s)",
        result.report_id,
        result.case_number,
        len(photos),
        result.duplicate,
    )
    session[_DONE_KEY] = {"number": result.case_number, "duplicate": result.duplicate}
    # Post/redirect/get: a reload shows the confirmation again instead of posting again.
    return redirect(url_for("web.report_done"), code=303)


@bp.get("/report/done")
def report_done() -> BaseResponse | str:
    done = session.get(_DONE_KEY)
    if not isinstance(done, dict) or not done.get("number"):
        return redirect(url_for("web.report_form"))
    return render_template("web/done.html", number=done["number"], duplicate=bool(done.get("duplicate")))


def _uploads() -> list[FileStorage]:
    # Browsers send an empty part for an untouched file input.
    return [upload for upload in request.files.getlist("photos") if upload.filename]


def _render_form(
    values: Any, errors: dict[str, str], *, status: int = 200, photos_dropped: bool = False
) -> tuple[str, int]:
    page_lang = lang()
    fields = {name: values.get(name, "") for name in ("description", "category", "address", "lat", "lon", "phone")}
    submission_id = values.get("submission_id", "")
    if not adapter.is_submission_id(submission_id):
        submission_id = adapter.new_submission_id()
    limit = runtime().config.worker.max_attachment_bytes
    html = render_template(
        "web/report.html",
        values=fields,
        errors=errors,
        submission_id=submission_id,
        groups=category_groups(page_lang),
        photos_dropped=photos_dropped and "photos" not in errors,
        max_photos=adapter.MAX_PHOTOS,
        max_photo_size=adapter.human_size(limit),
        max_photo_bytes=limit,
        limits={
            "description": adapter.MAX_DESCRIPTION_CHARS,
            "address": adapter.MAX_ADDRESS_CHARS,
            "phone": adapter.MAX_PHONE_CHARS,
        },
    )
    return html, status


def category_groups(page_lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(group name, [(code, name), ...]), ...]`` in taxonomy order, names in ``page_lang``."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for category in load_categories().values():
        groups.setdefault(category.group(page_lang), []).append((category.code, category.name(page_lang)))
    return list(groups.items())


# --- the JSON API -------------------------------------------------------------------------------


@bp.post("/api/v1/reports")
@csrf.exempt
@require_token()
def api_submit() -> Response:
    rt = runtime()
    user = current_user()
    try:
        source_id = adapter.api_source_id(request.headers.get("Idempotency-Key"), str(user.id))
        report = adapter.from_json(
            request.get_data(cache=False),
            request.headers.get("Content-Type", ""),
            source_id=source_id,
            lang=lang(),
            max_photo_bytes=rt.config.worker.max_attachment_bytes,
        )
        result = submit(report)
    except UnsupportedMediaType as err:
        return json_error(415, err.message)
    except InvalidInput as err:
        log.info("API report from %s refused: %s", user.username, ", ".join(err.problems))
        return json_error(400, err.message_in(lang()), field=err.first_field, errors=err.messages(lang()), lang=lang())
    except InvalidReport as err:
        return json_error(400, str(err), field=err.field)
    log.info(
        "API report %s from %s as case %s (duplicate=%s)",
        result.report_id,
        user.username,
        result.case_number,
        result.duplicate,
    )
    response = jsonify(
        {"case_number": result.case_number, "report_id": result.report_id, "duplicate": result.duplicate}
    )
    response.status_code = 200 if result.duplicate else 201
    return response


# --- tracking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackedEvent:
    at: datetime
    kind: str


@dataclass(frozen=True)
class Tracked:
    number: str
    status: str
    created_at: datetime
    category: str | None
    events: list[TrackedEvent]
    #: The case this one was merged into: its status and steps are the citizen's too.
    merged_into: str | None = None


#: Steps of a surviving case that belong to its other reporters, not shown to a merged case's reporter.
OTHER_REPORTERS_EVENTS = ("received", "report_added", "queue", "merge")


def find_tracked(number: str, phone_last4: str) -> Tracked | None:
    """The case if one of its reporters' phones ends in ``phone_last4``; ``None`` otherwise (one answer for both)."""
    with runtime().db.transaction() as db:
        case = db.scalar(select(Case).where(Case.number == number))
        if case is None:
            return None
        phones = db.scalars(
            select(ReportRecord.contact_phone).where(
                ReportRecord.case_id == case.id, ReportRecord.contact_phone.is_not(None)
            )
        ).all()
        if not any(hmac.compare_digest(last_four(phone), phone_last4) for phone in phones):
            return None
        surviving = db.get(Case, case.merged_into_id) if case.merged_into_id is not None else None
        # A merged case's reporter follows the case that took theirs: its steps, but not how the
        # other reporters' reports came in.
        theirs = CaseEvent.case_id == case.id
        if surviving is not None:
            theirs = or_(theirs, and_(CaseEvent.case_id == surviving.id, CaseEvent.kind.not_in(OTHER_REPORTERS_EVENTS)))
        events = db.execute(
            select(CaseEvent.at, CaseEvent.kind)
            .where(theirs, CaseEvent.public.is_(True))
            .order_by(CaseEvent.at, CaseEvent.id)
        ).all()
        return Tracked(
            number=case.number,
            status=(surviving or case).status.value,
            created_at=case.created_at,
            category=(surviving or case).category,
            events=[TrackedEvent(at=row.at, kind=row.kind) for row in events],
            merged_into=surviving.number if surviving is not None else None,
        )


def _track_input(number: str, phone_last4: str) -> dict[str, str]:
    errors = {}
    if not _CASE_NUMBER.match(number):
        errors["number"] = t("web.track.bad_number")
    if not _LAST_FOUR.match(phone_last4):
        errors["phone_last4"] = t("web.track.bad_last4")
    return errors


@bp.route("/track", methods=["GET", "POST"])
@limiter.limit(_track_limit, methods=["POST"], deduct_when=_track_miss)
def track() -> tuple[str, int]:
    if request.method == "GET":
        return _render_track(number=request.args.get("number", "").strip())
    number = adapter.clean_text(request.form.get("number", ""))
    phone_last4 = adapter.clean_text(request.form.get("phone_last4", ""))
    errors = _track_input(number, phone_last4)
    if errors:
        return _render_track(number=number, errors=errors, status=400)
    tracked = find_tracked(number, phone_last4)
    if tracked is None:
        log.info("tracking look-up missed")
        return _render_track(number=number, not_found=True, status=404)
    return _render_track(number=number, tracked=tracked)


@bp.get("/api/v1/track")
@limiter.limit(_track_limit, deduct_when=_track_miss)
def track_json() -> Response:
    number = request.args.get("number", "").strip()
    phone_last4 = request.args.get("phone_last4", "").strip()
    errors = _track_input(number, phone_last4)
    if errors:
        field = next(iter(errors))
        return json_error(400, f"{field}: {errors[field]}", field=field)
    tracked = find_tracked(number, phone_last4)
    if tracked is None:
        return json_error(404, t("web.track.not_found"))
    return jsonify(
        {
            "number": tracked.number,
            "status": tracked.status,
            "status_text": t(f"status.{tracked.status}"),
            "created_at": tracked.created_at.isoformat(),
            "category": tracked.category,
            "merged_into": tracked.merged_into,
            "history": [
                {"at": event.at.isoformat(), "kind": event.kind, "text": event_text(event.kind)}
                for event in tracked.events
            ],
        }
    )


def event_text(kind: str) -> str:
    key = f"event.{kind}"
    text = t(key)
    return t("web.event.other") if text == key else text


def local_time(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(runtime().config.server.timezone)).strftime("%Y-%m-%d %H:%M")


def _render_track(
    *,
    number: str = "",
    tracked: Tracked | None = None,
    errors: dict[str, str] | None = None,
    not_found: bool = False,
    status: int = 200,
) -> tuple[str, int]:
    category = None
    if tracked is not None and tracked.category:
        known = load_categories().get(tracked.category)
        category = known.name(lang()) if known else None
    html = render_template(
        "web/track.html",
        number=number,
        tracked=tracked,
        category=category,
        errors=errors or {},
        not_found=not_found,
        event_text=event_text,
        local_time=local_time,
    )
    return html, status
