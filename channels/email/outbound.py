"""Outbound mail over SMTP (run by workers via :mod:`intake.outbound`).

A message's first line is the subject, the rest the body. The standard library's ``smtplib`` is
the client: SMTP submission needs nothing more, and it speaks STARTTLS, implicit TLS and AUTH.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from intake.config import EmailConfig
from intake.errors import DeliveryFailed
from intake.models import OutboundMessage
from intake.runtime import get_runtime

log = logging.getLogger(__name__)


def compose(message: OutboundMessage, config: EmailConfig) -> EmailMessage:
    subject, _, body = message.body.partition("\n")
    mail = EmailMessage()
    mail["From"] = config.from_address
    mail["To"] = message.to
    mail["Subject"] = subject.strip()
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(idstring=f"gl{message.id}", domain=config.from_address.partition("@")[2])
    mail.set_content(body.strip() or subject.strip())
    return mail


def send_email(message: OutboundMessage) -> str:
    """Send one mail; returns its Message-ID. Raises DeliveryFailed (permanent for a refused address)."""
    config = get_runtime().config.email
    if not config.configured:
        raise DeliveryFailed("email is not configured (email.smtp_host, email.from_address)", permanent=True)
    mail = compose(message, config)
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
    return str(mail["Message-ID"])[:64]  # the provider id column's width; enough to find the mail
