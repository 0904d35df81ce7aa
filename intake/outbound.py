"""Messages to citizens and units, always sent by a worker, never from a request handler.

A channel registers a sender (``register_sender("sms", send)``); :func:`queue_message` records
the message (or its suppression for an opted-out recipient) in the case's transaction, and the
job :func:`deliver` sends it after commit, retried by RQ on failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from intake.cases import record
from intake.errors import DeliveryFailed
from intake.models import Case, OptOut, OutboundMessage, OutboundStatus, utcnow
from intake.phones import mask_phone
from intake.queue import QUEUE_OUTBOUND, after_commit, enqueue
from intake.runtime import get_runtime

log = logging.getLogger(__name__)

#: ``sender(message) -> provider id``; raises on failure so that the job is retried.
Sender = Callable[[OutboundMessage], str]
_senders: dict[str, Sender] = {}

#: Attempts before a message is marked failed for good.
MAX_ATTEMPTS = 6
#: Seconds one delivery may hold a message against a concurrent duplicate job.
DELIVERY_LOCK_SECONDS = 120


def register_sender(channel: str, sender: Sender) -> None:
    _senders[channel] = sender


def has_sender(channel: str) -> bool:
    return channel in _senders


def is_opted_out(bind: Session | Engine, channel: str, address: str) -> bool:
    """Whether ``address`` said STOP on ``channel``; given an engine, one autocommit read."""
    query = select(OptOut.since).where(OptOut.channel == channel, OptOut.address == address)
    if isinstance(bind, Engine):
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return conn.execute(query).first() is not None
    return bind.execute(query).first() is not None


def set_opt_out(session: Session, channel: str, address: str, opted_out: bool) -> None:
    current = session.get(OptOut, (channel, address))
    if opted_out and current is None:
        session.add(OptOut(channel=channel, address=address))
    elif not opted_out and current is not None:
        session.delete(current)


def queue_message(
    session: Session, *, channel: str, to: str, body: str, case: Case | None = None, actor: str = "system"
) -> OutboundMessage:
    """Record an outbound message and send it from a worker once the transaction commits."""
    message = OutboundMessage(channel=channel, to=to, body=body, case_id=case.id if case else None)
    if is_opted_out(session, channel, to):
        message.status = OutboundStatus.SUPPRESSED
    session.add(message)
    session.flush()
    if case is not None:
        record(
            session,
            case,
            "message_queued" if message.status == OutboundStatus.QUEUED else "message_suppressed",
            actor=actor,
            channel=channel,
            detail={"message_id": message.id, "to": mask_phone(to) if channel == "sms" else to},
        )
    if message.status == OutboundStatus.QUEUED:
        message_id = message.id
        after_commit(session, lambda: enqueue(QUEUE_OUTBOUND, "intake.outbound.deliver", message_id))
    return message


def deliver(message_id: int) -> str:
    """Send one queued message (the RQ job). Idempotent: a sent or suppressed one is left alone."""
    runtime = get_runtime()
    lock = runtime.redis.lock(runtime.key("outbound", str(message_id)), timeout=DELIVERY_LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        return "busy"
    try:
        with runtime.db.transaction() as session:
            message = session.get(OutboundMessage, message_id)
            if message is None or message.status != OutboundStatus.QUEUED:
                return message.status if message else "missing"
            if is_opted_out(session, message.channel, message.to):
                message.status = OutboundStatus.SUPPRESSED
                return message.status
            message.attempts += 1
            sender = _senders.get(message.channel)
        if sender is None:
            raise LookupError(f"no sender is registered for channel {message.channel!r}")
        try:
            provider_id = sender(message)
        except DeliveryFailed as err:
            _record_failure(message_id, err, final=err.permanent)
            if err.permanent:
                return OutboundStatus.FAILED
            raise
        except Exception as err:
            _record_failure(message_id, err)
            raise
        with runtime.db.transaction() as session:
            stored = session.get(OutboundMessage, message_id)
            assert stored is not None
            stored.status = OutboundStatus.SENT
            stored.provider_id = provider_id
            stored.sent_at = utcnow()
            stored.error = None
            if stored.case_id is not None:
                case = session.get(Case, stored.case_id)
                assert case is not None
                record(
                    session,
                    case,
                    "message_sent",
                    actor="system",
                    channel=stored.channel,
                    detail={"message_id": stored.id, "provider_id": provider_id},
                )
        log.info("sent %s message %s as %s", message.channel, message_id, provider_id)
        return OutboundStatus.SENT
    finally:
        lock.release()


def _record_failure(message_id: int, err: Exception, *, final: bool = False) -> None:
    runtime = get_runtime()
    with runtime.db.transaction() as session:
        message = session.get(OutboundMessage, message_id)
        assert message is not None
        message.error = f"{type(err).__name__}: {err}"[:500]
        if final or message.attempts >= MAX_ATTEMPTS:
            message.status = OutboundStatus.FAILED
    log.warning("sending message %s failed (attempt %s): %s", message_id, message.attempts, type(err).__name__)


#: How far along each provider delivery status is; a receipt never moves a message backwards
#: (providers deliver their callbacks out of order).
_PROGRESS = {
    "queued": 0,
    "accepted": 0,
    "scheduled": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "canceled": 3,
    "read": 4,
}
_OUR_STATUS = {
    "delivered": OutboundStatus.DELIVERED,
    "read": OutboundStatus.DELIVERED,
    "undelivered": OutboundStatus.UNDELIVERED,
    "failed": OutboundStatus.FAILED,
    "canceled": OutboundStatus.FAILED,
}
KNOWN_DELIVERY_STATUSES = frozenset(_PROGRESS)


def record_delivery(channel: str, provider_id: str, status: str, error_code: str | None = None) -> bool:
    """Apply a provider's delivery receipt; ``False`` when no message of ours has that id."""
    runtime = get_runtime()
    with runtime.db.transaction() as session:
        message = session.scalar(
            select(OutboundMessage)
            .where(OutboundMessage.channel == channel, OutboundMessage.provider_id == provider_id)
            .with_for_update()
        )
        if message is None:
            return False
        new = _OUR_STATUS.get(status)
        current = _PROGRESS.get(message.status, 2)
        if new is None or _PROGRESS[status] <= current:
            return True  # progress we knew already, or an older receipt arriving late
        message.status = new
        message.error = f"provider error {error_code}" if error_code else message.error
        if message.case_id is not None:
            case = session.get(Case, message.case_id)
            assert case is not None
            record(
                session,
                case,
                f"message_{new}",
                actor=f"channel:{channel}",
                channel=channel,
                detail={"message_id": message.id, "provider_status": status, "error_code": error_code},
            )
    return True
