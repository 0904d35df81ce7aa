"""Raw camera alarms past ``camera.alarm_retention_days`` are deleted by the housekeeping job, with the
stored bodies nothing else uses; incidents, cases and newer alarms stay."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select

from channels.camera import retention
from channels.camera.drain import housekeeping_job
from channels.camera.models import CameraAlarmRecord
from channels.camera.settings import CameraSettings
from intake import Report, submit
from intake.cases import get_case
from intake.models import Attachment, AttachmentStatus, Blob, utcnow
from intake.runtime import Runtime
from intake.submit import insert_blob
from tests.test_camera_common import settings

__all__ = ["settings"]

ALARMS = CameraAlarmRecord.__table__
DAY = timedelta(days=1)


def store_alarm(runtime: Runtime, received_at: datetime, body: bytes | None = None) -> int:
    """A raw alarm as the drainer stores it; a large body goes to a blob."""
    with runtime.db.engine.begin() as conn:
        digest = insert_blob(conn, body) if body is not None else None
        return conn.execute(
            insert(ALARMS).returning(ALARMS.c.id),
            {
                "stream_id": f"{int(received_at.timestamp() * 1000)}-{uuid.uuid4().int % 1000}",
                "received_at": received_at,
                "vendor": "hikvision",
                "event_type": "linedetection",
                "raw": None if digest else b"<EventNotificationAlert/>",
                "raw_sha256": digest,
            },
        ).scalar_one()


def alarm_ids(runtime: Runtime) -> set[int]:
    with runtime.db.engine.connect() as conn:
        return set(conn.scalars(select(ALARMS.c.id)))


def blobs(runtime: Runtime) -> set[str]:
    with runtime.db.engine.connect() as conn:
        return set(conn.scalars(select(Blob.sha256)))


def test_old_alarms_go_with_the_bodies_nothing_else_uses(runtime: Runtime, settings: CameraSettings) -> None:
    now = utcnow()
    keep_days = settings.alarm_retention_days
    old, shared, pictured = b"old multipart " * 6000, b"resent multipart " * 6000, b"\xff\xd8 jpeg " * 9000
    gone = [
        store_alarm(runtime, now - (keep_days + 30) * DAY),
        store_alarm(runtime, now - (keep_days + 2) * DAY, old),
        store_alarm(runtime, now - (keep_days + 1) * DAY, shared),
        store_alarm(runtime, now - (keep_days + 1) * DAY, pictured),
    ]
    kept = [
        store_alarm(runtime, now - (keep_days - 1) * DAY, shared),  # the same body, resent later
        store_alarm(runtime, now - DAY),
    ]
    # A case's photo that happens to be stored under the same digest as an old alarm's body.
    case_number = submit(Report(channel="web", source_id="r-1", text="井盖丢失")).case_number
    with runtime.db.transaction() as session:
        session.add(
            Attachment(
                case_id=get_case(session, case_number).id,
                status=AttachmentStatus.STORED,
                sha256=insert_blob(session.connection(), pictured),
            )
        )

    deleted = retention.purge_old_alarms(runtime, settings, now)

    assert deleted == len(gone)
    assert alarm_ids(runtime) == set(kept)
    digests = blobs(runtime)
    assert insert_digest(old) not in digests  # only the purged alarm used it
    assert insert_digest(shared) in digests  # a newer alarm still does
    assert insert_digest(pictured) in digests  # an attachment does
    assert retention.purge_old_alarms(runtime, settings, now) == 0


def insert_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_large_backlog_is_deleted_in_batches(
    runtime: Runtime,
    settings: CameraSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retention, "PURGE_BATCH", 3)
    monkeypatch.setattr(retention, "PURGE_MAX_BATCHES", 2)
    now = utcnow()
    old = [store_alarm(runtime, now - (settings.alarm_retention_days + 1) * DAY - n * DAY) for n in range(8)]
    assert retention.purge_old_alarms(runtime, settings, now) == 6  # two batches this round
    assert len(alarm_ids(runtime)) == 2
    assert retention.purge_old_alarms(runtime, settings, now) == 2
    assert alarm_ids(runtime) == set() and len(old) == 8


def test_the_housekeeping_job_purges_at_most_every_interval(
    runtime: Runtime,
    settings: CameraSettings,
) -> None:
    now = utcnow()
    store_alarm(runtime, now - (settings.alarm_retention_days + 1) * DAY)
    assert housekeeping_job()["alarms_purged"] == 1
    store_alarm(runtime, now - (settings.alarm_retention_days + 1) * DAY)
    assert "alarms_purged" not in housekeeping_job()  # within PURGE_INTERVAL_SECONDS
    runtime.redis.delete(retention.purge_key(runtime))
    assert housekeeping_job()["alarms_purged"] == 1


def test_retention_zero_keeps_every_alarm(
    runtime: Runtime,
    settings: CameraSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "alarm_retention_days", 0)
    ancient = store_alarm(runtime, utcnow() - 3650 * DAY)
    assert not retention.purge_due(runtime, settings)
    assert retention.purge_old_alarms(runtime, settings, utcnow()) == 0
    assert "alarms_purged" not in housekeeping_job()
    assert alarm_ids(runtime) == {ancient}
