"""Filing a partner's service request and reading requests back in GeoReport's terms.

The request id (``service_request_id``) is the case number. Its status is the case's, folded into the
spec's two: ``closed`` once the case is closed or found invalid, ``open`` before; a duplicate merged into
another case reports that case's progress. Only requests filed through Open311 are visible here: the
GeoReport reads need no key, and cases from the hotline or SMS are not the partners' to read.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from channels.open311.adapter import RequestQuery, ServiceRequestIn, w3c
from channels.open311.models import Open311Request
from channels.open311.settings import Open311Settings, ServiceSettings
from intake import submit
from intake.cases import latest_results, shorten
from intake.i18n import register, translate
from intake.models import Case, ReportRecord
from intake.runtime import get_runtime
from intake.states import CaseStatus

log = logging.getLogger(__name__)

#: Statuses GeoReport calls ``closed``: resolved, or not to be acted on.
CLOSED_STATUSES = frozenset({CaseStatus.CLOSED, CaseStatus.INVALID})
#: Characters of token (URL-safe) handed to batch services' callers.
TOKEN_BYTES = 18
#: Characters of the unit's result quoted in a closed request's notes.
RESULT_NOTE_CHARS = 500

register(
    {
        "open311.note.received": {"zh": "已受理，正在核实。", "en": "Received; being verified."},
        "open311.note.dispatched": {"zh": "已派遣至{agency}。", "en": "Dispatched to {agency}."},
        "open311.note.accepted": {"zh": "{agency}已签收，正在处置。", "en": "{agency} is handling it."},
        "open311.note.handled": {
            "zh": "{agency}已反馈处置结果，正在核查。",
            "en": "{agency} reported its result; it is being checked.",
        },
        "open311.note.closed": {"zh": "已办结：{result}", "en": "Resolved: {result}"},
        "open311.note.invalid": {"zh": "经核实，不予受理。", "en": "Not accepted after verification."},
        "open311.note.merged": {
            "zh": "与诉求{number}为同一问题，合并办理。",
            "en": "Same problem as request {number}; handled together.",
        },
        "open311.agency_unknown": {"zh": "承办单位", "en": "the responsible unit"},
    }
)


@dataclass(frozen=True)
class Filed:
    case_number: str
    token: str
    duplicate: bool


def file_request(submission: ServiceRequestIn, partner_id: int) -> Filed:
    """Store the request (durably, through :func:`intake.submit`) and its Open311 row; a retry finds both."""
    result = submit(submission.report)
    runtime = get_runtime()
    for _ in range(3):
        try:
            with runtime.db.transaction() as session:
                row = session.scalar(select(Open311Request).where(Open311Request.report_id == result.report_id))
                if row is None:
                    # Also after a crash between submit and here: the client's retry creates the row.
                    row = Open311Request(
                        partner_id=partner_id,
                        report_id=result.report_id,
                        token=secrets.token_urlsafe(TOKEN_BYTES),
                        service_code=submission.service.service_code,
                        requested_at=submission.report.received_at,
                    )
                    session.add(row)
                token = row.token
        except IntegrityError:
            log.info("open311 request for report %s stored concurrently; reading it back", result.report_id)
            continue
        return Filed(result.case_number, token, result.duplicate)
    raise RuntimeError(f"could not store the open311 request of report {result.report_id}")


@dataclass(frozen=True)
class TokenState:
    token: str
    #: ``None`` until the request id exists (the intake worker has taken the report in).
    service_request_id: str | None


def look_up_token(token: str) -> TokenState | None:
    with get_runtime().db.transaction() as session:
        row = session.execute(
            select(Case.number, Case.status)
            .select_from(Open311Request)
            .join(ReportRecord, ReportRecord.id == Open311Request.report_id)
            .join(Case, Case.id == ReportRecord.case_id)
            .where(Open311Request.token == token)
        ).first()
    if row is None:
        return None
    return TokenState(token, None if row.status is CaseStatus.RECEIVED else row.number)


def _base_query() -> tuple[Select[Any], Any]:
    target = aliased(Case)
    query = (
        select(Open311Request, ReportRecord, Case, target)
        .join(ReportRecord, ReportRecord.id == Open311Request.report_id)
        .join(Case, Case.id == ReportRecord.case_id)
        .outerjoin(target, target.id == Case.merged_into_id)
    )
    return query, target


def find_requests(query: RequestQuery, settings: Open311Settings) -> list[dict[str, Any]]:
    """``GET requests``: by ids, or by service codes, statuses and a date range; newest first."""
    select_rows, target = _base_query()
    if query.ids:
        select_rows = select_rows.where(Case.number.in_(query.ids))
    else:
        assert query.start is not None and query.end is not None
        select_rows = select_rows.where(
            Open311Request.requested_at >= query.start, Open311Request.requested_at <= query.end
        )
        if query.service_codes:
            select_rows = select_rows.where(Open311Request.service_code.in_(query.service_codes))
        if len(set(query.statuses)) == 1:
            # A duplicate's status is its surviving case's.
            effective = func.coalesce(target.status, Case.status)
            closed = [status.value for status in CLOSED_STATUSES]
            select_rows = select_rows.where(
                effective.in_(closed) if query.statuses[0] == "closed" else effective.not_in(closed)
            )
    select_rows = select_rows.order_by(Open311Request.requested_at.desc(), Open311Request.id.desc()).limit(
        settings.max_requests
    )
    with get_runtime().db.transaction() as session:
        rows = session.execute(select_rows).all()
        return _views(session, rows, settings)


def find_request(number: str, settings: Open311Settings) -> dict[str, Any] | None:
    select_rows, _ = _base_query()
    with get_runtime().db.transaction() as session:
        rows = session.execute(select_rows.where(Case.number == number)).all()
        views = _views(session, rows, settings)
    return views[0] if views else None


def _views(session: Session, rows: list[Any], settings: Open311Settings) -> list[dict[str, Any]]:
    zone = ZoneInfo(get_runtime().config.server.timezone)
    lang = settings.language
    effective_cases = [target or case for _, _, case, target in rows]
    agencies = _agencies(session, {case.department_code for case in effective_cases if case.department_code}, lang)
    results = {
        case_id: shorten(text, RESULT_NOTE_CHARS)
        for case_id, text in latest_results(
            session, [case.id for case in effective_cases if case.status is CaseStatus.CLOSED]
        ).items()
    }
    views = []
    for (request_row, report, case, target), effective in zip(rows, effective_cases, strict=True):
        service = settings.by_code.get(request_row.service_code)
        meta = report.meta or {}
        agency = agencies.get(effective.department_code or "")
        views.append(
            {
                "service_request_id": case.number,
                "status": "closed" if effective.status in CLOSED_STATUSES else "open",
                "status_notes": _notes(case, target, effective, agency, results.get(effective.id, ""), lang),
                "service_name": service.service_name if service else request_row.service_code,
                "service_code": request_row.service_code,
                "description": meta.get("description") or None,
                "agency_responsible": agency,
                "service_notice": _notice(service),
                "requested_datetime": w3c(request_row.requested_at, zone),
                "updated_datetime": w3c(effective.closed_at or effective.updated_at, zone),
                "expected_datetime": w3c(effective.finish_due_at, zone),
                "address": effective.address or case.address,
                "address_id": meta.get("address_id"),
                "zipcode": None,
                "lat": effective.lat if effective.lat is not None else case.lat,
                "long": effective.lon if effective.lon is not None else case.lon,
                "media_url": next(iter(meta.get("media_url") or []), None),
            }
        )
    return views


def _notice(service: ServiceSettings | None) -> str | None:
    return (service.service_notice or None) if service else None


def _notes(case: Case, target: Case | None, effective: Case, agency: str | None, result: str, lang: str) -> str:
    unit = agency or translate("open311.agency_unknown", lang)
    status = effective.status
    if status is CaseStatus.CLOSED:
        note = translate("open311.note.closed", lang, result=result or translate("status.closed", lang))
    elif status is CaseStatus.INVALID:
        note = translate("open311.note.invalid", lang)
    elif status in (CaseStatus.HANDLED, CaseStatus.CHECKED):
        note = translate("open311.note.handled", lang, agency=unit)
    elif status is CaseStatus.ACCEPTED:
        note = translate("open311.note.accepted", lang, agency=unit)
    elif status is CaseStatus.DISPATCHED:
        note = translate("open311.note.dispatched", lang, agency=unit)
    else:
        note = translate("open311.note.received", lang)
    if target is not None:
        note = translate("open311.note.merged", lang, number=target.number) + " " + note
    return note


def _agencies(session: Session, codes: set[str], lang: str) -> dict[str, str]:
    """Unit code → its name, from routing's units (the code itself if routing is not installed)."""
    if not codes:
        return {}
    try:
        from routing.models import Department
    except ImportError:  # pragma: no cover - routing is part of every deployment today
        return {code: code for code in codes}
    rows = session.execute(
        select(Department.code, Department.name_zh, Department.name_en).where(Department.code.in_(codes))
    ).all()
    names = {row.code: (row.name_en or row.name_zh) if lang == "en" else row.name_zh for row in rows}
    return {code: names.get(code, code) for code in codes}
