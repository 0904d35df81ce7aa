"""How long raw camera alarms are kept: rows older than ``camera.alarm_retention_days`` are deleted.

27,000 cameras store millions of raw alarms in a storm (every repeat is kept as evidence); without a
limit ``camera_alarms`` grows forever. The housekeeping job deletes old rows in batches, oldest
first, at most every :data:`PURGE_INTERVAL_SECONDS`, together with the stored bodies (blobs of large
alarms) that no remaining alarm and no attachment uses. Incidents, cases and their pictures are kept:
they carry their own summary (first and last alarm, post count) and pictures.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, union

from channels.camera.models import CameraAlarmRecord
from channels.camera.settings import CameraSettings
from intake.models import Attachment, Blob
from intake.runtime import Runtime

log = logging.getLogger(__name__)

#: Alarms deleted in one transaction.
PURGE_BATCH = 5000
#: Batches one housekeeping round deletes at most (the rest waits for the next round).
PURGE_MAX_BATCHES = 20
#: Seconds between two purges, whichever scheduler runs the housekeeping job.
PURGE_INTERVAL_SECONDS = 600

ALARMS = CameraAlarmRecord.__table__


def purge_key(runtime: Runtime) -> str:
    return runtime.key("camera", "retention")


def purge_due(runtime: Runtime, settings: CameraSettings) -> bool:
    """Whether this round purges: retention is on and no round did within the interval."""
    if not settings.alarm_retention_days:
        return False
    return bool(runtime.redis.set(purge_key(runtime), 1, nx=True, ex=PURGE_INTERVAL_SECONDS))


def purge_old_alarms(runtime: Runtime, settings: CameraSettings, now: datetime) -> int:
    """Delete alarms received before the retention period; returns how many were deleted."""
    if not settings.alarm_retention_days:
        return 0
    cutoff = now - timedelta(days=settings.alarm_retention_days)
    deleted = 0
    for _ in range(PURGE_MAX_BATCHES):
        with runtime.db.engine.begin() as conn:
            # By id, which follows arrival: the oldest rows come first off the primary key.
            rows = conn.execute(
                select(ALARMS.c.id, ALARMS.c.raw_sha256)
                .where(ALARMS.c.received_at < cutoff)
                .order_by(ALARMS.c.id)
                .limit(PURGE_BATCH)
            ).all()
            if not rows:
                break
            conn.execute(delete(ALARMS).where(ALARMS.c.id.in_([row.id for row in rows])))
            digests = {row.raw_sha256 for row in rows if row.raw_sha256}
            if digests:
                still_used = union(
                    select(ALARMS.c.raw_sha256).where(ALARMS.c.raw_sha256.in_(digests)),
                    select(Attachment.sha256).where(Attachment.sha256.in_(digests)),
                )
                conn.execute(delete(Blob).where(Blob.sha256.in_(digests), Blob.sha256.not_in(still_used)))
        deleted += len(rows)
        if len(rows) < PURGE_BATCH:
            break
    if deleted:
        log.info("deleted %d camera alarms received before %s", deleted, cutoff.isoformat())
    return deleted
