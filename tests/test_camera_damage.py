"""Real-world damage: none of it crashes a receiver, the raw body is kept with what was repaired or
why it was refused, and the camera always gets an answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from channels.camera.models import AlarmStatus
from intake.models import Attachment, Blob, Case
from intake.runtime import Runtime
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
    post_dahua,
    post_hikvision,
)

__all__ = ["cameras"]

FIELD = fixture("hikvision/fielddetection_hikvision_ns.xml")


def test_bare_ampersand_is_escaped_and_the_alarm_counts(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    body = FIELD.replace(b"<channelName>COUR NORD</channelName>", b"<channelName>COUR NORD & SUD</channelName>")
    response = post_hikvision(live_server, body)
    assert response.status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert (alarm.status, alarm.kind, alarm.raw) == (AlarmStatus.REPAIRED, "intrusion", body)
    assert "bare & escaped" in (alarm.reason or "")
    assert count(runtime, Case) == 1


def test_empty_active_post_count(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    body = FIELD.replace(b"<activePostCount>1</activePostCount>", b"<activePostCount/>")
    assert post_hikvision(live_server, body).status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert alarm.post_count is None and "activePostCount empty" in (alarm.reason or "")
    assert count(runtime, Case) == 1


def test_gbk_bytes_under_a_utf8_label(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    name = "东门入口".encode("gbk")
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + FIELD.replace(b"COUR NORD", name)
    assert post_hikvision(live_server, body).status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert alarm.status == AlarmStatus.REPAIRED and "GB18030" in (alarm.reason or "")
    assert alarm.raw == body


@pytest.mark.parametrize(
    ("stamp", "expected", "note"),
    [
        (b"2022-01-31T13:53:05", datetime(2022, 1, 31, 13, 53, 5, tzinfo=ZoneInfo("Asia/Shanghai")), "no UTC offset"),
        (b"0000-00-00T00:00:00", None, "not a date"),
        (b"2024-01-22T11:46:3100:00", None, "unreadable"),
        (b"1970-01-01T08:00:00+08:00", None, "implausible"),
    ],
    ids=["no-offset", "zeros", "mangled-offset", "clock-never-set"],
)
def test_camera_times_that_cannot_be_trusted(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    cameras: Registry,
    stamp: bytes,
    expected: datetime | None,
    note: str,
) -> None:
    body = FIELD.replace(b"2022-01-31T13:53:05+01:00", stamp)
    assert post_hikvision(live_server, body).status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert alarm.source_time == expected
    assert note in (alarm.reason or "")
    [incident] = incidents(runtime)
    # Our clock, not the camera's, decides when the incident opened.
    assert abs(incident.opened_at - alarm.received_at) < timedelta(seconds=1)


def test_picture_over_5_mb_is_kept_raw_but_not_attached(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    small = fixture("hikvision/lineCrossImage.jpg")
    huge = small + b"\x00" * (5 * 1024 * 1024 + 10)  # trailing bytes after the JPEG's end: still a JPEG
    body = hikvision_multipart(
        fixture("hikvision/linedetection_no_ns.xml"),
        [("lineCrossImage", huge), ("lineCrossImage2", small)],
        event="linedetection",
    )
    response = post_hikvision(live_server, body, content_type=MULTIPART, auth=("hik-ipc-07", PASSWORD))
    assert response.status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert alarm.status == AlarmStatus.REPAIRED and "over the 5242880-byte limit" in (alarm.reason or "")
    # The body is too big for its row: it is a blob, byte for byte.
    assert alarm.raw is None and alarm.raw_sha256
    with runtime.db.transaction() as session:
        assert session.get(Blob, alarm.raw_sha256).data == body  # type: ignore[union-attr]
        [attachment] = session.query(Attachment).all()
        assert attachment.size == len(small)


def test_missing_closing_boundary(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    jpeg = fixture("hikvision/lineCrossImage.jpg")
    body = hikvision_multipart(
        fixture("hikvision/linedetection_no_ns.xml"), [("lineCrossImage", jpeg)], event="linedetection", closed=False
    )
    response = post_hikvision(live_server, body, content_type=MULTIPART, auth=("hik-ipc-07", PASSWORD))
    assert response.status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert "no closing boundary" in (alarm.reason or "")
    [incident] = incidents(runtime)
    assert len(incident.pictures) == 1 and incident.pictures[0]["size"] == len(jpeg)


def test_repeated_boundary_lines_and_lf_only(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    # Firmware that emits a stray "--boundary" after the XML, and line ends without CR.
    xml = fixture("hikvision/linedetection_no_ns.xml")
    body = (
        b"--boundary\n"
        b'Content-Disposition: form-data; name="linedetection"\n'
        b"Content-Type: application/xml\n\n" + xml + b"\n--boundary\n--boundary--\n"
    )
    response = post_hikvision(live_server, body, content_type=MULTIPART, auth=("hik-ipc-07", PASSWORD))
    assert response.status_code == 200
    run_worker()
    assert [alarm.kind for alarm in alarms(runtime)] == ["line_crossing"]


def test_multipart_without_an_event_part_is_400(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    body = b"--boundary\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xd9\r\n--boundary--\r\n"
    response = post_hikvision(live_server, body, content_type=MULTIPART)
    assert response.status_code == 400 and "no XML or JSON event part" in response.text
    run_worker()
    assert [alarm.status for alarm in alarms(runtime)] == [AlarmStatus.REJECTED]


def test_dahua_data_that_is_not_json_still_counts(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], cameras: Registry
) -> None:
    body = fixture("dahua/crossline_start.txt").replace(b'"Direction" : "RightToLeft",', b'"Direction" : RightToLeft,')
    assert post_dahua(live_server, body).status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert alarm.kind == "line_crossing" and "not JSON" in (alarm.reason or "")
