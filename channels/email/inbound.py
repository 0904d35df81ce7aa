"""Inbound mail → reports. One entry point, :func:`receive`, for the SMTP receiver and the IMAP poller.

* A mail a person wrote opens a case (channel ``email``, the raw message kept, attachments stored),
  unless it answers one of ours or of the sender's earlier mails (``In-Reply-To``/``References``
  against every Message-ID we stored): then it joins that case, if it is still open.
* Auto-replies and bounces open nothing. They are stored by Message-ID, noted on the case they are
  about, and a bounce marks our undelivered mail.
* The sender hears the case number (an RFC 3834 auto-reply: ``Auto-Submitted: auto-replied``).

Idempotent on the Message-ID (or the raw bytes' digest for mail without one): a sender retrying after
a lost answer, or a mailbox polled twice, makes one report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import make_msgid

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.email.models import MailKind, MailRecord
from channels.email.parse import ParsedMail, parse, raw_digest, strip_quote
from intake import Contact, Report, submit
from intake.cases import record
from intake.i18n import translate
from intake.models import Case, OutboundMessage, OutboundStatus
from intake.outbound import queue_message
from intake.report import MAX_TEXT_CHARS
from intake.runtime import get_runtime
from intake.states import FINAL_STATUSES

log = logging.getLogger(__name__)

CHANNEL = "email"
#: Senders never answered: answering them could start a loop between two robots.
_NO_ANSWER_PREFIXES = ("noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "mailer-daemon", "postmaster")
#: How far a merge chain is followed to the case that holds a thread now.
MAX_MERGE_HOPS = 5


@dataclass(frozen=True)
class Outcome:
    kind: str
    case_number: str | None = None
    duplicate: bool = False
    reason: str = ""


def receive(raw: bytes, *, envelope_from: str | None, recipients: Sequence[str], via: str) -> Outcome:
    """Take one mail. Raises only on a failure worth a retry (the database is down)."""
    runtime = get_runtime()
    mail = parse(raw, envelope_from=envelope_from, max_attachment_bytes=runtime.config.worker.max_attachment_bytes)
    message_id = mail.message_id or raw_digest(raw)
    with runtime.db.transaction() as session:
        if session.scalar(
            select(MailRecord.id).where(MailRecord.direction == "in", MailRecord.message_id == message_id)
        ):
            return Outcome(MailKind.REPORT, duplicate=True, reason="seen before")
        case = _thread_case(session, mail.thread_ids)
        if mail.automatic is not None:
            return _automatic(session, mail, message_id, case)
        if not mail.text.strip() and not mail.attachments:
            _remember(session, mail, message_id, MailKind.EMPTY, case)
            log.info("mail %s has no text and no attachment: no case", _short(message_id))
            return Outcome(MailKind.EMPTY, reason="no text, no attachment")
        thread = (case.id, case.number) if case is not None and case.status not in FINAL_STATUSES else None
    report = _report(mail, message_id, raw, recipients, via, thread=thread)
    result = submit(report)
    report_id, duplicate, number, new_case = result.report_id, result.duplicate, result.case_number, result.new_case
    # A reply joins its case unless that case closed between our look and the store.
    kind = MailKind.REPLY if thread is not None and number == thread[1] else MailKind.REPORT
    try:
        with runtime.db.transaction() as session:
            case_row = session.scalar(select(Case).where(Case.number == number))
            _remember(session, mail, message_id, kind, case_row, report_id=report_id)
            if new_case and not duplicate and case_row is not None:
                _acknowledge(session, mail, message_id, case_row)
    except IntegrityError:
        # The same mail taken twice at once (two pollers, an MTA retrying fast): the first one answers.
        duplicate = True
    log.info("mail %s %s case %s", _short(message_id), "joined" if kind == MailKind.REPLY else "opened", number)
    return Outcome(kind, number, duplicate=duplicate)


def _short(message_id: str) -> str:
    # Message-IDs hold no personal data, but they are long: the first part is enough to find one.
    return message_id[:40]


def _thread_case(session: Session, ids: Sequence[str]) -> Case | None:
    """The case the mail answers: the first of its referenced Message-IDs we know, merges followed."""
    if not ids:
        return None
    rows = dict(
        session.execute(
            select(MailRecord.message_id, MailRecord.case_id).where(
                MailRecord.message_id.in_(ids), MailRecord.case_id.is_not(None)
            )
        ).all()
    )
    for ident in ids:
        case_id = rows.get(ident)
        if case_id is None:
            continue
        case = session.get(Case, case_id)
        for _ in range(MAX_MERGE_HOPS):
            if case is None or case.merged_into_id is None:
                break
            case = session.get(Case, case.merged_into_id)
        return case
    return None


def _report(
    mail: ParsedMail,
    message_id: str,
    raw: bytes,
    recipients: Sequence[str],
    via: str,
    *,
    thread: tuple[int, str] | None,
) -> Report:
    body = strip_quote(mail.text) if thread is not None else mail.text
    text = f"{mail.subject}\n\n{body}".strip() if mail.subject else body.strip()
    source_id = message_id if len(message_id) <= 128 else raw_digest(raw)
    return Report(
        channel=CHANNEL,
        source_id=source_id,
        text=text[:MAX_TEXT_CHARS],
        contact=Contact(email=mail.from_address or None, name=mail.from_name or None),
        attachments=mail.attachments,
        source_time=mail.date,
        raw=raw,
        raw_content_type="message/rfc822",
        continues_case=thread[1] if thread is not None else None,
        meta={
            "lang": mail.lang,
            "via": via,
            "subject": mail.subject,
            "message_id": message_id,
            "to": [address.lower() for address in recipients][:10],
            **({"attachments_skipped": list(mail.skipped)} if mail.skipped else {}),
        },
    )


def _remember(
    session: Session, mail: ParsedMail, message_id: str, kind: str, case: Case | None, *, report_id: int | None = None
) -> None:
    session.add(
        MailRecord(
            direction="in",
            message_id=message_id,
            in_reply_to=mail.in_reply_to,
            kind=kind,
            address=mail.from_address,
            subject=mail.subject,
            case_id=case.id if case is not None else None,
            report_id=report_id,
        )
    )
    session.flush()


def _automatic(session: Session, mail: ParsedMail, message_id: str, case: Case | None) -> Outcome:
    kind = MailKind.BOUNCE if mail.automatic == "bounce" else MailKind.AUTO_REPLY
    _remember(session, mail, message_id, kind, case)
    if kind == MailKind.BOUNCE:
        ours = session.scalars(
            select(MailRecord).where(
                MailRecord.direction == "out", MailRecord.message_id.in_(mail.bounced_ids or ("",))
            )
        ).all()
        for sent in ours:
            if sent.outbound_id is not None:
                session.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id == sent.outbound_id)
                    .values(
                        status=OutboundStatus.UNDELIVERED, error=f"bounced: {mail.bounce_status or 'no status'}"[:500]
                    )
                )
    if case is not None:
        record(
            session,
            case,
            "email_bounced" if kind == MailKind.BOUNCE else "email_auto_reply",
            actor=f"channel:{CHANNEL}",
            channel=CHANNEL,
            detail={
                "reason": mail.automatic_reason,
                **(
                    {"recipient": mail.bounce_recipient, "status": mail.bounce_status}
                    if kind == MailKind.BOUNCE
                    else {}
                ),
            },
        )
    log.info("mail %s is automatic (%s): no case", _short(message_id), mail.automatic_reason)
    return Outcome(kind, case.number if case is not None else None, reason=mail.automatic_reason)


def _bounce_detail(mail: ParsedMail) -> dict[str, str]:
    if mail.automatic != "bounce":
        return {}
    return {"recipient": mail.bounce_recipient, "status": mail.bounce_status}


def answerable(address: str) -> bool:
    local = address.partition("@")[0].lower()
    return bool(address) and "@" in address and not local.startswith(_NO_ANSWER_PREFIXES)


def _acknowledge(session: Session, mail: ParsedMail, message_id: str, case: Case) -> None:
    config = get_runtime().config.email
    if not (config.acknowledge and config.configured and answerable(mail.from_address)):
        return
    subject = translate("email.ack.subject", mail.lang, subject=mail.subject or case.summary, number=case.number)
    body = translate("email.ack.body", mail.lang, number=case.number)
    queue_reply(session, case, to=mail.from_address, subject=subject, body=body, in_reply_to=message_id, kind="ack")


def queue_reply(
    session: Session, case: Case, *, to: str, subject: str, body: str, in_reply_to: str | None, kind: str
) -> OutboundMessage:
    """Queue a mail on ``case`` whose Message-ID is fixed now, so that the answer to it finds the case.

    ``kind``: ``ack`` (an RFC 3834 auto-reply to the sender's mail) or ``notice`` (a status update).
    """
    config = get_runtime().config.email
    message = queue_message(session, channel=CHANNEL, to=to, body=f"{subject}\n{body}", case=case)
    domain = config.from_address.partition("@")[2] or "gridline.invalid"
    message_id = make_msgid(idstring=f"gl{message.id}", domain=domain).strip("<>")
    session.execute(
        insert(MailRecord).values(
            direction="out",
            message_id=message_id,
            in_reply_to=in_reply_to,
            kind=kind,
            address=to,
            subject=subject[:255],
            case_id=case.id,
            outbound_id=message.id,
        )
    )
    return message
