"""Live queue updates: Redis pub/sub → server-sent events, so it works across many web processes.

Every change to the agents' queue (a case queued by the worker, claimed, released, or moved on by
an action) is published on one Redis channel; each open console holds an SSE stream that relays
it, and the page then re-reads the queue. Streams end after :data:`STREAM_SECONDS` and the browser
reconnects by itself, so no web thread is held forever.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import redis
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from intake.models import Case, CaseEvent
from intake.processing import QUEUE_EVENTS_CHANNEL, publish_queue_event
from intake.queue import after_commit
from intake.runtime import get_runtime
from intake.states import Action, CaseStatus

#: Seconds one SSE stream lasts before the browser is asked to reconnect.
STREAM_SECONDS = 300
#: Seconds between keep-alive comments (proxies close idle connections).
KEEPALIVE_SECONDS = 15
#: Milliseconds the browser waits before reconnecting.
RETRY_MS = 1000


_PENDING = "gridline_queue_changes"


@sa_event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def announce_transition(session: Session, case: Case, action: Action, event: CaseEvent) -> None:
    """Transition hook: a case entering or leaving verification changes the queue.

    One message per transaction, after it commits. The worker's batches announce themselves
    (:func:`intake.processing.process_received`), so queueing is left out here.
    """
    if action is Action.QUEUE:
        return
    if CaseStatus.VERIFYING.value not in (event.from_status, event.to_status):
        return
    pending: list[str] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []

        def publish() -> None:
            numbers = session.info.pop(_PENDING, [])
            publish_queue_event({"event": "changed", "cases": numbers})

        after_commit(session, publish)
    pending.append(case.number)


def stream() -> Iterator[str]:
    """SSE lines relaying queue events until :data:`STREAM_SECONDS` pass."""
    runtime = get_runtime()
    pubsub = runtime.redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(runtime.key(QUEUE_EVENTS_CHANNEL))
    try:
        yield f"retry: {RETRY_MS}\n\n"
        deadline = time.monotonic() + STREAM_SECONDS
        last_sent = time.monotonic()
        while time.monotonic() < deadline:
            try:
                message = pubsub.get_message(timeout=1.0)
            except (redis.RedisError, ValueError, OSError):
                return  # Redis went away or the process is stopping: the browser reconnects
            if message is not None:
                data = message["data"]
                text = data.decode() if isinstance(data, bytes) else str(data)
                yield f"event: queue\ndata: {json.dumps(json.loads(text), ensure_ascii=False)}\n\n"
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                last_sent = time.monotonic()
    finally:
        with contextlib.suppress(redis.RedisError, ValueError, OSError):
            pubsub.close()
