"""Sign-in by phone: one-time SMS codes and the bearer tokens they are exchanged for.

A code is sent through :func:`intake.outbound.queue_message` (an SMS, by a worker) and kept only as
an HMAC under the server's secret key. It expires, dies after a few wrong guesses, works once, and a
number gets only so many per hour. The citizen app and the grid workers' page both use it; the
``purpose`` keeps their codes apart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.app.errors import CodeRejected, RateLimited
from channels.app.models import PhoneCode
from channels.app.settings import CodeSettings
from intake.models import utcnow
from intake.outbound import queue_message
from intake.phones import mask_phone
from intake.runtime import get_runtime

log = logging.getLogger(__name__)

#: The window ``CodeSettings.per_hour`` counts in, in seconds.
HOUR_SECONDS = 3600


def _key() -> bytes:
    from intake.web import secret_key

    return secret_key(get_runtime()).encode()


def _code_hash(purpose: str, phone: str, code: str) -> str:
    return hmac.new(_key(), f"{purpose}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def token_digest(token: str) -> str:
    """What is stored of a bearer token: its SHA-256 (tokens are long and random, no key needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> tuple[str, str]:
    """A fresh bearer token and its digest."""
    token = prefix + secrets.token_urlsafe(32)
    return token, token_digest(token)


def send_code(session: Session, purpose: str, phone: str, body_template: str, settings: CodeSettings) -> int:
    """Create a code for ``phone`` and queue it by SMS; returns its lifetime in seconds.

    ``body_template`` has ``{code}`` and ``{minutes}``. Raises :class:`RateLimited` when the number
    had a code moments ago or too many this hour.
    """
    now = utcnow()
    recent = session.execute(
        select(func.count(), func.max(PhoneCode.created_at)).where(
            PhoneCode.purpose == purpose,
            PhoneCode.phone == phone,
            PhoneCode.created_at > now - timedelta(seconds=HOUR_SECONDS),
        )
    ).one()
    sent_this_hour, last = recent[0] or 0, recent[1]
    if last is not None and last.tzinfo is None:  # SQLite's func.max() bypasses the column type
        last = last.replace(tzinfo=now.tzinfo)
    if last is not None and (now - last).total_seconds() < settings.resend_after_seconds:
        wait = settings.resend_after_seconds - int((now - last).total_seconds())
        raise RateLimited("a code was sent to this number moments ago", retry_after=max(wait, 1), code="code_too_soon")
    if sent_this_hour >= settings.per_hour:
        raise RateLimited(
            "too many codes for this number this hour", retry_after=HOUR_SECONDS, code="code_hourly_limit"
        )
    code = "".join(secrets.choice("0123456789") for _ in range(settings.length))
    session.add(
        PhoneCode(
            purpose=purpose,
            phone=phone,
            code_hash=_code_hash(purpose, phone, code),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.ttl_seconds),
            attempts=0,
        )
    )
    body = body_template.format(code=code, minutes=max(1, settings.ttl_seconds // 60))
    queue_message(session, channel="sms", to=phone, body=body)
    log.info("%s sign-in code queued for %s", purpose, mask_phone(phone))
    if codes_shown():
        # Demo only (demo.show_codes, and no SMS provider to deliver it): the console shows the code.
        log.warning("demo: the %s sign-in code for %s is %s (demo.show_codes)", purpose, mask_phone(phone), code)
    return settings.ttl_seconds


def codes_shown() -> bool:
    """Whether sign-in codes appear in the log: ``demo.show_codes`` and no Twilio account to send them."""
    config = get_runtime().config
    return config.demo.show_codes and not (config.twilio.account_sid and config.twilio.auth_token)


def code_delivery_note() -> str:
    """How a person trying the demo gets a sign-in code (printed by ``gridline demo load``)."""
    config = get_runtime().config
    if config.twilio.account_sid and config.twilio.auth_token:
        return "the code comes by SMS (Twilio)"
    if codes_shown():
        return "no Twilio account: the code appears in this console's log (demo.show_codes)"
    return (
        "no Twilio account, so no SMS: set GRIDLINE_DEMO__SHOW_CODES=true (scripts/demo.sh does) "
        "to see codes in the console's log"
    )


def check_code(purpose: str, phone: str, code: str, settings: CodeSettings) -> None:
    """Use up the number's live code if ``code`` is it; raise :class:`CodeRejected` otherwise.

    Runs its own transaction: a wrong guess must be counted even though the caller then fails.
    """
    now = utcnow()
    problem: str | None = None
    reason = ""
    with get_runtime().db.transaction() as session:
        row = session.scalar(
            select(PhoneCode)
            .where(PhoneCode.purpose == purpose, PhoneCode.phone == phone, PhoneCode.used_at.is_(None))
            .order_by(PhoneCode.created_at.desc(), PhoneCode.id.desc())
            .limit(1)
            .with_for_update()
        )
        if row is None or row.expires_at <= now:
            problem, reason = "no live code for this number: ask for a new one", "code_expired"
        elif row.attempts >= settings.max_attempts:
            problem, reason = "too many wrong codes: ask for a new one", "code_exhausted"
        elif not hmac.compare_digest(row.code_hash, _code_hash(purpose, phone, code.strip())):
            row.attempts += 1
            problem, reason = "wrong code", "code_wrong"
            if row.attempts >= settings.max_attempts:
                log.warning("%s sign-in code for %s exhausted by wrong guesses", purpose, mask_phone(phone))
        else:
            row.used_at = now
    if problem is not None:
        raise CodeRejected(problem, reason)
