"""The generic JSON webhook signed with HMAC-SHA256: per-sender secret, timestamp, no replay."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import pytest

from channels.camera.models import AlarmStatus
from intake.cases import get_case
from intake.models import Attachment
from intake.runtime import Runtime
from tests.test_camera_common import Registry, alarms, cameras, count, fixture, incidents, post_generic

__all__ = ["cameras"]


def test_event_by_camera_code_becomes_a_case_with_its_category(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    body = fixture("generic/garbage.json")
    response = post_generic(live_server, body, cameras.secrets["ai-platform"])
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    run_worker()
    [alarm] = alarms(runtime)
    assert (alarm.kind, alarm.camera_id, alarm.rule) == ("garbage", cameras.cameras["HR-QH-0007"], "roadside-3")
    [incident] = incidents(runtime)
    with runtime.db.transaction() as session:
        case = get_case(session, incident.case_number)  # type: ignore[arg-type]
        assert (case.category, case.priority, case.channel) == ("garbage", 3, "camera")


def test_event_by_mac_with_a_picture(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    event = json.loads(fixture("generic/smoke_fire_by_mac.json"))
    jpeg = fixture("hikvision/lineCrossImage.jpg")
    event["pictures"] = [{"name": "fire.jpg", "content_type": "image/jpeg", "data": base64.b64encode(jpeg).decode()}]
    body = json.dumps(event).encode()
    assert post_generic(live_server, body, cameras.secrets["ai-platform"]).status_code == 200
    run_worker()
    [incident] = incidents(runtime)
    assert (incident.kind, incident.camera_id) == ("smoke_fire", cameras.cameras["HR-HK-0002"])
    assert incident.stopped_at is not None  # a pulse: over as soon as it happened
    with runtime.db.transaction() as session:
        case = get_case(session, incident.case_number)  # type: ignore[arg-type]
        assert case.priority == 1  # fire first
        assert session.query(Attachment).filter_by(case_id=case.id).one().size == len(jpeg)


def test_signature_timestamp_and_replay(runtime: Runtime, live_server: str, cameras: Registry) -> None:
    body = fixture("generic/garbage.json")
    secret = cameras.secrets["ai-platform"]
    assert post_generic(live_server, body, b"another-secret").status_code == 403
    assert post_generic(live_server, body, secret, signature="").status_code == 403
    old = int(time.time()) - 3600
    stale = post_generic(live_server, body, secret, timestamp=old)
    assert stale.status_code == 403 and "replay" in stale.json()["error"]
    assert post_generic(live_server, body, secret, sender="nobody").status_code == 403
    assert post_generic(live_server, body, secret, sender="hik-push").status_code == 403  # not an HMAC sender
    stamp = int(time.time())
    assert post_generic(live_server, body, secret, timestamp=stamp).status_code == 200
    replayed = post_generic(live_server, body, secret, timestamp=stamp)
    assert replayed.status_code == 403 and "replayed" in replayed.json()["error"]
    tampered = body.replace(b"roadside-3", b"roadside-4")
    from channels.camera import generic

    signature = generic.signature(secret, str(stamp + 1), body)
    assert post_generic(live_server, tampered, secret, timestamp=stamp + 1, signature=signature).status_code == 403
    assert runtime.redis.xlen(runtime.key("camera", "alarms")) == 1


@pytest.mark.parametrize(
    ("event", "status", "problem"),
    [
        ({"camera": {"code": "HR-QH-0007"}, "type": "garbage", "state": "maybe"}, 400, "state"),
        ({"camera": {}, "type": "garbage"}, 400, "camera: needs code"),
        ({"camera": {"code": "HR-QH-0007"}, "type": "ufo"}, 422, "type 'ufo'"),
        ({"camera": {"code": "HR-QH-0007"}, "type": "garbage", "pictures": [{"data": "%%%"}]}, 400, "not base64"),
    ],
    ids=["bad-state", "no-camera", "unknown-type", "bad-picture"],
)
def test_malformed_and_unknown(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    cameras: Registry,
    event: dict[str, object],
    status: int,
    problem: str,
) -> None:
    body = json.dumps({"events": [event]}).encode()
    response = post_generic(live_server, body, cameras.secrets["ai-platform"])
    assert response.status_code == status and problem in response.json()["error"]
    run_worker()
    kept = AlarmStatus.UNKNOWN_EVENT if status == 422 else AlarmStatus.REJECTED
    assert [alarm.status for alarm in alarms(runtime)] == [kept]
    assert count(runtime, type(alarms(runtime)[0])) == 1


def test_unknown_camera_is_kept_flagged_and_still_a_case(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    body = json.dumps({"camera": {"ip": "10.9.8.7", "channel": 3}, "type": "crowd", "rule": "square"}).encode()
    assert post_generic(live_server, body, cameras.secrets["ai-platform"]).status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert alarm.status == AlarmStatus.UNKNOWN_CAMERA and alarm.camera_id is None
    assert alarm.device == "ip:10.9.8.7#3" and "no registered camera" in (alarm.reason or "")
    [incident] = incidents(runtime)
    assert incident.device == "ip:10.9.8.7#3"
    with runtime.db.transaction() as session:
        case = get_case(session, incident.case_number)  # type: ignore[arg-type]
        assert "未登记的摄像机：ip:10.9.8.7#3" in case.description
        assert case.reports[0].meta["unknown_camera"] is True
