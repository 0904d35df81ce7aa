"""The agents' queue: who holds which case. A claim is a lease; two agents never hold one case.

"Next case" hands an agent the case at the head of the queue (priority, then age) that nobody
holds or whose lease ran out, in one UPDATE. On PostgreSQL the candidate row is locked with
``FOR UPDATE SKIP LOCKED``, so concurrent claims take different cases instead of waiting for
each other; SQLite serializes writers anyway. A lease is renewed while the agent works and
released when they finish, go offline, or stop renewing it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BindParameter, ColumnElement, Connection, and_, bindparam, insert, or_, select, update

from intake.models import Case, CaseEvent, User, utcnow
from intake.processing import publish_queue_event
from intake.runtime import get_runtime
from intake.states import CaseStatus

log = logging.getLogger(__name__)

#: How long a claim holds without renewal, in seconds. The console renews it while the case is open.
LEASE_SECONDS = 300

_CASES = Case.__table__


@dataclass(frozen=True)
class Claim:
    case_id: int
    number: str
    lease_until: datetime


def waiting(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """Cases in the agents' queue that nobody holds, or whose holder's lease ran out by ``now``."""
    return and_(
        Case.status == CaseStatus.VERIFYING,
        or_(Case.claimed_by_id.is_(None), Case.lease_until < now),
    )


_HEAD = (
    select(_CASES.c.id)
    .where(waiting(bindparam("now")))
    .order_by(_CASES.c.priority, _CASES.c.created_at, _CASES.c.id)
    .limit(1)
)
_CLAIM = (
    update(_CASES)
    .where(_CASES.c.id == _HEAD.with_for_update(skip_locked=True).scalar_subquery())
    .values(claimed_by_id=bindparam("user_id"), lease_until=bindparam("until"))
    .returning(_CASES.c.id, _CASES.c.number, _CASES.c.lease_until)
)
_HELD = (
    select(_CASES.c.id, _CASES.c.number, _CASES.c.lease_until)
    .where(
        _CASES.c.claimed_by_id == bindparam("user_id"),
        _CASES.c.lease_until >= bindparam("now"),
        _CASES.c.status == CaseStatus.VERIFYING.value,
    )
    .order_by(_CASES.c.lease_until)
    .limit(1)
)


def claim_next(user: User, *, lease_seconds: int = LEASE_SECONDS) -> Claim | None:
    """The case this agent should work on now: the one they hold already, else the queue's head."""
    runtime = get_runtime()
    now = utcnow()
    until = now + timedelta(seconds=lease_seconds)
    with runtime.db.engine.begin() as conn:
        held = conn.execute(_HELD, {"user_id": user.id, "now": now}).first()
        if held is not None:
            return Claim(held.id, held.number, held.lease_until)
        row = conn.execute(_CLAIM, {"user_id": user.id, "until": until, "now": now}).first()
        if row is None:
            return None
        _record(conn, row.id, "claimed", user, {"lease_until": until.isoformat()})
    publish_queue_event({"event": "claimed", "cases": [row.number]})
    return Claim(row.id, row.number, row.lease_until)


def renew(user: User, case_id: int, *, lease_seconds: int = LEASE_SECONDS) -> datetime | None:
    """Extend the agent's lease on a case; ``None`` if they no longer hold it."""
    until = utcnow() + timedelta(seconds=lease_seconds)
    with get_runtime().db.engine.begin() as conn:
        renewed = conn.execute(
            update(_CASES)
            .where(_CASES.c.id == case_id, _CASES.c.claimed_by_id == user.id, _CASES.c.lease_until >= utcnow())
            .values(lease_until=until)
        ).rowcount
    return until if renewed else None


def release(user: User, case_id: int, reason: str = "released") -> bool:
    """Give a held case back to the queue."""
    with get_runtime().db.engine.begin() as conn:
        released = conn.execute(
            update(_CASES)
            .where(_CASES.c.id == case_id, _CASES.c.claimed_by_id == user.id)
            .values(claimed_by_id=None, lease_until=None)
        ).rowcount
        if released:
            _record(conn, case_id, "released", user, {"reason": reason})
    if released:
        publish_queue_event({"event": "released"})
    return bool(released)


def release_all(user: User, reason: str) -> int:
    """Give back every case the agent holds (they went offline)."""
    with get_runtime().db.engine.begin() as conn:
        ids = (
            conn.execute(
                update(_CASES)
                .where(_CASES.c.claimed_by_id == user.id)
                .values(claimed_by_id=None, lease_until=None)
                .returning(_CASES.c.id)
            )
            .scalars()
            .all()
        )
        for case_id in ids:
            _record(conn, case_id, "released", user, {"reason": reason})
    if ids:
        publish_queue_event({"event": "released"})
        log.info("released %d case(s) held by user %s (%s)", len(ids), user.id, reason)
    return len(ids)


def holder_of(case_id: int) -> int | None:
    """Id of the agent whose lease on the case still holds."""
    with get_runtime().db.engine.connect() as conn:
        row = conn.execute(select(_CASES.c.claimed_by_id, _CASES.c.lease_until).where(_CASES.c.id == case_id)).first()
    if row is None or row.claimed_by_id is None or row.lease_until < utcnow():
        return None
    return row.claimed_by_id


def _record(conn: Connection, case_id: int, kind: str, user: User, detail: dict[str, object]) -> None:
    conn.execute(
        insert(CaseEvent.__table__).values(
            case_id=case_id,
            at=utcnow(),
            actor=f"user:{user.username}",
            channel="console",
            kind=kind,
            detail=detail,
            public=False,
        )
    )
