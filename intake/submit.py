"""The one submit path every channel uses.

:func:`submit` stores a report durably and returns its case number before the sender is
acknowledged; the worker does the rest (:mod:`intake.processing`). It is idempotent on
``(channel, source_id)``: a sender retrying five times makes one report.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, exists, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.errors import InvalidReport
from intake.models import Attachment, AttachmentStatus, Blob, Case, CaseEvent, OptOut, ReportRecord, utcnow
from intake.numbering import allocate, sequence_number
from intake.queue import QUEUE_MEDIA, enqueue, wake_intake
from intake.report import MAX_TEXT_CHARS, Report
from intake.runtime import get_runtime
from intake.states import OPEN_STATUSES, CaseStatus

log = logging.getLogger(__name__)

#: Characters of the report text kept as the case's one-line summary.
SUMMARY_CHARS = 120
#: How often a submit that lost a race with its own retry looks again.
_INSERT_ATTEMPTS = 3


@dataclass(frozen=True)
class SubmitResult:
    case_number: str
    report_id: int
    #: True when this (channel, source_id) was already stored: nothing new was written.
    duplicate: bool
    #: True when the report opened a new case (False: joined an open one, or a duplicate).
    new_case: bool
    #: The sender asked for no messages on this channel (STOP): store, but do not answer.
    opted_out: bool = False
    #: Attachments a worker still has to download.
    pending_downloads: bool = False


def submit(report: Report) -> SubmitResult:
    """Store ``report`` (or find it stored already) and return where it went.

    The hot path of every webhook, so it speaks SQLAlchemy Core in one transaction of a few
    statements (the ORM's unit of work costs several times more per request).
    """
    validate(report)
    runtime = get_runtime()
    for _ in range(_INSERT_ATTEMPTS):
        try:
            with runtime.db.engine.begin() as conn:
                result = _lookup_and_store(conn, report)
        except IntegrityError:
            # The same report stored concurrently by another request: look again.
            log.info("report %s/%s stored concurrently; reading it back", report.channel, report.source_id)
            continue
        # Committed: only now wake the workers.
        if result.new_case:
            wake_intake()
        if result.pending_downloads:
            enqueue(QUEUE_MEDIA, "intake.media.download_attachments", result.report_id)
        return result
    raise RuntimeError(f"could not store report {report.channel}/{report.source_id}")


def validate(report: Report) -> None:
    if not report.channel or len(report.channel) > 32:
        raise InvalidReport("channel", "must be 1 to 32 characters")
    if not report.source_id or len(report.source_id) > 128:
        raise InvalidReport("source_id", "must be 1 to 128 characters")
    if len(report.text) > MAX_TEXT_CHARS:
        raise InvalidReport("text", f"longer than {MAX_TEXT_CHARS} characters")
    if not report.text.strip() and not report.attachments:
        raise InvalidReport("text", "empty, and nothing is attached")
    lat, lon = report.location.lat, report.location.lon
    if (lat is None) != (lon is None):
        raise InvalidReport("location", "needs both latitude and longitude")
    if lat is not None and lon is not None:
        if not (math.isfinite(lat) and -90 <= lat <= 90):
            raise InvalidReport("lat", "must be between -90 and 90")
        if not (math.isfinite(lon) and -180 <= lon <= 180):
            raise InvalidReport("lon", "must be between -180 and 180")
    if report.priority is not None and report.priority not in (1, 2, 3, 4):
        raise InvalidReport("priority", "must be 1 (urgent) to 4 (low)")
    if report.location.address and len(report.location.address) > 500:
        raise InvalidReport("address", "longer than 500 characters")
    limit = get_runtime().config.worker.max_attachment_bytes
    for attachment in report.attachments:
        if attachment.data is None and not attachment.url:
            raise InvalidReport("attachments", "an attachment needs its bytes or a URL")
        if attachment.data is not None and len(attachment.data) > limit:
            raise InvalidReport("attachments", f"{attachment.filename or 'a file'} is larger than {limit} bytes")


_REPORTS = ReportRecord.__table__
_CASES = Case.__table__
_EVENTS = CaseEvent.__table__
_ATTACHMENTS = Attachment.__table__

# Built once: SQLAlchemy then reuses their compiled form, which keeps the hot path cheap.
#: The sender's open case, whichever channel they first used: a citizen who filed on the website
#: and answers an agent's question by SMS is adding to that case.
#: A report merged into another case continues that one (merges keep one level: a duplicate points
#: straight at the surviving case).
_THEIR_CASE = _CASES.alias("their_case")
_OPEN_CASE_OF_CONTACT = (
    select(_CASES.c.id, _CASES.c.number)
    .select_from(_REPORTS)
    .join(_THEIR_CASE, _THEIR_CASE.c.id == _REPORTS.c.case_id)
    .join(_CASES, _CASES.c.id == func.coalesce(_THEIR_CASE.c.merged_into_id, _THEIR_CASE.c.id))
    .where(
        _REPORTS.c.contact_phone == bindparam("phone"),
        _CASES.c.status.in_([status.value for status in OPEN_STATUSES]),
    )
    .order_by(_REPORTS.c.received_at.desc())
    .limit(1)
)
_SAME_REPORT = (
    select(_REPORTS.c.id, _CASES.c.number)
    .join(_CASES, _CASES.c.id == _REPORTS.c.case_id)
    .where(_REPORTS.c.channel == bindparam("channel"), _REPORTS.c.source_id == bindparam("source_id"))
)
_OPT_OUT = select(OptOut.since).where(OptOut.channel == bindparam("channel"), OptOut.address == bindparam("phone"))
#: Everything submit needs to know before writing, in one round trip: is the report stored
#: already, which open case would it join, and has the sender opted out of messages.
_LOOKUP = select(
    _SAME_REPORT.with_only_columns(_REPORTS.c.id).scalar_subquery().label("report_id"),
    _SAME_REPORT.with_only_columns(_CASES.c.number).scalar_subquery().label("report_case"),
    _OPEN_CASE_OF_CONTACT.with_only_columns(_CASES.c.id).scalar_subquery().label("open_id"),
    _OPEN_CASE_OF_CONTACT.with_only_columns(_CASES.c.number).scalar_subquery().label("open_number"),
    exists(_OPT_OUT).label("opted_out"),
)
_OPEN_CASE_BY_NUMBER = select(_CASES.c.id, _CASES.c.number).where(
    _CASES.c.number == bindparam("number"), _CASES.c.status.in_([status.value for status in OPEN_STATUSES])
)
_INSERT_CASE = insert(_CASES).returning(_CASES.c.id, _CASES.c.number)
_INSERT_CASE_NUMBERED_IN_SQL = insert(_CASES).values(number=sequence_number()).returning(_CASES.c.id, _CASES.c.number)
_INSERT_REPORT = insert(_REPORTS).returning(_REPORTS.c.id)
_INSERT_EVENT = insert(_EVENTS)


def _lookup_and_store(conn: Connection, report: Report) -> SubmitResult:
    found = conn.execute(
        _LOOKUP, {"channel": report.channel, "source_id": report.source_id, "phone": report.contact.phone}
    ).one()
    opted_out = bool(found.opted_out)
    if found.report_id is not None:
        return SubmitResult(found.report_case, found.report_id, duplicate=True, new_case=False, opted_out=opted_out)
    thread = None
    if report.continues_case:
        row = conn.execute(_OPEN_CASE_BY_NUMBER, {"number": report.continues_case}).first()
        thread = (row.id, row.number) if row is not None else None
    if thread is None and report.thread_by_contact and found.open_id is not None:
        thread = (found.open_id, found.open_number)
    return _store(conn, report, thread, opted_out)


def _store(conn: Connection, report: Report, thread: tuple[int, str] | None, opted_out: bool) -> SubmitResult:
    runtime = get_runtime()
    if thread is None:
        numbering = allocate(conn, report.received_at, runtime.config.server.timezone)
        row = conn.execute(
            _INSERT_CASE if "number" in numbering else _INSERT_CASE_NUMBERED_IN_SQL,
            {
                **numbering,
                "status": CaseStatus.RECEIVED.value,
                "channel": report.channel,
                "priority": report.priority or 3,
                "category": report.category,
                "summary": _summary(report.text),
                "description": report.text,
                "address": report.location.address,
                "lat": report.location.lat,
                "lon": report.location.lon,
                "reporter_phone": report.contact.phone,
                "created_at": report.received_at,
                "updated_at": report.received_at,
                "version": 1,
            },
        ).one()
        case_id, case_number = row.id, row.number
    else:
        case_id, case_number = thread
    report_id = conn.execute(
        _INSERT_REPORT,
        {
            "case_id": case_id,
            "channel": report.channel,
            "source_id": report.source_id,
            "received_at": report.received_at,
            "source_time": report.source_time,
            "contact_phone": report.contact.phone,
            "contact_name": report.contact.name,
            "contact_email": report.contact.email,
            "text": report.text,
            "category": report.category,
            "address": report.location.address,
            "lat": report.location.lat,
            "lon": report.location.lon,
            "meta": report.meta,
            "raw": report.raw,
            "raw_content_type": report.raw_content_type,
        },
    ).scalar_one()
    pending = _add_attachments(conn, case_id, report_id, report)
    new_case = thread is None
    conn.execute(
        _INSERT_EVENT,
        {
            "case_id": case_id,
            "at": report.received_at,
            "actor": "citizen" if report.contact.phone or report.contact.email else f"channel:{report.channel}",
            "channel": report.channel,
            "kind": "received" if new_case else "report_added",
            "detail": {"source_id": report.source_id},
            "public": new_case,
            "to_status": CaseStatus.RECEIVED.value if new_case else None,
        },
    )
    log.info(
        "stored report %s/%s as #%s in case %s%s",
        report.channel,
        report.source_id,
        report_id,
        case_number,
        "" if new_case else " (joined open case)",
    )
    return SubmitResult(
        case_number, report_id, duplicate=False, new_case=new_case, opted_out=opted_out, pending_downloads=pending
    )


def _add_attachments(conn: Connection, case_id: int, report_id: int, report: Report) -> bool:
    rows = []
    for item in report.attachments:
        digest = insert_blob(conn, item.data) if item.data is not None else None
        rows.append(
            {
                "report_id": report_id,
                "case_id": case_id,
                "filename": item.filename[:255],
                "content_type": item.content_type[:128],
                "source_url": item.url,
                "sha256": digest,
                "size": len(item.data) if item.data is not None else None,
                "status": AttachmentStatus.STORED if digest else AttachmentStatus.PENDING,
                "attempts": 0,
                "created_at": report.received_at,
            }
        )
    if rows:
        conn.execute(insert(_ATTACHMENTS), rows)
    return any(row["sha256"] is None for row in rows)


def insert_blob(conn: Connection, data: bytes) -> str:
    """Store ``data`` once by its SHA-256 and return the digest."""
    digest = hashlib.sha256(data).hexdigest()
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        dialect_insert(Blob.__table__)
        .values(sha256=digest, size=len(data), data=data, created_at=utcnow())
        .on_conflict_do_nothing()
    )
    return digest


def store_blob(session: Session, data: bytes) -> str:
    """:func:`insert_blob` within an ORM session's transaction."""
    return insert_blob(session.connection(), data)


def _summary(text: str) -> str:
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first_line[:SUMMARY_CHARS]
