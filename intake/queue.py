"""RQ queues, and enqueueing that happens only once the database has committed.

Jobs are named by dotted path so that this module imports none of them. Work is always recorded
in the database first; a job is only a wake-up call, and :func:`intake.processing.sweep` re-enqueues
anything whose job was lost (Redis restarted, a worker killed), so no job is ever the only copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

from intake.runtime import get_runtime

log = logging.getLogger(__name__)

QUEUE_INTAKE = "intake"  # received reports → the agents' queue, in batches
QUEUE_MEDIA = "media"  # attachment downloads
QUEUE_OUTBOUND = "outbound"  # SMS and other messages to citizens and units
QUEUE_DEFAULT = "default"
#: The order a worker serves its queues in.
ALL_QUEUES = (QUEUE_INTAKE, QUEUE_OUTBOUND, QUEUE_MEDIA, QUEUE_DEFAULT)

#: Seconds the intake wake-up flag lives; it only debounces, the sweeper covers a lost one.
WAKE_TTL_SECONDS = 60
#: Longest run of one batch job, in seconds.
JOB_TIMEOUT_SECONDS = 600
#: Retries of a failed or abandoned job, and the waits between them in seconds.
DEFAULT_RETRY = Retry(max=5, interval=[5, 15, 60, 300, 900])

_AFTER_COMMIT = "gridline_after_commit"


def get_queue(name: str) -> Queue:
    return Queue(name, connection=get_runtime().redis, default_timeout=JOB_TIMEOUT_SECONDS)


def enqueue(queue_name: str, func: str, *args: Any, **kwargs: Any) -> None:
    """Enqueue a job now; a Redis outage is logged, not raised (the sweeper catches up)."""
    try:
        get_queue(queue_name).enqueue(func, *args, retry=DEFAULT_RETRY, **kwargs)
    except redis.RedisError:
        log.warning("could not enqueue %s on %s; the sweeper will retry", func, queue_name, exc_info=True)


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once ``session`` has committed (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # a wake-up that fails must not undo what is already committed
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def wake_intake() -> None:
    """Make sure one intake batch job is on its way (many calls in a burst enqueue one job)."""
    runtime = get_runtime()
    try:
        if runtime.redis.set(runtime.key("intake", "wake"), 1, nx=True, ex=WAKE_TTL_SECONDS):
            get_queue(QUEUE_INTAKE).enqueue("intake.processing.process_received", retry=DEFAULT_RETRY, result_ttl=60)
    except redis.RedisError:
        log.warning("could not wake the intake worker; the sweeper will", exc_info=True)


def clear_intake_wake() -> None:
    runtime = get_runtime()
    runtime.redis.delete(runtime.key("intake", "wake"))
