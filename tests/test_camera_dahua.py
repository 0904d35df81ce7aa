"""Dahua event messages (``Code=...;action=...;index=...``) over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from channels.camera.models import AlarmStatus
from intake.models import Case
from intake.runtime import Runtime
from tests.test_camera_common import (
    PASSWORD,
    Registry,
    alarms,
    cameras,
    count,
    fixture,
    incidents,
    post_dahua,
)

__all__ = ["cameras"]


@pytest.mark.parametrize(
    ("name", "kind", "code", "rule", "cases"),
    [
        ("crossline_start.txt", "line_crossing", "HR-DH-0001", "Gate", 1),
        ("crossregion_start.txt", "intrusion", "HR-DH-0002", "Courtyard", 1),
        ("parking_start.txt", "illegal_parking", "HR-DH-0001", "", 1),
        ("rioter_start.txt", "crowd", "HR-DH-0001", "", 1),
        ("alarmlocal_start.txt", "alarm_input", "HR-DH-0002", "", 1),
        ("videomotion_relay.txt", "motion", "HR-DH-0002", "", 0),
    ],
    ids=["cross-line", "cross-region", "parking", "crowd", "alarm-input", "motion"],
)
def test_event_types(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    cameras: Registry,
    name: str,
    kind: str,
    code: str,
    rule: str,
    cases: int,
) -> None:
    response = post_dahua(live_server, fixture(f"dahua/{name}"))
    assert response.status_code == 200, response.text
    run_worker()
    [alarm] = alarms(runtime)
    assert (alarm.kind, alarm.camera_id, alarm.rule, alarm.status) == (kind, cameras.cameras[code], rule, "ok")
    assert count(runtime, Case) == cases


def test_utc_field_is_the_source_time(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    assert post_dahua(live_server, fixture("dahua/crossline_start.txt")).status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert alarm.source_time == datetime.fromtimestamp(1549080650, UTC)


def test_event_manager_stream_part_with_several_events_and_a_heartbeat(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    body = fixture("dahua/eventmanager_stream.txt")
    assert post_dahua(live_server, body).status_code == 200
    run_worker()
    stored = alarms(runtime)
    assert [(alarm.kind, alarm.part) for alarm in stored] == [("motion", 0), ("tamper", 1)]
    assert stored[0].raw == body and stored[1].raw is None  # the body once per post
    [incident] = incidents(runtime)
    assert incident.kind == "tamper"
    # The device-level Heartbeat says every camera behind the NVR is alive.
    seen = {int(key) for key in runtime.redis.hgetall(runtime.key("camera", "seen"))}
    assert seen == {cameras.cameras["HR-DH-0001"], cameras.cameras["HR-DH-0002"]}


def test_heartbeat_opens_nothing(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    assert post_dahua(live_server, fixture("dahua/heartbeat.txt")).status_code == 200
    run_worker()
    assert alarms(runtime) == [] and count(runtime, Case) == 0
    seen = {int(key) for key in runtime.redis.hgetall(runtime.key("camera", "seen"))}
    assert seen == {cameras.cameras["HR-DH-0001"], cameras.cameras["HR-DH-0002"]}


def test_stop_ends_the_incident_but_only_quiet_closes_it(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    assert post_dahua(live_server, fixture("dahua/parking_start.txt")).status_code == 200
    assert post_dahua(live_server, fixture("dahua/parking_stop.txt")).status_code == 200
    run_worker()
    [incident] = incidents(runtime)
    assert incident.status == "open" and incident.stopped_at is not None
    assert [alarm.incident_id for alarm in alarms(runtime)] == [incident.id, incident.id]


def test_relayed_motion_start_and_stop_are_stored_but_open_nothing(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    for name in ("videomotion_relay.txt", "videomotion_stop_relay.txt"):
        assert post_dahua(live_server, fixture(f"dahua/{name}")).status_code == 200, name
    run_worker()
    start, stop = alarms(runtime)
    assert (start.kind, start.state, stop.kind, stop.state) == ("motion", "active", "motion", "inactive")
    assert start.camera_id == stop.camera_id == cameras.cameras["HR-DH-0002"]
    assert stop.raw == fixture("dahua/videomotion_stop_relay.txt") and stop.status == "ok"
    # Motion is not in camera.case_kinds: stored and counted, but no incident and nothing for an agent.
    assert incidents(runtime) == [] and count(runtime, Case) == 0


def test_unknown_code_is_422_and_kept(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    response = post_dahua(live_server, fixture("dahua/storagelowspace_start.txt"))
    assert response.status_code == 422 and "StorageLowSpace" in response.text
    run_worker()
    assert [alarm.status for alarm in alarms(runtime)] == [AlarmStatus.UNKNOWN_EVENT]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"hello camera", "no 'Code=...;action=...;index=...' event line"),
        (b"Code=VideoMotion;action=Maybe;index=0", "expected Start, Stop or Pulse"),
    ],
    ids=["no-event", "bad-action"],
)
def test_malformed_is_400(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry, body: bytes, problem: str
) -> None:
    response = post_dahua(live_server, body)
    assert response.status_code == 400 and problem in response.text
    run_worker()
    assert [alarm.status for alarm in alarms(runtime)] == [AlarmStatus.REJECTED]


def test_bad_credentials_are_401(live_server: str, cameras: Registry) -> None:
    body = fixture("dahua/parking_start.txt")
    assert post_dahua(live_server, body, auth=("dahua-nvr", "not-" + PASSWORD)).status_code == 401
    assert post_dahua(live_server, body, auth=None).status_code == 401
