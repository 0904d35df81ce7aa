"""The drainer: the camera stream → raw alarms (in batches) and incidents; plus housekeeping.

One drain job at a time holds a Redis lock and reads the stream through a consumer group, a batch of
entries per transaction:

1. every alarm is folded into the in-memory book of open incidents (:mod:`channels.camera.incidents`);
   new incidents are inserted at once (they become cases), repeats only bump counters in memory;
2. the batch's raw alarms are written in one statement (COPY on PostgreSQL) with their incident ids;
3. after the commit the entries are acknowledged and deleted, and the cameras heard of are noted
   (liveness). A drainer killed in between leaves them pending: the next one reads them again first
   and skips the rows already stored (``uq_camera_alarms_stream_id_part``).

Every ``camera.flush_interval_seconds`` the changed incidents are written back and quiet ones closed.
A job runs for ``camera.drain_job_seconds`` at most, then hands over to the next one, so RQ's job
timeout never kills a long storm's drainer. Housekeeping (closing quiet incidents, finding offline
cameras, re-waking lost work) runs inside the drainer when it is busy and as a periodic job when not.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from redis.exceptions import LockError
from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from channels.camera import cases, ingest, liveness, registry, retention
from channels.camera.alarm import CameraAlarm, Kind, State
from channels.camera.incidents import Book, Incident, device_ref, incident_key
from channels.camera.models import AlarmStatus, CameraAlarmRecord, CameraIncident, IncidentStatus
from channels.camera.settings import CameraSettings, camera_settings
from intake.models import CaseEvent, ReportRecord, utcnow
from intake.runtime import Runtime, get_runtime
from intake.submit import insert_blob

log = logging.getLogger(__name__)

GROUP = "drainers"
#: One drainer at a time (the lock), so one consumer name: a restarted drainer sees its pending entries.
CONSUMER = "drainer"
#: The drain lock's life, in seconds; a running drainer extends it every batch.
LOCK_TTL_SECONDS = 60
#: How often the periodic job comes round, in seconds (it works only every housekeeping interval).
HOUSEKEEPING_PERIOD_SECONDS = 15
#: Seconds a small read waits before the next one, so that batches fill up under load.
BATCH_GATHER_SECONDS = 0.05
#: Cameras listed on one offline incident.
MAX_OFFLINE_LISTED = 500

ALARMS = CameraAlarmRecord.__table__
INCIDENTS = CameraIncident.__table__
#: Column order of the raw-alarm COPY.
RAW_COLUMNS = (
    "stream_id",
    "part",
    "received_at",
    "sender_id",
    "camera_id",
    "incident_id",
    "vendor",
    "event_type",
    "kind",
    "state",
    "channel",
    "device",
    "rule",
    "post_count",
    "source_time",
    "status",
    "reason",
    "raw",
    "raw_sha256",
    "raw_content_type",
)
_UPDATE_INCIDENT = (
    update(INCIDENTS)
    .where(INCIDENTS.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        post_count=bindparam("b_post_count"),
        max_device_count=bindparam("b_max"),
        last_alarm_at=bindparam("b_last_alarm"),
        last_active_at=bindparam("b_last_active"),
        stopped_at=bindparam("b_stopped"),
        closed_at=bindparam("b_closed"),
        pictures=bindparam("b_pictures"),
        detail=bindparam("b_detail"),
    )
)


def lock_key(runtime: Runtime) -> str:
    return runtime.key("camera", "drain", "lock")


def stops_key(runtime: Runtime) -> str:
    return runtime.key("camera", "pending-stops")


def housekeeping_key(runtime: Runtime) -> str:
    return runtime.key("camera", "housekeeping")


@dataclass(slots=True)
class Entry:
    stream_id: str
    received: datetime
    sender_id: int | None
    vendor: str
    content_type: str
    raw: bytes | None
    status: str
    reason: str | None
    alarms: list[CameraAlarm]


def parse_entry(stream_id: bytes, fields: dict[bytes, bytes] | None) -> Entry | None:
    if not fields:
        return None  # deleted while still pending: already stored
    meta = json.loads(fields[b"m"])
    vendor = meta.get("v", "")
    return Entry(
        stream_id=stream_id.decode(),
        received=datetime.fromtimestamp(float(meta["t"]), UTC),
        sender_id=meta.get("s"),
        vendor=vendor,
        content_type=meta.get("c", ""),
        raw=fields.get(b"r"),
        status=meta.get("st", AlarmStatus.OK),
        reason=meta.get("e"),
        alarms=ingest.decode(vendor, meta.get("a", ()), fields),
    )


def drain(max_seconds: float | None = None) -> dict[str, int]:
    """The RQ job: drain the stream until it is empty or ``max_seconds`` have passed.

    While it runs, the wake-up flag stays set, so receivers enqueue no further jobs; on the way out it
    releases the lock, clears the flag and looks at the stream once more: an entry added before the
    flag was cleared found it set and enqueued nothing, so the drainer wakes its successor itself.
    """
    runtime = get_runtime()
    settings = camera_settings(runtime.config)
    lock = runtime.redis.lock(lock_key(runtime), timeout=LOCK_TTL_SECONDS, thread_local=False)
    if not lock.acquire(blocking=False):
        return {"busy": 1}  # the holder looks at the stream again before it stops
    try:
        drainer = Drainer(runtime, settings, lock)
        counts = drainer.run(max_seconds or settings.drain_job_seconds)
    finally:
        with suppress(LockError):
            lock.release()
    runtime.redis.delete(ingest.wake_key(runtime))
    if runtime.redis.xlen(ingest.stream_key(runtime)):
        ingest.wake(runtime)
    return counts


def housekeeping_job() -> dict[str, int]:
    """Periodic (``gridline scheduler``): sweep lost work; delete alarms past their retention; close
    quiet incidents and find offline cameras when no drainer is running (a running one does it itself)."""
    runtime = get_runtime()
    settings = camera_settings(runtime.config)
    counts: Counter[str] = Counter()
    oldest = runtime.redis.xrange(ingest.stream_key(runtime), count=1)
    if oldest:
        age_ms = time.time() * 1000 - int(oldest[0][0].split(b"-")[0])
        if age_ms > runtime.config.worker.stale_after_seconds * 1000:
            # Waiting longer than a drainer takes to start: its wake-up job was lost (Redis restarted,
            # a worker killed); the flag may still stand for it, so go past it.
            runtime.redis.delete(ingest.wake_key(runtime))
        ingest.wake(runtime)
        counts["stream_waiting"] += 1
    if cases.unsubmitted_waiting(timedelta(seconds=runtime.config.worker.stale_after_seconds)):
        runtime.redis.delete(cases.wake_key(runtime))  # waiting this long: its wake-up was lost
        cases.wake(runtime)
        counts["incidents_waiting"] += 1
    # Deleting old rows does not get in a drainer's way: no lock needed.
    if retention.purge_due(runtime, settings):
        counts["alarms_purged"] += retention.purge_old_alarms(runtime, settings, utcnow())
    lock = runtime.redis.lock(lock_key(runtime), timeout=LOCK_TTL_SECONDS, thread_local=False)
    if not lock.acquire(blocking=False):
        counts["busy"] += 1
        return dict(counts)
    try:
        if runtime.redis.set(housekeeping_key(runtime), 1, nx=True, ex=settings.housekeeping_interval_seconds):
            drainer = Drainer(runtime, settings, lock)
            drainer.housekeeping(utcnow())
            counts.update(drainer.counts)
    finally:
        with suppress(LockError):
            lock.release()
    return dict(counts)


class Drainer:
    def __init__(self, runtime: Runtime, settings: CameraSettings, lock: Any = None) -> None:
        self.runtime = runtime
        self.settings = settings
        self.lock = lock
        self.stream = ingest.stream_key(runtime)
        self.case_kinds = frozenset(settings.case_kinds)
        self.counts: Counter[str] = Counter()
        self.postgres = not runtime.db.is_sqlite
        self._reload()

    def _reload(self) -> None:
        self.cameras = registry.cameras()
        self.senders = registry.senders()
        self.book = self._load_book()
        self.last_flush = time.monotonic()

    def _load_book(self) -> Book:
        with self.runtime.db.engine.connect() as conn:
            rows = conn.execute(select(INCIDENTS).where(INCIDENTS.c.status == IncidentStatus.OPEN)).mappings().all()
        incidents = [
            Incident(
                **{
                    key: row[key]
                    for key in (
                        "id",
                        "key",
                        "kind",
                        "event_type",
                        "vendor",
                        "rule",
                        "camera_id",
                        "sender_id",
                        "device",
                        "opened_at",
                        "first_source_time",
                        "last_alarm_at",
                        "last_active_at",
                        "stopped_at",
                        "post_count",
                        "max_device_count",
                        "description",
                        "first_stream_id",
                    )
                },
                pictures=list(row["pictures"] or []),
                detail=dict(row["detail"] or {}),
            )
            for row in rows
        ]
        stops = {}
        for key, value in self.runtime.redis.hgetall(stops_key(self.runtime)).items():
            moment, _, received = value.decode().partition("|")
            stops[key.decode()] = (
                datetime.fromtimestamp(float(moment), UTC),
                datetime.fromtimestamp(float(received or moment), UTC),
            )
        return Book(
            timedelta(seconds=self.settings.quiet_period_seconds),
            self.settings.max_incident_pictures,
            incidents,
            stops,
        )

    # --- the loop ----------------------------------------------------------------------------------

    def run(self, max_seconds: float) -> dict[str, int]:
        redis_client = self.runtime.redis
        with suppress(redis.ResponseError):  # BUSYGROUP: it exists already
            redis_client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        deadline = time.monotonic() + max_seconds
        while self._round(replay=True):
            pass
        if cases.unsubmitted_waiting(timedelta(0)):
            cases.wake(self.runtime)  # incidents a dead drainer stored without waking the submitter
        idle_since: float | None = None
        while True:
            # Waiting for entries a little (rather than stopping at the first empty read) keeps one job
            # with its registry and book loaded through a storm's gaps; small reads are left to fill up,
            # because each batch costs a transaction whatever its size.
            block_ms = int(self.settings.drain_idle_seconds * 1000) if idle_since is not None else None
            count = self._round(replay=False, block_ms=block_ms)
            if self.lock is not None:
                with suppress(LockError):
                    self.lock.extend(LOCK_TTL_SECONDS, replace_ttl=True)
            if count == 0 or time.monotonic() - self.last_flush >= self.settings.flush_interval_seconds:
                self.flush(utcnow())
            if redis_client.set(
                housekeeping_key(self.runtime), 1, nx=True, ex=self.settings.housekeeping_interval_seconds
            ):
                self.housekeeping(utcnow())
            now = time.monotonic()
            if now > deadline:
                self.flush(utcnow())
                break  # drain() hands over to the next job
            if count:
                idle_since = None
                if count < self.settings.drain_batch // 4:
                    time.sleep(BATCH_GATHER_SECONDS)
            elif idle_since is None and self.settings.drain_idle_seconds > 0:
                idle_since = now
            else:
                break
        if self.counts["alarms"] or self.counts["incidents"]:
            log.info("camera drain: %s", dict(self.counts))
        return dict(self.counts)

    def _round(self, *, replay: bool, block_ms: int | None = None) -> int:
        response = self.runtime.redis.xreadgroup(
            GROUP, CONSUMER, {self.stream: "0" if replay else ">"}, count=self.settings.drain_batch, block=block_ms
        )
        entries = response[0][1] if response else []
        if not entries:
            return 0
        try:
            self._process(entries, replay=replay)
        except IntegrityError:
            # An incident opened meanwhile by someone else (an operator's script, a stale lock):
            # start again from the database's view of the open incidents.
            log.warning("camera drain: incident key conflict; reloading open incidents", exc_info=True)
            self._reload()
            self._process(entries, replay=True)
        return len(entries)

    def _process(self, entries: list[tuple[bytes, dict[bytes, bytes] | None]], *, replay: bool) -> None:
        rows: list[dict[str, Any]] = []
        seen: set[int] = set()
        stored = self._stored([stream_id.decode() for stream_id, _ in entries]) if replay else set()
        for stream_id, fields in entries:
            entry = parse_entry(stream_id, fields)
            # An entry stored by a drainer that died before acknowledging it was folded then, with its
            # incident; folding it again would count its repeats twice.
            if entry is not None and entry.stream_id not in stored:
                self._fold(entry, rows, seen)
        created = self._write(rows)
        ids = [stream_id for stream_id, _ in entries]
        pipe = self.runtime.redis.pipeline(transaction=False)
        pipe.xack(self.stream, GROUP, *ids)
        pipe.xdel(self.stream, *ids)
        liveness.note_seen(pipe, self.runtime, seen, time.time())
        pipe.execute()
        self.counts["entries"] += len(entries)
        if created:
            cases.wake(self.runtime)

    def _fold(self, entry: Entry, rows: list[dict[str, Any]], seen: set[int]) -> None:
        base = {
            "stream_id": entry.stream_id,
            "received_at": entry.received,
            "sender_id": entry.sender_id,
            "vendor": entry.vendor[:16],
            "raw_content_type": entry.content_type[:128],
        }
        raw = entry.raw
        if entry.status in (AlarmStatus.REJECTED, AlarmStatus.UNKNOWN_EVENT):
            rows.append(_row(base, 0, raw, status=entry.status, reason=entry.reason))
            self.counts[entry.status] += 1
            return
        sender = self.senders.by_id.get(entry.sender_id) if entry.sender_id is not None else None
        for part, alarm in enumerate(entry.alarms):
            camera = self.cameras.resolve(entry.sender_id, alarm)
            if camera is not None:
                seen.add(camera.id)
            if alarm.kind is Kind.HEARTBEAT and entry.sender_id is not None and alarm.channel is None:
                # A device-level heartbeat (Dahua's "Heartbeat"): every camera behind the device is alive.
                seen.update(item.id for item in self.cameras.of_sender.get(entry.sender_id, ()))
            if alarm.kind is Kind.HEARTBEAT:
                self.counts["heartbeats"] += 1
                continue
            self.counts["alarms"] += 1
            status, reason = entry.status, entry.reason
            device = None
            if camera is None:
                device = device_ref(alarm, sender.name if sender else None)
                status = AlarmStatus.UNKNOWN_CAMERA
                reason = "; ".join(filter(None, (f"no registered camera matches {device}", reason)))
                self.counts["unknown_camera"] += 1
            incident = None
            if alarm.ignore:
                status, reason = AlarmStatus.IGNORED, alarm.ignore
            elif alarm.kind in self.case_kinds:
                key = incident_key(camera, device or "", alarm)
                incident = self.book.apply(
                    alarm, key, camera, entry.sender_id, device, entry.received, stream_id=entry.stream_id
                )
            row = _row(base, part, raw, status=status, reason=reason)
            raw = None  # a multi-alarm post keeps its body once, on its first stored alarm
            row.update(
                {
                    "camera_id": camera.id if camera is not None else None,
                    "_incident": incident,
                    "event_type": alarm.event_type[:64],
                    "kind": alarm.kind.value,
                    "state": alarm.state.value,
                    "channel": alarm.channel,
                    "device": device,
                    "rule": alarm.rule[:64],
                    "post_count": alarm.post_count,
                    "source_time": alarm.source_time,
                }
            )
            rows.append(row)

    # --- writing -----------------------------------------------------------------------------------

    def _stored(self, stream_ids: list[str]) -> set[str]:
        with self.runtime.db.engine.connect() as conn:
            return set(conn.scalars(select(ALARMS.c.stream_id).where(ALARMS.c.stream_id.in_(stream_ids)).distinct()))

    def _write(self, rows: list[dict[str, Any]]) -> int:
        """Store the new incidents and the raw alarms in one transaction; return incidents created."""
        with self.runtime.db.engine.begin() as conn:
            created = self._insert_incidents(conn)
            inline = self.settings.raw_inline_bytes
            for row in rows:
                incident = row.pop("_incident")
                row["incident_id"] = incident.id if incident is not None else None
                raw = row["raw"]
                if raw is not None and len(raw) > inline:
                    row["raw_sha256"], row["raw"] = insert_blob(conn, raw), None
            if rows:
                self._insert_alarms(conn, rows)
        self.counts["stored"] += len(rows)
        self.counts["incidents"] += created
        return created

    def _insert_incidents(self, conn: Connection) -> int:
        created = [incident for incident in self.book.created if incident.id is None]
        self._store_pictures(conn, created)
        if created:
            result = conn.execute(
                insert(INCIDENTS).returning(INCIDENTS.c.id, sort_by_parameter_order=True),
                [incident.row() for incident in created],
            )
            for incident, (incident_id,) in zip(created, result, strict=True):
                incident.id = incident_id
                incident.dirty = False
        self.book.created.clear()
        return len(created)

    def _store_pictures(self, conn: Connection, incidents: list[Incident]) -> None:
        for incident in incidents:
            for meta, data in incident.picture_data:
                meta["sha256"] = insert_blob(conn, data)
                meta["size"] = len(data)
            incident.picture_data.clear()

    def _insert_alarms(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if self.postgres:
            # COPY: several times faster than a multi-row INSERT for the bulk of a storm.
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY camera_alarms ({', '.join(RAW_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(tuple(row.get(column) for column in RAW_COLUMNS))
            cursor.close()
        else:
            conn.execute(insert(ALARMS), [{column: row.get(column) for column in RAW_COLUMNS} for row in rows])

    def flush(self, now: datetime) -> None:
        """Write changed incidents back, close the quiet ones, save the pending stops."""
        for incident in self.book.quiet_ones(now):
            self.book.close(incident, now)
        changed = [incident for incident in self.book.open.values() if incident.dirty]
        closed = list(self.book.closed)
        with self.runtime.db.engine.begin() as conn:
            created = self._insert_incidents(conn)
            self._store_pictures(conn, [*changed, *closed])
            updates = [
                _update_params(incident, IncidentStatus.OPEN) for incident in changed if incident.id is not None
            ] + [_update_params(incident, IncidentStatus.CLOSED) for incident in closed if incident.id is not None]
            if updates:
                conn.execute(_UPDATE_INCIDENT, updates)
            if closed:
                self._note_closed_on_cases(conn, closed)
        for incident in changed:
            incident.dirty = False
        self.book.closed.clear()
        self.counts["closed"] += len(closed)
        self.counts["incidents"] += created
        if self.book.stops_changed:
            pipe = self.runtime.redis.pipeline(transaction=True)
            pipe.delete(stops_key(self.runtime))
            if self.book.pending_stops:
                pipe.hset(
                    stops_key(self.runtime),
                    mapping={
                        key: f"{moment.timestamp()!r}|{received.timestamp()!r}"
                        for key, (moment, received) in self.book.pending_stops.items()
                    },
                )
            pipe.execute()
            self.book.stops_changed = False
        self.last_flush = time.monotonic()
        if created:
            cases.wake(self.runtime)

    def _note_closed_on_cases(self, conn: Connection, closed: list[Incident]) -> None:
        """The case of each closed incident records how many alarms it collected and for how long."""
        by_id = {incident.id: incident for incident in closed}
        reports = conn.execute(
            select(INCIDENTS.c.id, ReportRecord.case_id)
            .join(ReportRecord, ReportRecord.id == INCIDENTS.c.report_id)
            .where(INCIDENTS.c.id.in_(list(by_id)))
        ).all()
        events = []
        for incident_id, case_id in reports:
            incident = by_id[incident_id]
            events.append(
                {
                    "case_id": case_id,
                    "at": incident.closed_at or utcnow(),
                    "actor": "channel:camera",
                    "channel": "camera",
                    "kind": "camera_incident_closed",
                    "detail": {
                        "incident": incident_id,
                        "alarms": incident.post_count,
                        "first": incident.opened_at.isoformat(),
                        "last": incident.last_active_at.isoformat(),
                        "stopped": incident.stopped_at.isoformat() if incident.stopped_at else None,
                    },
                    "public": False,
                }
            )
        if events:
            conn.execute(insert(CaseEvent.__table__), events)

    # --- housekeeping ------------------------------------------------------------------------------

    def housekeeping(self, now: datetime) -> None:
        """Find offline cameras (one incident per town), forget stale stops, close quiet incidents."""
        with self.runtime.db.engine.begin() as conn:
            silent = liveness.check(conn, self.runtime, now, timedelta(seconds=self.settings.offline_after_seconds))
        towns: dict[str, list[liveness.Silent]] = defaultdict(list)
        for camera in silent:
            towns[camera.town].append(camera)
        for town, group in towns.items():
            self._offline(town, group, now)
        self.book.prune_stops(now)
        self.flush(now)
        self.counts["offline"] += len(silent)

    def _offline(self, town: str, group: list[liveness.Silent], now: datetime) -> None:
        if Kind.OFFLINE not in self.case_kinds:
            return
        first = self.cameras.by_id.get(group[0].id)
        names = "、".join(camera.name or camera.code for camera in group[:5])
        alarm = CameraAlarm(
            vendor="gridline",
            event_type="offline",
            kind=Kind.OFFLINE,
            state=State.ACTIVE,
            rule=town,
            description=f"{len(group)} 台摄像机离线：{names}{'等' if len(group) > 5 else ''}",
        )
        key = f"town:{town}|offline"
        incident = self.book.apply(alarm, key, first, None, f"town:{town}", now)
        assert incident is not None
        listed = incident.detail.get("cameras", [])
        listed += [
            {"code": camera.code, "last_seen": camera.last_seen_at.isoformat() if camera.last_seen_at else None}
            for camera in group
        ]
        incident.detail = {**incident.detail, "town": town, "count": len(listed)}
        incident.detail["cameras"] = listed[:MAX_OFFLINE_LISTED]
        # One "alarm" per silent camera, not per round of housekeeping.
        incident.post_count = len(listed)
        incident.description = f"{len(listed)} 台摄像机离线：{names}{'等' if len(listed) > 5 else ''}"[:500]
        incident.dirty = True


def _row(base: dict[str, Any], part: int, raw: bytes | None, *, status: str, reason: str | None) -> dict[str, Any]:
    return {
        **base,
        "part": part,
        "camera_id": None,
        "_incident": None,
        "event_type": "",
        "kind": "",
        "state": "",
        "channel": None,
        "device": None,
        "rule": "",
        "post_count": None,
        "source_time": None,
        "status": status,
        "reason": reason[:500] if reason else None,
        "raw": raw,
        "raw_sha256": None,
    }


def _update_params(incident: Incident, status: str) -> dict[str, Any]:
    return {
        "b_id": incident.id,
        "b_status": status,
        "b_post_count": incident.post_count,
        "b_max": incident.max_device_count,
        "b_last_alarm": incident.last_alarm_at,
        "b_last_active": incident.last_active_at,
        "b_stopped": incident.stopped_at,
        "b_closed": incident.closed_at if status == IncidentStatus.CLOSED else None,
        "b_pictures": incident.pictures,
        "b_detail": incident.detail,
    }
