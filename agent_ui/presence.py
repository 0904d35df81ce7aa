"""Agent presence: available, busy, break, offline. Going offline gives held cases back."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select, update

from agent_ui.queue import release_all
from intake.models import User, utcnow
from intake.processing import publish_queue_event
from intake.runtime import get_runtime

#: Seconds without a heartbeat from the console after which an agent counts as gone.
HEARTBEAT_TIMEOUT_SECONDS = 60


class Presence(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    BREAK = "break"
    OFFLINE = "offline"


def set_presence(user: User, presence: Presence) -> None:
    with get_runtime().db.engine.begin() as conn:
        conn.execute(update(User).where(User.id == user.id).values(presence=presence.value, presence_at=utcnow()))
    if presence is Presence.OFFLINE:
        release_all(user, "offline")
    publish_queue_event({"event": "presence"})


def heartbeat(user: User) -> None:
    with get_runtime().db.engine.begin() as conn:
        conn.execute(update(User).where(User.id == user.id).values(presence_at=utcnow()))


def expire_silent_agents() -> int:
    """Mark agents whose console fell silent offline and release their cases (a periodic job)."""
    cutoff = utcnow() - timedelta(seconds=HEARTBEAT_TIMEOUT_SECONDS)
    with get_runtime().db.transaction() as session:
        silent = session.scalars(
            select(User).where(User.presence != Presence.OFFLINE.value, User.presence_at < cutoff)
        ).all()
        for user in silent:
            session.expunge(user)
    for user in silent:
        set_presence(user, Presence.OFFLINE)
    return len(silent)
