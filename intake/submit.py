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

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.cases import record
from intake.errors import InvalidReport
from intake.models import Attachment, AttachmentStatus, Blob, Case, ReportRecord
from intake.numbering import next_case_number
from intake.queue import QUEUE_MEDIA, after_commit, enqueue, wake_intake
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


def submit(report: Report) -> SubmitResult:
    """Store ``report`` (or find it stored already) and return where it went."""
    validate(report)
    runtime = get_runtime()
    for _ in range(_INSERT_ATTEMPTS):
        try:
            with runtime.db.transaction() as session:
                existing = _find_existing(session, report)
                if existing is not None:
                    return existing
                return _store(session, report)
        except IntegrityError:
            # The same report stored concurrently by another request: look again.
            log.info("report %s/%s stored concurrently; reading it back", report.channel, report.source_id)
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


def _find_existing(session: Session, report: Report) -> SubmitResult | None:
    row = session.execute(
        select(ReportRecord.id, Case.number)
        .join(Case, Case.id == ReportRecord.case_id)
        .where(ReportRecord.channel == report.channel, ReportRecord.source_id == report.source_id)
    ).first()
    if row is None:
        return None
    return SubmitResult(case_number=row.number, report_id=row.id, duplicate=True, new_case=False)


def open_case_of_contact(session: Session, channel: str, phone: str) -> Case | None:
    """The most recent open case that ``phone`` reported through ``channel``."""
    return session.scalar(
        select(Case)
        .join(ReportRecord, ReportRecord.case_id == Case.id)
        .where(
            ReportRecord.contact_phone == phone,
            ReportRecord.channel == channel,
            Case.status.in_(OPEN_STATUSES),
        )
        .order_by(ReportRecord.received_at.desc())
        .limit(1)
    )


def _store(session: Session, report: Report) -> SubmitResult:
    runtime = get_runtime()
    case = None
    if report.thread_by_contact and report.contact.phone:
        case = open_case_of_contact(session, report.channel, report.contact.phone)
    new_case = case is None
    if case is None:
        case = Case(
            number=next_case_number(session, report.received_at, runtime.config.server.timezone),
            status=CaseStatus.RECEIVED,
            channel=report.channel,
            priority=report.priority or 3,
            category=report.category,
            summary=_summary(report.text),
            description=report.text,
            address=report.location.address,
            lat=report.location.lat,
            lon=report.location.lon,
            reporter_phone=report.contact.phone,
            created_at=report.received_at,
            updated_at=report.received_at,
        )
        session.add(case)
    record_ = ReportRecord(
        case=case,
        channel=report.channel,
        source_id=report.source_id,
        received_at=report.received_at,
        source_time=report.source_time,
        contact_phone=report.contact.phone,
        contact_name=report.contact.name,
        contact_email=report.contact.email,
        text=report.text,
        category=report.category,
        address=report.location.address,
        lat=report.location.lat,
        lon=report.location.lon,
        meta=report.meta,
        raw=report.raw,
        raw_content_type=report.raw_content_type,
    )
    session.add(record_)
    pending_downloads = _add_attachments(session, case, record_, report)
    record(
        session,
        case,
        "received" if new_case else "report_added",
        actor="citizen" if report.contact.phone or report.contact.email else f"channel:{report.channel}",
        channel=report.channel,
        detail={"source_id": report.source_id},
        public=new_case,
        to_status=CaseStatus.RECEIVED.value if new_case else None,
        at=report.received_at,
    )
    session.flush()
    report_id = record_.id
    if new_case:
        after_commit(session, wake_intake)
    if pending_downloads:
        after_commit(session, lambda: enqueue(QUEUE_MEDIA, "intake.media.download_attachments", report_id))
    log.info(
        "stored report %s/%s as #%s in case %s%s",
        report.channel,
        report.source_id,
        report_id,
        case.number,
        "" if new_case else " (joined open case)",
    )
    return SubmitResult(case_number=case.number, report_id=report_id, duplicate=False, new_case=new_case)


def _add_attachments(session: Session, case: Case, record_: ReportRecord, report: Report) -> bool:
    pending = False
    for item in report.attachments:
        # Blob first: creating it autoflushes, which must not meet a half-built attachment.
        digest = store_blob(session, item.data) if item.data is not None else None
        session.add(
            Attachment(
                report=record_,
                case=case,
                filename=item.filename[:255],
                content_type=item.content_type[:128],
                source_url=item.url,
                sha256=digest,
                size=len(item.data) if item.data is not None else None,
                status=AttachmentStatus.STORED if digest else AttachmentStatus.PENDING,
            )
        )
        pending = pending or digest is None
    return pending


def store_blob(session: Session, data: bytes) -> str:
    """Store ``data`` once by its SHA-256 and return the digest."""
    digest = hashlib.sha256(data).hexdigest()
    if session.get(Blob, digest) is None:
        session.add(Blob(sha256=digest, size=len(data), data=data))
        session.flush()
    return digest


def _summary(text: str) -> str:
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first_line[:SUMMARY_CHARS]
