"""Reporters who wrote by mail hear of their case by mail, as answers in their own thread.

The SMS notices of :mod:`intake.notify` reach reporters with a phone number; a mail reporter has only
an address. On the same steps (dispatch, invalid, close, reopen; and a merge, naming the case that
carries theirs from then on) each mail reporter of the case and of the duplicates merged into it gets
one mail, ``In-Reply-To`` their latest mail, so that their answer threads back onto the case.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from channels.email.inbound import answerable, queue_reply
from channels.email.models import MailRecord
from intake.cases import latest_result
from intake.i18n import translate
from intake.models import Case, CaseEvent, ReportRecord
from intake.notify import NOTIFY_ACTIONS, merged_into
from intake.runtime import get_runtime
from intake.states import Action

#: Characters of the unit's result quoted in the closing mail.
RESULT_CHARS = 500


def notify_mail_reporters(session: Session, case: Case, action: Action, event: CaseEvent) -> None:
    if action not in NOTIFY_ACTIONS or not get_runtime().config.email.configured:
        return
    merged = select(Case.id).where(Case.merged_into_id == case.id)
    rows = session.execute(
        select(ReportRecord.contact_email, ReportRecord.contact_phone, ReportRecord.meta)
        .where(
            or_(ReportRecord.case_id == case.id, ReportRecord.case_id.in_(merged)),
            ReportRecord.channel == "email",
            ReportRecord.contact_email.is_not(None),
        )
        .order_by(ReportRecord.id)
    ).all()
    target = merged_into(session, case) if action is Action.MERGE else None
    seen: set[str] = set()
    for address, phone, meta in rows:
        if address in seen or phone or not answerable(address):
            continue  # one mail per reporter; those with a phone hear by SMS already
        seen.add(address)
        lang = (meta or {}).get("lang", "zh")
        latest = session.scalar(
            select(MailRecord.message_id)
            .where(MailRecord.direction == "in", MailRecord.address == address)
            .where(or_(MailRecord.case_id == case.id, MailRecord.case_id.in_(merged)))
            .order_by(MailRecord.id.desc())
            .limit(1)
        )
        status = translate(f"status.{case.status.value}", lang)
        subject = translate("email.notice.subject", lang, number=case.number, status=status)
        body = translate("email.notice.body", lang, number=case.number, status=status)
        if target is not None:
            # Merged: the number (and status) of the case that carries their report from now on.
            body += "\n\n" + translate(
                "email.notice.merged", lang, into=target.number, status=translate(f"status.{target.status.value}", lang)
            )
        if action is Action.CLOSE:
            body += "\n\n" + translate("email.notice.result", lang, result=latest_result(session, case)[:RESULT_CHARS])
        queue_reply(session, case, to=address, subject=subject, body=body, in_reply_to=latest, kind="notice")
