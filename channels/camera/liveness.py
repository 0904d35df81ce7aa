"""Camera liveness: heartbeats and alarms keep a camera alive; a silent one is reported offline.

The drainer notes when each camera was last heard of in one Redis hash (a write per batch, not per
camera and alarm); housekeeping compares it with the registry. A camera silent for longer than
``camera.offline_after_seconds`` is marked offline once (``offline_since``) and the newly silent
cameras of one town make one offline incident — a switch failing takes dozens of cameras down at once,
and that is one problem for the agents, not dozens. A camera heard of again is marked back online.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.client import Pipeline
from sqlalchemy import Connection, bindparam, select, update

from channels.camera.models import Camera
from intake.runtime import Runtime

log = logging.getLogger(__name__)

#: last_seen_at in the registry is refreshed when Redis knows of a sighting this much newer.
SEEN_WRITE_GRANULARITY = timedelta(seconds=60)
#: The "town" of a camera without a grid cell.
NO_TOWN = "unknown"


def seen_key(runtime: Runtime) -> str:
    return runtime.key("camera", "seen")


def note_seen(pipe: Pipeline, runtime: Runtime, camera_ids: set[int], when: float) -> None:
    if camera_ids:
        pipe.hset(seen_key(runtime), mapping=dict.fromkeys(camera_ids, repr(when)))


@dataclass(frozen=True, slots=True)
class Silent:
    id: int
    code: str
    name: str
    town: str
    last_seen_at: datetime | None


def check(conn: Connection, runtime: Runtime, now: datetime, offline_after: timedelta) -> list[Silent]:
    """Refresh last_seen_at, mark cameras offline / back online; return the newly silent ones."""
    seen = {
        int(camera_id): datetime.fromtimestamp(float(when), UTC)
        for camera_id, when in runtime.redis.hgetall(seen_key(runtime)).items()
    }
    table = Camera.__table__
    rows = conn.execute(
        select(
            table.c.id,
            table.c.code,
            table.c.name,
            table.c.grid_code,
            table.c.last_seen_at,
            table.c.created_at,
            table.c.offline_since,
        )
    ).all()
    refreshed: list[dict[str, Any]] = []
    silent: list[Silent] = []
    back: list[dict[str, Any]] = []
    for row in rows:
        heard = seen.get(row.id)
        if heard is not None and (row.last_seen_at is None or heard - row.last_seen_at >= SEEN_WRITE_GRANULARITY):
            refreshed.append({"b_id": row.id, "b_seen": heard})
        latest = max(filter(None, (heard, row.last_seen_at)), default=None)
        if row.offline_since is None:
            # Never heard of: the silence counts from its registration.
            if now - (latest or row.created_at) > offline_after:
                town = row.grid_code[:9] if row.grid_code else NO_TOWN
                silent.append(Silent(row.id, row.code, row.name, town, latest))
        elif heard is not None and heard > row.offline_since:
            back.append({"b_id": row.id})
    if refreshed:
        conn.execute(
            update(table).where(table.c.id == bindparam("b_id")).values(last_seen_at=bindparam("b_seen")), refreshed
        )
    if silent:
        conn.execute(
            update(table).where(table.c.id == bindparam("b_id")).values(offline_since=now),
            [{"b_id": camera.id} for camera in silent],
        )
        log.warning("%d camera(s) silent for more than %s: reported offline", len(silent), offline_after)
    if back:
        conn.execute(update(table).where(table.c.id == bindparam("b_id")).values(offline_since=None), back)
        log.info("%d camera(s) back online", len(back))
    return silent
