"""Incidents → cases: each new incident becomes one report through :func:`intake.submit`.

Only incidents reach the agents' queue. The submit job takes the incidents without a case in batches
and submits each as a report of channel ``camera`` with the incident id as its source id (so a retry
or a second job makes no second case), the camera's place from the registry and the incident's
pictures as attachments; later repeats of the incident only bump its counters.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import LockError
from sqlalchemy import bindparam, exists, select, update

from channels.camera.alarm import CATEGORY, LABEL, PRIORITY, Kind
from channels.camera.models import Camera, CameraAlarmRecord, CameraIncident
from channels.camera.settings import camera_settings
from intake import AttachmentIn, InvalidReport, Location, Report, submit
from intake.models import Blob, utcnow
from intake.queue import QUEUE_INTAKE, enqueue
from intake.runtime import Runtime, get_runtime

log = logging.getLogger(__name__)

CHANNEL = "camera"
SUBMIT_JOB = "channels.camera.cases.submit_incidents"
#: Incidents read per round (each is one intake.submit transaction).
BATCH = 200
WAKE_TTL_SECONDS = 60
LOCK_TTL_SECONDS = 60
#: case_number of an incident intake refused (logged); it is not tried again.
REFUSED = "-"

INCIDENTS = CameraIncident.__table__
_SET_CASE = (
    update(INCIDENTS)
    .where(INCIDENTS.c.id == bindparam("b_id"))
    .values(case_number=bindparam("b_number"), report_id=bindparam("b_report"))
)


def wake_key(runtime: Runtime) -> str:
    return runtime.key("camera", "submit", "wake")


def wake(runtime: Runtime | None = None) -> None:
    runtime = runtime or get_runtime()
    if runtime.redis.set(wake_key(runtime), 1, nx=True, ex=WAKE_TTL_SECONDS):
        enqueue(QUEUE_INTAKE, SUBMIT_JOB)


def unsubmitted_waiting(older_than: timedelta) -> bool:
    with get_runtime().db.engine.connect() as conn:
        return bool(
            conn.scalar(
                select(exists().where(INCIDENTS.c.case_number.is_(None), INCIDENTS.c.opened_at < utcnow() - older_than))
            )
        )


def submit_incidents(max_seconds: float | None = None) -> int:
    """The RQ job: turn every incident without a case into one; return how many were submitted.

    Like the drainer, it leaves the wake-up flag set while it runs and clears it on the way out.
    """
    runtime = get_runtime()
    settings = camera_settings(runtime.config)
    lock = runtime.redis.lock(runtime.key("camera", "submit", "lock"), timeout=LOCK_TTL_SECONDS, thread_local=False)
    if not lock.acquire(blocking=False):
        return 0  # the holder looks again once it is done
    total = 0
    deadline = time.monotonic() + (max_seconds or settings.drain_job_seconds)
    try:
        while time.monotonic() < deadline:
            done = _submit_batch(runtime)
            total += done
            with suppress(LockError):
                lock.extend(LOCK_TTL_SECONDS, replace_ttl=True)
            if done < BATCH:
                break
    finally:
        with suppress(LockError):
            lock.release()
    if total:
        log.info("camera incidents submitted as cases: %d", total)
    # The flag stood while we ran (incidents opened meanwhile enqueued nothing): clear it, then look once
    # more, so that an incident opened just before is not left waiting for the periodic sweep.
    runtime.redis.delete(wake_key(runtime))
    if unsubmitted_waiting(timedelta(0)):
        wake(runtime)
    return total


def _submit_batch(runtime: Runtime) -> int:
    cameras = Camera.__table__
    with runtime.db.engine.connect() as conn:
        incidents = (
            conn.execute(
                select(
                    INCIDENTS,
                    cameras.c.code.label("camera_code"),
                    cameras.c.name.label("camera_name"),
                    cameras.c.lat,
                    cameras.c.lon,
                    cameras.c.address,
                )
                .outerjoin(cameras, cameras.c.id == INCIDENTS.c.camera_id)
                .where(INCIDENTS.c.case_number.is_(None))
                .order_by(INCIDENTS.c.id)
                .limit(BATCH)
            )
            .mappings()
            .all()
        )
        if not incidents:
            return 0
        alarms = CameraAlarmRecord.__table__
        raws = {
            row.stream_id: row
            for row in conn.execute(
                select(alarms.c.stream_id, alarms.c.raw, alarms.c.raw_content_type).where(
                    alarms.c.stream_id.in_([row["first_stream_id"] for row in incidents if row["first_stream_id"]]),
                    alarms.c.part == 0,
                )
            )
        }
        digests = {picture["sha256"] for row in incidents for picture in row["pictures"] or [] if picture.get("sha256")}
        blobs = {
            row.sha256: row.data for row in conn.execute(select(Blob.sha256, Blob.data).where(Blob.sha256.in_(digests)))
        }
    zone = ZoneInfo(runtime.config.server.timezone)
    results: list[dict[str, Any]] = []
    for incident in incidents:
        raw = raws.get(incident["first_stream_id"])
        report = build_report(incident, raw.raw if raw else None, raw.raw_content_type if raw else "", blobs, zone)
        try:
            result = submit(report)
        except InvalidReport as err:
            log.error("camera incident %s refused by intake: %s", incident["id"], err)
            results.append({"b_id": incident["id"], "b_number": REFUSED, "b_report": None})
            continue
        results.append({"b_id": incident["id"], "b_number": result.case_number, "b_report": result.report_id})
    with runtime.db.engine.begin() as conn:
        conn.execute(_SET_CASE, results)
    return len(incidents)


def build_report(
    incident: Any, raw: bytes | None, raw_content_type: str, blobs: dict[str, bytes], zone: ZoneInfo
) -> Report:
    """The report an incident becomes: what, where, since when, with its pictures."""
    kind = Kind(incident["kind"])
    label = LABEL[kind]["zh"]
    code = incident["camera_code"]
    lines = [f"【探头巡查】{label}" + (f"：{incident['camera_name']}" if incident["camera_name"] else "")]
    if code:
        lines.append(f"摄像机 {code}" + (f"（{incident['address']}）" if incident["address"] else ""))
    elif kind is not Kind.OFFLINE:
        lines.append(f"未登记的摄像机：{incident['device']}（请核实并登记）")
    if incident["rule"] and kind is not Kind.OFFLINE:
        lines.append(f"规则/区域：{incident['rule']}")
    opened = incident["opened_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    lines.append(f"首次报警：{opened}（{incident['vendor']} {incident['event_type']}）")
    if incident["description"]:
        lines.append(incident["description"])
    attachments = []
    for picture in incident["pictures"] or []:
        if picture.get("sha256") in blobs:
            attachments.append(
                AttachmentIn(
                    filename=picture.get("name", ""),
                    content_type=picture.get("content_type", "image/jpeg"),
                    data=blobs[picture["sha256"]],
                )
            )
        elif picture.get("url"):
            attachments.append(AttachmentIn(filename=picture.get("name", ""), url=picture["url"]))
    location = Location()
    if incident["lat"] is not None and incident["lon"] is not None:
        location = Location(lat=incident["lat"], lon=incident["lon"], address=incident["address"])
    elif incident["address"]:
        location = Location(address=incident["address"])
    return Report(
        channel=CHANNEL,
        source_id=str(incident["id"]),
        text="\n".join(lines),
        location=location,
        category=CATEGORY.get(kind),
        priority=PRIORITY.get(kind, 3),
        attachments=tuple(attachments),
        received_at=incident["opened_at"],
        source_time=incident["first_source_time"],
        raw=raw or b"",
        raw_content_type=raw_content_type if raw else "",
        meta={
            "incident": incident["id"],
            "kind": kind.value,
            "event_type": incident["event_type"],
            "vendor": incident["vendor"],
            "rule": incident["rule"],
            "camera": code,
            "unknown_camera": code is None and kind is not Kind.OFFLINE,
            "device": incident["device"],
            **({"offline": incident["detail"]} if kind is Kind.OFFLINE else {}),
        },
    )
