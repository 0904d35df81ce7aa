"""Worker jobs that move received cases into the agents' queue, in batches, and the sweeper.

One RQ job drains every received case in batches of ``worker.batch_size`` per transaction, so a
burst of thousands of reports costs a handful of jobs, not one fork per report. Enrichers
registered by other packages (routing puts a point into its grid cell) run on each batch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.cases import apply
from intake.models import Attachment, AttachmentStatus, Case, OutboundMessage, OutboundStatus, utcnow
from intake.queue import (
    QUEUE_MEDIA,
    QUEUE_OUTBOUND,
    clear_intake_wake,
    enqueue,
    wake_intake,
)
from intake.runtime import get_runtime
from intake.states import Action, CaseStatus

log = logging.getLogger(__name__)

#: ``enricher(session, cases)`` fills in what it can (grid cell, department proposal, ...).
Enricher = Callable[[Session, Sequence[Case]], None]
_enrichers: list[Enricher] = []

#: Redis pub/sub channel that hears about every change to the agents' queue.
QUEUE_EVENTS_CHANNEL = "queue-events"


#: Jobs the scheduler enqueues every so many seconds: (function, interval in seconds).
_periodic: list[tuple[Callable[[], object], int]] = []


def register_periodic(job: Callable[[], object], interval_seconds: int) -> None:
    """Have ``gridline scheduler`` enqueue ``job`` every ``interval_seconds`` (it must be idempotent)."""
    if all(existing is not job for existing, _ in _periodic):
        _periodic.append((job, interval_seconds))


def periodic_jobs() -> list[tuple[Callable[[], object], int]]:
    return list(_periodic)


def register_enricher(enricher: Enricher) -> Enricher:
    if enricher not in _enrichers:
        _enrichers.append(enricher)
    return enricher


def process_received(batch_size: int | None = None) -> int:
    """Move every received case into the agents' queue; return how many were moved."""
    runtime = get_runtime()
    batch_size = batch_size or runtime.config.worker.batch_size
    # Clear the wake-up flag first: a report stored from now on sets it again and gets a job.
    clear_intake_wake()
    total = 0
    while True:
        numbers = _process_batch(batch_size)
        if not numbers:
            break
        total += len(numbers)
        publish_queue_event({"event": "queued", "cases": numbers})
    if total:
        log.info("moved %d received cases to the agents' queue", total)
    return total


def _process_batch(batch_size: int) -> list[str]:
    runtime = get_runtime()
    with runtime.db.transaction() as session:
        cases = session.scalars(
            select(Case)
            .where(Case.status == CaseStatus.RECEIVED)
            .order_by(Case.id)
            .limit(batch_size)
            # Several workers drain side by side without waiting on each other's rows.
            .with_for_update(skip_locked=True)
        ).all()
        for enrich in _enrichers:
            enrich(session, cases)
        for case in cases:
            apply(session, case, Action.QUEUE, actor="system")
        return [case.number for case in cases]


def publish_queue_event(message: dict[str, object]) -> None:
    runtime = get_runtime()
    runtime.redis.publish(runtime.key(QUEUE_EVENTS_CHANNEL), json.dumps(message))


def sweep() -> dict[str, int]:
    """Re-enqueue work recorded in the database whose job is overdue (lost or killed with its worker)."""
    runtime = get_runtime()
    cutoff = utcnow() - timedelta(seconds=runtime.config.worker.stale_after_seconds)
    with runtime.db.transaction() as session:
        received = session.scalar(
            select(func.count()).select_from(Case).where(Case.status == CaseStatus.RECEIVED, Case.created_at < cutoff)
        )
        report_ids = session.scalars(
            select(Attachment.report_id)
            .where(Attachment.status == AttachmentStatus.PENDING, Attachment.created_at < cutoff)
            .distinct()
            .limit(1000)
        ).all()
        message_ids = session.scalars(
            select(OutboundMessage.id)
            .where(OutboundMessage.status == OutboundStatus.QUEUED, OutboundMessage.created_at < cutoff)
            .limit(1000)
        ).all()
    if received:
        clear_intake_wake()
        wake_intake()
    for report_id in report_ids:
        enqueue(QUEUE_MEDIA, "intake.media.download_attachments", report_id)
    for message_id in message_ids:
        enqueue(QUEUE_OUTBOUND, "intake.outbound.deliver", message_id)
    counts = {"received": received or 0, "downloads": len(report_ids), "messages": len(message_ids)}
    if any(counts.values()):
        log.warning("sweeper re-enqueued stale work: %s", counts)
    return counts
