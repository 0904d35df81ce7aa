"""Outbound mail over SMTP (run by workers via :mod:`intake.outbound`).

A message's first line is the subject, the rest the body. Every mail's Message-ID is stored
(:class:`channels.email.models.MailRecord`) so that a reply to it finds its case; answers to citizens
are queued with theirs fixed in advance, and carry ``In-Reply-To`` and ``Auto-Submitted``. The
standard library's ``smtplib`` is the client: SMTP submission needs nothing more, and it speaks
STARTTLS, implicit TLS and AUTH.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from channels.email.models import MailKind, MailRecord
from intake.config import EmailConfig
from intake.errors import DeliveryFailed
from intake.models import OutboundMessage
from intake.runtime import get_runtime

log = logging.getLogger(__name__)


def compose(message: OutboundMessage, config: EmailConfig, thread: MailRecord | None = None) -> EmailMessage:
    """The mail for ``message``; ``thread`` (stored when it was queued) fixes its Message-ID and what it answers."""
    subject, _, body = message.body.partition("\n")
    mail = EmailMessage()
    mail["From"] = config.from_address
    mail["To"] = message.to
    mail["Subject"] = subject.strip()
    mail["Date"] = formatdate(localtime=True)
    if thread is not None:
        mail["Message-ID"] = f"<{thread.message_id}>"
        if thread.in_reply_to:
            mail["In-Reply-To"] = f"<{thread.in_reply_to}>"
            mail["References"] = f"<{thread.in_reply_to}>"
        # RFC 3834: our answers are machine-made; other robots must not answer them (no mail loops).
        mail["Auto-Submitted"] = "auto-replied" if thread.kind == "ack" else "auto-generated"
    else:
        mail["Message-ID"] = make_msgid(idstring=f"gl{message.id}", domain=config.from_address.partition("@")[2])
    mail.set_content(body.strip() or subject.strip())
    return mail


def _thread_of(message: OutboundMessage) -> MailRecord | None:
    with get_runtime().db.transaction() as session:
        row = session.scalar(select(MailRecord).where(MailRecord.outbound_id == message.id))
        if row is not None:
            session.expunge(row)
        return row


def _remember_sent(message: OutboundMessage, message_id: str) -> None:
    """Keep the Message-ID of a mail that was not queued with one (unit notices): replies find its case."""
    try:
        with get_runtime().db.transaction() as session:
            session.add(
                MailRecord(
                    direction="out",
                    message_id=message_id,
                    kind=MailKind.OUTBOUND,
                    address=message.to[:254],
                    subject=message.body.partition("\n")[0][:255],
                    case_id=message.case_id,
                    outbound_id=message.id,
                )
            )
    except IntegrityError:
        pass  # sent before (a retried job after a lost acknowledgement): the first record stands


def send_email(message: OutboundMessage) -> str:
    """Send one mail; returns its Message-ID. Raises DeliveryFailed (permanent for a refused address)."""
    config = get_runtime().config.email
    if not config.configured:
        raise DeliveryFailed("email is not configured (email.smtp_host, email.from_address)", permanent=True)
    thread = _thread_of(message)
    mail = compose(message, config, thread)
    try:
        if config.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                config.smtp_host, config.smtp_port, timeout=config.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.timeout_seconds)
        with client:
            if config.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if config.username:
                client.login(config.username, config.password)
            client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as err:
        raise DeliveryFailed(f"the server refused the recipient: {err.recipients}", permanent=True) from err
    except (smtplib.SMTPException, OSError) as err:
        raise DeliveryFailed(f"SMTP: {type(err).__name__}: {err}") from err
    log.info("mail for message %s accepted by %s", message.id, config.smtp_host)
    if thread is None:
        _remember_sent(message, str(mail["Message-ID"]).strip("<> "))
    return str(mail["Message-ID"])[:64]  # the provider id column's width; the full id is in email_messages
