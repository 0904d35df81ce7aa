"""Storms: repeats collapse into one incident and one case; quiet periods close; stops out of order;
offline cameras found by the periodic job; nothing lost when a drainer dies mid-batch."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from channels.camera import drain as drain_module
from channels.camera.drain import housekeeping_job
from channels.camera.models import Camera, CameraAlarmRecord, CameraIncident
from channels.camera.settings import CameraSettings
from intake.cases import get_case
from intake.models import Case, CaseEvent
from intake.runtime import Runtime
from tests.test_camera_common import (
    Registry,
    alarms,
    cameras,
    count,
    fixture,
    incidents,
    post_dahua,
    post_hikvision,
    settings,
)

__all__ = ["cameras", "settings"]

FIELD = fixture("hikvision/fielddetection_hikvision_ns.xml")
T0 = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)


def field_alarm(count_: int | None = 1, *, state: str = "active", at: datetime = T0, region: str = "3") -> bytes:
    """The captured intrusion alarm as the camera resends it: rising count, its own clock, a region."""
    body = FIELD.replace(
        b"<activePostCount>1</activePostCount>", f"<activePostCount>{count_}</activePostCount>".encode()
    )
    body = body.replace(b"2022-01-31T13:53:05+01:00", at.isoformat().encode())
    body = body.replace(b"<eventState>active</eventState>", f"<eventState>{state}</eventState>".encode())
    return body.replace(b"<regionID>3</regionID>", f"<regionID>{region}</regionID>".encode())


def test_a_storm_of_repeats_is_one_incident_and_one_case(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    for number in range(1, 31):
        assert post_hikvision(live_server, field_alarm(number, at=T0 + timedelta(seconds=number))).status_code == 200
        if number == 10:
            run_worker()  # a case already exists while the storm goes on
    # Another region of the same camera is another rule: another incident.
    assert post_hikvision(live_server, field_alarm(1, region="4")).status_code == 200
    run_worker()
    assert count(runtime, CameraAlarmRecord) == 31  # every raw alarm stored
    first, other = incidents(runtime)
    assert (first.rule, first.post_count, first.max_device_count) == ("3", 30, 30)
    assert (other.rule, other.post_count) == ("4", 1)
    assert count(runtime, Case) == 2  # later repeats made no new cases
    assert count(runtime, CameraAlarmRecord, CameraAlarmRecord.incident_id == first.id) == 30
    with runtime.db.transaction() as session:
        case = get_case(session, first.case_number)  # type: ignore[arg-type]
        assert len(case.reports) == 1


def test_quiet_period_closes_and_a_later_alarm_opens_a_new_incident(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    cameras: Registry,
    settings: CameraSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "quiet_period_seconds", 1)
    post_hikvision(live_server, field_alarm(1))
    post_hikvision(live_server, field_alarm(2))
    run_worker()
    time.sleep(1.3)
    runtime.redis.delete(runtime.key("camera", "housekeeping"))
    housekeeping_job()  # the periodic job: no drainer is running, so it closes quiet incidents
    [closed] = incidents(runtime)
    assert closed.status == "closed" and closed.closed_at is not None and closed.post_count == 2
    with runtime.db.transaction() as session:
        case = get_case(session, closed.case_number)  # type: ignore[arg-type]
        [note] = [event for event in case.events if event.kind == "camera_incident_closed"]
        assert note.detail["alarms"] == 2
    post_hikvision(live_server, field_alarm(1))
    run_worker()
    first, second = incidents(runtime)
    assert first.id == closed.id and second.status == "open"
    assert count(runtime, Case) == 2  # the problem came back: a new case


def test_repeat_after_the_quiet_period_closes_the_old_incident_in_the_drainer(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    cameras: Registry,
    settings: CameraSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "quiet_period_seconds", 1)
    post_hikvision(live_server, field_alarm(1))
    time.sleep(1.3)
    post_hikvision(live_server, field_alarm(2))
    run_worker()  # both in one batch: the receive times tell them apart
    first, second = incidents(runtime)
    assert first.status == "closed" and second.status == "open"
    assert [alarm.incident_id for alarm in alarms(runtime)] == [first.id, second.id]


def test_stop_before_start_out_of_order(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    # The camera sent start at T0 and stop at T0+5 s; the network delivered the stop first.
    assert (
        post_hikvision(live_server, field_alarm(2, state="inactive", at=T0 + timedelta(seconds=5))).status_code == 200
    )
    run_worker()
    assert incidents(runtime) == []  # a stop alone opens nothing (it is kept)
    assert post_hikvision(live_server, field_alarm(1, at=T0)).status_code == 200
    run_worker()
    [incident] = incidents(runtime)
    assert incident.stopped_at == T0 + timedelta(seconds=5)  # already over, not active for ever
    # A later start (camera time after the stop): active again, the same ongoing problem.
    post_hikvision(live_server, field_alarm(3, at=T0 + timedelta(seconds=9)))
    run_worker()
    [incident] = incidents(runtime)
    assert incident.stopped_at is None and incident.post_count == 2
    assert count(runtime, Case) == 1
    assert count(runtime, CameraAlarmRecord) == 3


def test_offline_cameras_make_one_incident_per_town(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    cameras: Registry,
    settings: CameraSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with runtime.db.transaction() as session:
        for camera in session.scalars(select(Camera)):
            camera.created_at = datetime.now(UTC) - timedelta(hours=2)
            camera.grid_code = "110116001001001" if camera.code.startswith("HR-HK") else "110116102001001"
    monkeypatch.setattr(settings, "offline_after_seconds", 3600)
    # The Dahua NVR's heartbeat keeps its two cameras alive; every other camera has been silent for 2 h.
    post_dahua(live_server, fixture("dahua/heartbeat.txt"))
    run_worker()
    runtime.redis.delete(runtime.key("camera", "housekeeping"))
    housekeeping_job()
    run_worker()
    offline = [incident for incident in incidents(runtime) if incident.kind == "offline"]
    assert sorted(incident.detail["town"] for incident in offline) == ["110116001", "110116102"]
    hikvision = next(incident for incident in offline if incident.detail["town"] == "110116001")
    assert hikvision.post_count == 6 and {item["code"] for item in hikvision.detail["cameras"]} == {
        "HR-HK-0001",
        "HR-HK-0002",
        "HR-HK-0003",
        "HR-HK-0004",
        "HR-HK-0005",
        "HR-HK-0007",
    }
    with runtime.db.transaction() as session:
        silent = {camera.code for camera in session.scalars(select(Camera).where(Camera.offline_since.is_not(None)))}
        assert "HR-DH-0001" not in silent and "HR-DH-0002" not in silent and "HR-HK-0001" in silent
        case = get_case(session, hikvision.case_number)  # type: ignore[arg-type]
        assert case.priority == 4 and "台摄像机离线" in case.description
    # The next round reports nobody twice; a camera heard of again is back online.
    post_hikvision(live_server, fixture("hikvision/heartbeat_isapi_ns.xml"))
    run_worker()
    runtime.redis.delete(runtime.key("camera", "housekeeping"))
    housekeeping_job()
    assert len([incident for incident in incidents(runtime) if incident.kind == "offline"]) == 2
    assert count(runtime, Case) == 2
    with runtime.db.transaction() as session:
        assert session.scalar(select(Camera.offline_since).where(Camera.code == "HR-HK-0002")) is None


def test_a_drainer_killed_mid_batch_loses_and_duplicates_nothing(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    cameras: Registry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for number in range(1, 6):
        post_hikvision(live_server, field_alarm(number))
    real = drain_module.Drainer._process

    def dies_after_commit(self: drain_module.Drainer, entries: list, *, replay: bool) -> None:
        rows: list = []
        for stream_id, fields in entries:
            entry = drain_module.parse_entry(stream_id, fields)
            assert entry is not None
            self._fold(entry, rows, set())
        self._write(rows)  # committed, then killed before acknowledging anything
        raise SystemExit("worker killed")

    monkeypatch.setattr(drain_module.Drainer, "_process", dies_after_commit)
    with pytest.raises(SystemExit):
        drain_module.drain()
    assert count(runtime, CameraAlarmRecord) == 5
    monkeypatch.setattr(drain_module.Drainer, "_process", real)
    runtime.redis.delete(runtime.key("camera", "drain", "lock"))  # the dead drainer's lock, as if expired
    drain_module.drain()  # reads the pending entries again
    run_worker()
    assert count(runtime, CameraAlarmRecord) == 5
    assert runtime.redis.xlen(runtime.key("camera", "alarms")) == 0
    assert count(runtime, CameraIncident) == 1 and count(runtime, Case) == 1


def test_a_lost_wake_up_is_found_by_the_periodic_job(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    post_hikvision(live_server, field_alarm(1))
    for queue_key in runtime.redis.keys("rq:queue:*"):
        runtime.redis.delete(queue_key)  # the drain job is lost (Redis restarted, a worker killed)
    run_worker()
    assert count(runtime, CameraAlarmRecord) == 0 and runtime.redis.xlen(runtime.key("camera", "alarms")) == 1
    time.sleep(1.2)  # older than worker.stale_after_seconds (1 s in the tests)
    assert housekeeping_job()["stream_waiting"] == 1
    run_worker()
    assert count(runtime, CameraAlarmRecord) == 1 and count(runtime, Case) == 1


def test_case_events_record_who_and_how(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    post_hikvision(live_server, field_alarm(1))
    run_worker()
    [incident] = incidents(runtime)
    with runtime.db.transaction() as session:
        case = get_case(session, incident.case_number)  # type: ignore[arg-type]
        kinds = [
            event.kind
            for event in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
        ]
        assert kinds[:2] == ["received", "queue"]
        assert case.events[0].actor == "channel:camera"
