"""Hikvision ISAPI alarm push over real HTTP: every namespace and none, JSON, multipart with pictures,
authentication, and the damage real devices send."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import requests
from requests.auth import HTTPDigestAuth
from sqlalchemy import select

from channels.camera.models import AlarmStatus, CameraAlarmRecord
from intake.cases import get_case
from intake.models import Attachment, Case
from intake.runtime import Runtime
from intake.states import CaseStatus
from tests.test_camera_common import (
    MULTIPART,
    PASSWORD,
    Registry,
    alarms,
    cameras,
    count,
    fixture,
    hikvision_multipart,
    incidents,
    post_hikvision,
    settings,
)

__all__ = ["cameras", "settings"]  # fixtures used below


@pytest.mark.parametrize(
    ("name", "code", "kind", "rule"),
    [
        ("fielddetection_hikvision_ns.xml", "HR-HK-0001", "intrusion", "3"),
        ("nvr_fielddetection_psia.xml", "HR-NVR-34", "intrusion", ""),
        ("duration_fielddetection.xml", "HR-HK-0003", "intrusion", ""),
        ("io_hikvision_ns.xml", "HR-HK-0005", "alarm_input", "1"),
    ],
    ids=["hikvision-namespace", "psia-namespace-nvr-serial", "duration-relation-event", "io-alarm-input"],
)
def test_an_alarm_becomes_one_case_at_the_cameras_place(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    cameras: Registry,
    name: str,
    code: str,
    kind: str,
    rule: str,
) -> None:
    body = fixture(f"hikvision/{name}")
    response = post_hikvision(live_server, body)
    assert response.status_code == 200, response.text
    run_worker()
    [alarm] = alarms(runtime)
    assert (alarm.kind, alarm.status, alarm.rule) == (kind, AlarmStatus.OK, rule)
    assert alarm.camera_id == cameras.cameras[code]
    assert alarm.raw == body  # exactly as received
    [incident] = incidents(runtime)
    assert incident.case_number and incident.camera_id == cameras.cameras[code]
    with runtime.db.transaction() as session:
        case = get_case(session, incident.case_number)
        assert case.channel == "camera"
        assert case.status is CaseStatus.VERIFYING  # in the agents' queue
        assert case.lat is not None and case.address and case.address.startswith("怀柔区青春路")
        assert code in case.description
        assert case.reports[0].source_id == str(incident.id)
        assert case.reports[0].raw == body


def test_isapi_namespace_heartbeat_keeps_the_camera_alive_and_opens_nothing(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    assert post_hikvision(live_server, fixture("hikvision/heartbeat_isapi_ns.xml")).status_code == 200
    assert post_hikvision(live_server, fixture("hikvision/videoloss_inactive.xml")).status_code == 200
    run_worker()
    assert count(runtime, CameraAlarmRecord) == 0  # heartbeats are not alarms
    assert incidents(runtime) == []
    assert count(runtime, Case) == 0
    seen = runtime.redis.hgetall(runtime.key("camera", "seen"))
    assert {int(key) for key in seen} == {cameras.cameras["HR-HK-0002"], cameras.cameras["HR-HK-0004"]}


def test_no_namespace_and_no_device_fields_is_the_senders_only_camera(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    response = post_hikvision(live_server, fixture("hikvision/linedetection_no_ns.xml"), auth=("hik-ipc-07", PASSWORD))
    assert response.status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert (alarm.kind, alarm.camera_id, alarm.rule) == ("line_crossing", cameras.cameras["HR-HK-0007"], "2")


def test_motion_is_stored_but_reaches_no_agent(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    assert post_hikvision(live_server, fixture("hikvision/vmd_hikvision_ns.xml")).status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert (alarm.kind, alarm.camera_id, alarm.incident_id) == ("motion", cameras.cameras["HR-HK-0003"], None)
    assert count(runtime, Case) == 0


def test_json_alarm(runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry) -> None:
    body = fixture("hikvision/fielddetection.json")
    assert post_hikvision(live_server, body, content_type="application/json").status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert (alarm.kind, alarm.rule, alarm.camera_id) == ("intrusion", "3", cameras.cameras["HR-HK-0001"])
    assert alarm.source_time == datetime(2022, 1, 31, 12, 53, 5, tzinfo=UTC)
    assert count(runtime, Case) == 1


def test_multipart_with_jpeg_attaches_the_picture_to_the_case(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    jpeg = fixture("hikvision/lineCrossImage.jpg")
    body = hikvision_multipart(
        fixture("hikvision/linedetection_no_ns.xml"), [("lineCrossImage", jpeg)], event="linedetection"
    )
    response = post_hikvision(live_server, body, content_type=MULTIPART, auth=("hik-ipc-07", PASSWORD))
    assert response.status_code == 200
    run_worker()
    [incident] = incidents(runtime)
    assert incident.pictures[0]["name"] == "lineCrossImage.jpg"
    with runtime.db.transaction() as session:
        case = get_case(session, incident.case_number)
        [attachment] = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()
        assert (attachment.content_type, attachment.size, attachment.status) == ("image/jpeg", len(jpeg), "stored")


def test_multipart_with_a_json_part_of_an_unhandled_event_is_422_and_kept(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    body = fixture("hikvision/radar_jsondata_multipart.bin")
    response = post_hikvision(live_server, body, content_type="multipart/form-data; boundary=7e13971310878")
    assert response.status_code == 422
    assert "radarVideoDetection" in response.text
    run_worker()
    [alarm] = alarms(runtime)
    assert (alarm.status, alarm.raw) == (AlarmStatus.UNKNOWN_EVENT, body)


def test_unknown_event_is_422_and_kept(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    response = post_hikvision(live_server, fixture("hikvision/peoplecounting_isapi_ns.xml"))
    assert response.status_code == 422 and "PeopleCounting" in response.text
    run_worker()
    [alarm] = alarms(runtime)
    assert alarm.status == AlarmStatus.UNKNOWN_EVENT and "PeopleCounting" in (alarm.reason or "")
    assert count(runtime, Case) == 0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<EventNotificationAlert><eventType>linedetection</eventType>", "XML body"),
        (b"<ResponseStatus><statusCode>1</statusCode></ResponseStatus>", "not <EventNotificationAlert>"),
        (b"<EventNotificationAlert><eventState>active</eventState></EventNotificationAlert>", "eventType: missing"),
        (b"\x00\x01\x02 not a document", "XML body"),
    ],
    ids=["truncated", "wrong-root", "no-event-type", "binary-junk"],
)
def test_malformed_body_is_400_naming_the_problem_and_kept(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry, body: bytes, problem: str
) -> None:
    response = post_hikvision(live_server, body)
    assert response.status_code == 400
    assert problem in response.text
    run_worker()
    [alarm] = alarms(runtime)
    assert (alarm.status, alarm.raw) == (AlarmStatus.REJECTED, body)
    assert problem in (alarm.reason or "")


def test_authentication(runtime: Runtime, live_server: str, cameras: Registry) -> None:
    body = fixture("hikvision/fielddetection_hikvision_ns.xml")
    missing = post_hikvision(live_server, body, auth=None)
    assert missing.status_code == 401
    challenges = missing.headers["WWW-Authenticate"]
    assert "Digest realm=" in challenges and "Basic realm=" in challenges
    assert post_hikvision(live_server, body, auth=("hik-push", "wrong-password")).status_code == 401
    assert post_hikvision(live_server, body, auth=("nobody", PASSWORD)).status_code == 401
    assert post_hikvision(live_server, body, auth=("onvif-cam", PASSWORD)).status_code == 401  # not an HTTP sender
    # Digest, the way a device that prefers it answers the challenge (requests does the round trip).
    digest = post_hikvision(live_server, body, auth=HTTPDigestAuth("hik-push", PASSWORD))
    assert digest.status_code == 200
    wrong = post_hikvision(live_server, body, auth=HTTPDigestAuth("hik-push", "wrong-password"))
    assert wrong.status_code == 401
    assert runtime.redis.xlen(runtime.key("camera", "alarms")) == 1  # only the authenticated one is kept


def test_digest_nonce_from_another_server_or_for_another_uri_is_refused(live_server: str, cameras: Registry) -> None:
    body = fixture("hikvision/fielddetection_hikvision_ns.xml")
    forged = (
        'Digest username="hik-push", realm="gridline-camera", nonce="1700000000.0000", '
        'uri="/channels/camera/hikvision", response="00000000000000000000000000000000"'
    )
    response = requests.post(
        live_server + "/channels/camera/hikvision",
        data=body,
        headers={"Authorization": forged, "Content-Type": "application/xml"},
        timeout=10,
    )
    assert response.status_code == 401


def test_any_path_below_the_receiver_is_accepted(live_server: str, cameras: Registry) -> None:
    body = fixture("hikvision/fielddetection_hikvision_ns.xml")
    assert post_hikvision(live_server, body, path="/channels/camera/hikvision/ISAPI/alarm").status_code == 200
