"""Automatic call distribution: offer waiting calls to agents whose console says they are available.

Presence is the console's (``users.presence``: ``available``, ``busy``, ``break``, ``offline``; the
values of ``agent_ui.presence.Presence``, which this package reads but does not import). An agent is
*free* when available and not being rung already. :func:`dispatch` pairs the waiting calls (by
priority, then age) with free agents (longest available first) and has the calls' driver ring them:
each driver registers a *ringer* (:func:`register_ringer`). An agent rung is claimed in Redis for as
long as their phone may ring, so no two calls ring one agent; an agent who lets it ring out goes to
``break`` (:func:`agent_missed`) and the call is offered to the next one.

:func:`dispatch` runs as an RQ job (webhooks ask for it with :func:`request_dispatch`) and from the
scheduler every ``ivr.queue.dispatch_interval_seconds``, so a lost job only delays an offer.

A driver whose calls live in a process of their own (the Asterisk Stasis application, ``gridline ari``)
registers no ringer here: it pairs its own waiting calls with :func:`free_agents` and :func:`claim`,
and reports back with :func:`agent_answered`, :func:`agent_missed`, :func:`agent_done` and
:func:`release`. The database (presence) and the Redis claims are shared, so the drivers never ring one
agent twice; each claim names its provider, so one driver's ringing agents do not hold up the other's
calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis
from sqlalchemy import select, update

from intake.models import User, utcnow
from intake.processing import publish_queue_event
from intake.queue import QUEUE_DEFAULT, enqueue
from intake.runtime import get_runtime
from ivr.errors import RingFailed
from ivr.models import CallRecord
from ivr.settings import ivr_settings

log = logging.getLogger(__name__)

#: Presence values (agent_ui.presence.Presence).
AVAILABLE = "available"
BUSY = "busy"
#: Seconds a claim outlives the agent's ring time (the ringer's own latency, Twilio's callback).
CLAIM_GRACE_SECONDS = 15
#: Seconds during which further dispatch requests are folded into the one already queued.
DISPATCH_DEBOUNCE_SECONDS = 1


@dataclass(frozen=True)
class Agent:
    user_id: int
    username: str


@dataclass(frozen=True)
class Offer:
    """A waiting call offered to an agent."""

    provider: str
    call_id: str
    priority: int
    agent: Agent


#: ``ringer(offer)`` rings the agent's phone for a call of its provider; raises RingFailed.
Ringer = Callable[[Offer], None]
_ringers: dict[str, Ringer] = {}


def register_ringer(provider: str, ringer: Ringer) -> None:
    _ringers[provider] = ringer


def agents_available() -> bool:
    """Whether any agent is available at all (a caller with none is offered a message or a call back)."""
    roles = ivr_settings(get_runtime().config).queue.agent_roles
    with get_runtime().db.engine.connect() as conn:
        found = conn.execute(
            select(User.id).where(User.presence == AVAILABLE, User.active.is_(True), User.role.in_(roles)).limit(1)
        ).first()
    return found is not None


def request_dispatch(*, debounce: bool = True) -> None:
    """Ask a worker to offer waiting calls to free agents (a burst of requests makes one job)."""
    runtime = get_runtime()
    try:
        if debounce and not runtime.redis.set(runtime.key("ivr", "dispatch"), 1, nx=True, ex=DISPATCH_DEBOUNCE_SECONDS):
            return
    except redis.RedisError:
        log.warning("could not debounce the dispatch request", exc_info=True)
    enqueue(QUEUE_DEFAULT, "ivr.acd.dispatch")


def dispatch() -> int:
    """Offer waiting calls to free agents (the RQ job, and a periodic one). Returns the offers made."""
    runtime = get_runtime()
    settings = ivr_settings(runtime.config).queue
    if not _ringers:
        return 0
    with runtime.db.engine.connect() as conn:
        # Calls of a driver that offers its calls itself (no ringer registered) are left to it.
        waiting = conn.execute(
            select(CallRecord.provider, CallRecord.provider_call_id, CallRecord.priority)
            .where(CallRecord.queue_state == "waiting", CallRecord.provider.in_(list(_ringers)))
            .order_by(CallRecord.priority, CallRecord.enqueued_at, CallRecord.id)
        ).all()
        if not waiting:
            return 0
        agents = conn.execute(
            select(User.id, User.username)
            .where(User.presence == AVAILABLE, User.active.is_(True), User.role.in_(settings.agent_roles))
            .order_by(User.presence_at, User.id)
        ).all()
    ringing = _ringing_count(set(_ringers))
    unoffered = waiting[ringing:]
    made = 0
    for call in unoffered:
        agent = next((Agent(row.id, row.username) for row in agents if _claim(row.id, call.provider)), None)
        if agent is None:
            break
        agents = [row for row in agents if row.id != agent.user_id]
        offer = Offer(call.provider, call.provider_call_id, call.priority or 3, agent)
        try:
            _ringers[call.provider](offer)
        except RingFailed as err:
            log.warning("could not ring user %s for call %s: %s", agent.user_id, call.provider_call_id, err)
            release(agent.user_id)
            continue
        made += 1
        log.info("offered call %s/%s to user %s", call.provider, call.provider_call_id, agent.user_id)
    return made


def free_agents() -> list[Agent]:
    """Agents whose console says available, longest available first (claimed ones included: see :func:`claim`)."""
    roles = ivr_settings(get_runtime().config).queue.agent_roles
    with get_runtime().db.engine.connect() as conn:
        rows = conn.execute(
            select(User.id, User.username)
            .where(User.presence == AVAILABLE, User.active.is_(True), User.role.in_(roles))
            .order_by(User.presence_at, User.id)
        ).all()
    return [Agent(row.id, row.username) for row in rows]


def claim(user_id: int, provider: str) -> bool:
    """Reserve an agent for one ring of a ``provider`` call; False when some call is ringing them already.

    The claim lapses by itself ``agent_ring_seconds`` + :data:`CLAIM_GRACE_SECONDS` later (a driver
    that died while ringing); :func:`agent_answered`, :func:`agent_missed` and :func:`release` end it.
    """
    return _claim(user_id, provider)


def agent_answered(user_id: int) -> None:
    """The agent is talking to a caller: busy, and no longer claimed."""
    release(user_id)
    set_presence(user_id, BUSY)


def agent_missed(user_id: int) -> None:
    """The agent let an offered call ring out (or refused it): away, and the call goes to the next agent."""
    release(user_id)
    missed = ivr_settings(get_runtime().config).queue.missed_call_presence
    set_presence(user_id, missed, only_if=AVAILABLE)
    log.info("user %s did not answer an offered call: presence %s", user_id, missed)
    request_dispatch(debounce=False)


def agent_done(user_id: int) -> None:
    """The agent's call ended: available again if the call made them busy, and the queue moves on."""
    release(user_id)
    set_presence(user_id, AVAILABLE, only_if=BUSY)
    request_dispatch(debounce=False)


def set_presence(user_id: int, presence: str, *, only_if: str | None = None) -> bool:
    """Set an agent's presence (as the console does) and tell the consoles; ``only_if`` guards the change."""
    query = update(User).where(User.id == user_id)
    if only_if is not None:
        query = query.where(User.presence == only_if)
    with get_runtime().db.engine.begin() as conn:
        changed = conn.execute(query.values(presence=presence, presence_at=utcnow())).rowcount
    if changed:
        publish_queue_event({"event": "presence"})
    return bool(changed)


def _claim_key(user_id: int) -> str:
    return get_runtime().key("ivr", "ringing", str(user_id))


def _claim(user_id: int, provider: str) -> bool:
    runtime = get_runtime()
    seconds = ivr_settings(runtime.config).queue.agent_ring_seconds + CLAIM_GRACE_SECONDS
    return bool(runtime.redis.set(_claim_key(user_id), provider, nx=True, ex=seconds))


def release(user_id: int) -> None:
    get_runtime().redis.delete(_claim_key(user_id))


def _ringing_count(providers: set[str]) -> int:
    """Agents being rung for calls of ``providers``."""
    runtime = get_runtime()
    keys = list(runtime.redis.scan_iter(match=runtime.key("ivr", "ringing", "*"), count=1000))
    if not keys:
        return 0
    wanted = {provider.encode() for provider in providers}
    return sum(1 for value in runtime.redis.mget(keys) if value in wanted)
