"""Who reported what through which channel: the reports of a case and of every duplicate merged into it.

A merged duplicate keeps its own reports (and its reporters' contacts); the case it was merged into
shows them beside its own, each with its channel, its time, the reporter's contact masked and the
number of the duplicate it came with. The console's case page, the department's page and the
leader's page all read them from here.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from agent_ui.duplicates import channel_label
from intake.models import Attachment, AttachmentStatus, Case, ReportRecord
from intake.phones import mask_phone

#: What identifies an internal reporter, by channel: the meta key shown instead of a contact.
_INTERNAL_SOURCE = {"grid": "grid_worker", "camera": "camera", "city": "order_code", "leader": "leader"}


def merged_numbers(session: Session, case: Case) -> dict[int, str]:
    """Id → number of the cases merged into ``case``."""
    return dict(session.execute(select(Case.id, Case.number).where(Case.merged_into_id == case.id)).all())


def mask_email(address: str | None) -> str:
    """``zhang.wei@qq.com`` → ``z***@qq.com``."""
    if not address or "@" not in address:
        return ""
    local, domain = address.rsplit("@", 1)
    return f"{local[:1]}***@{domain}"


def contact_text(report: ReportRecord) -> str:
    """The reporter, masked: a phone, else a mail address, else who (or what) reported it inside."""
    if report.contact_phone:
        return mask_phone(report.contact_phone)
    if report.contact_email:
        return mask_email(report.contact_email)
    meta = report.meta or {}
    key = _INTERNAL_SOURCE.get(report.channel)
    source = str(meta.get(key) or "") if key else ""
    name = report.contact_name or ""
    if report.channel in _INTERNAL_SOURCE:
        # Staff and devices are named: they are the government's own eyes, not private persons.
        return " ".join(part for part in (name, source) if part)
    return f"{name[:1]}*" if name else ""


def report_lines(session: Session, case: Case, zone: ZoneInfo, lang: str) -> list[dict[str, Any]]:
    """Every report of the case and of its merged duplicates, oldest first."""
    merged = merged_numbers(session, case)
    reports = session.scalars(
        select(ReportRecord)
        .where(or_(ReportRecord.case_id == case.id, ReportRecord.case_id.in_(list(merged))))
        .order_by(ReportRecord.received_at, ReportRecord.id)
    ).all()
    lines = []
    for report in reports:
        lines.append(
            {
                "channel": report.channel,
                "channel_label": channel_label(report.channel, lang),
                "at": report.received_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "text": report.text,
                "contact": contact_text(report),
                # The duplicate it came with (None: a report of this case itself).
                "case": merged.get(report.case_id),
            }
        )
    return lines


def report_attachments(session: Session, case: Case) -> list[Attachment]:
    """The attachments that came with the reports of the case and of its merged duplicates."""
    merged = select(Case.id).where(Case.merged_into_id == case.id)
    return list(
        session.scalars(
            select(Attachment)
            .where(
                or_(Attachment.case_id == case.id, Attachment.case_id.in_(merged)),
                Attachment.report_id.is_not(None),
            )
            .order_by(Attachment.id)
        )
    )


def stored_photos(session: Session, case: Case) -> list[tuple[int, str]]:
    return [
        (a.id, a.filename)
        for a in report_attachments(session, case)
        if a.status == AttachmentStatus.STORED and a.content_type.startswith("image/")
    ]
