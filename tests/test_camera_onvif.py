"""ONVIF notifications (SOAP ``wsnt:Notify``) posted to the consumer address with its token."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from channels.camera.models import AlarmStatus
from intake.models import Case
from intake.runtime import Runtime
from tests.test_camera_common import Registry, alarms, cameras, count, fixture, incidents, post_onvif

__all__ = ["cameras"]


@pytest.mark.parametrize(
    ("name", "kind", "state", "rule", "cases"),
    [
        ("notify_fielddetector.xml", "intrusion", "active", "MyFieldDetector1", 1),
        ("notify_linecrossed.xml", "line_crossing", "pulse", "MyImportantFence1", 1),
        ("notify_tamper.xml", "tamper", "active", "MyTamperDetectorRule", 1),
        ("notify_scenechange.xml", "tamper", "active", "", 1),
        ("notify_cellmotion.xml", "motion", "active", "MyMotionDetectorRule", 0),
    ],
    ids=["field-detector", "line-crossed", "tamper-detector", "global-scene-change", "cell-motion"],
)
def test_topics(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    cameras: Registry,
    name: str,
    kind: str,
    state: str,
    rule: str,
    cases: int,
) -> None:
    body = fixture(f"onvif/{name}")
    response = post_onvif(live_server, cameras.tokens["onvif-cam"], body)
    assert response.status_code == 200, response.text
    run_worker()
    [alarm] = alarms(runtime)
    assert (alarm.kind, alarm.state, alarm.rule) == (kind, state, rule)
    assert alarm.camera_id == cameras.cameras["HR-OV-0001"]
    assert alarm.raw == body
    assert count(runtime, Case) == cases


def test_line_crossed_in_2008_is_an_implausible_camera_time(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    post_onvif(live_server, cameras.tokens["onvif-cam"], fixture("onvif/notify_linecrossed.xml"))
    run_worker()
    [alarm] = alarms(runtime)
    assert alarm.source_time is None and alarm.status == AlarmStatus.REPAIRED
    assert "implausible" in (alarm.reason or "")


def test_inside_then_outside_is_one_stopped_incident(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    token = cameras.tokens["onvif-cam"]
    assert post_onvif(live_server, token, fixture("onvif/notify_fielddetector.xml")).status_code == 200
    assert post_onvif(live_server, token, fixture("onvif/notify_fielddetector_off.xml")).status_code == 200
    run_worker()
    [incident] = incidents(runtime)
    assert incident.stopped_at is not None and incident.status == "open"
    assert count(runtime, Case) == 1


def test_processor_usage_only_says_the_device_is_alive(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    response = post_onvif(live_server, cameras.tokens["onvif-cam"], fixture("onvif/notify_processorusage.xml"))
    assert response.status_code == 200
    run_worker()
    assert alarms(runtime) == []
    assert {int(key) for key in runtime.redis.hgetall(runtime.key("camera", "seen"))} == {cameras.cameras["HR-OV-0001"]}


def test_unknown_topic_is_422_and_kept(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    response = post_onvif(live_server, cameras.tokens["onvif-cam"], fixture("onvif/notify_storagefailure.xml"))
    assert response.status_code == 422 and "Device/HardwareFailure/StorageFailure" in response.text
    run_worker()
    assert [alarm.status for alarm in alarms(runtime)] == [AlarmStatus.UNKNOWN_EVENT]


def test_malformed_is_400(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    body = fixture("onvif/notify_fielddetector.xml").replace(b"</wsnt:Notify>", b"")
    response = post_onvif(live_server, cameras.tokens["onvif-cam"], body)
    assert response.status_code == 400 and "XML body" in response.text
    not_soap = post_onvif(live_server, cameras.tokens["onvif-cam"], fixture("hikvision/vmd_hikvision_ns.xml"))
    assert not_soap.status_code == 400 and "SOAP" in not_soap.text
    run_worker()
    assert [alarm.status for alarm in alarms(runtime)] == [AlarmStatus.REJECTED, AlarmStatus.REJECTED]


def test_wrong_token_is_403_and_nothing_is_kept(runtime: Runtime, live_server: str, cameras: Registry) -> None:
    response = post_onvif(live_server, "not-the-token", fixture("onvif/notify_fielddetector.xml"))
    assert response.status_code == 403
    assert runtime.redis.xlen(runtime.key("camera", "alarms")) == 0
