"""The adapters alone (pure parsing, no services): corner cases the HTTP tests do not reach."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from channels.camera import dahua, frigate, hikvision, multipart, onvif
from channels.camera.alarm import Kind, State, normalize_mac
from channels.camera.decoding import parse_xml
from channels.camera.times import parse_time
from channels.errors import MalformedPayload, UnknownEvent
from tests.test_camera_common import fixture

ZONE = "Asia/Shanghai"
LIMIT = 5 * 1024 * 1024


def test_every_hikvision_namespace_reads_the_same() -> None:
    body = fixture("hikvision/fielddetection_hikvision_ns.xml")
    for namespace in (
        b"http://www.hikvision.com/ver20/XMLSchema",
        b"http://www.isapi.org/ver20/XMLSchema",
        b"http://www.std-cgi.com/ver20/XMLSchema",
    ):
        variant = body.replace(b"http://www.hikvision.com/ver20/XMLSchema", namespace)
        [alarm] = hikvision.parse(variant, "application/xml", zone=ZONE, max_picture_bytes=LIMIT).alarms
        assert (alarm.kind, alarm.rule, alarm.mac, alarm.channel) == (Kind.INTRUSION, "3", "ac:b9:2f:49:44:75", 1)
        assert alarm.extra["namespace"] == namespace.decode()
    bare = body.replace(b' xmlns="http://www.hikvision.com/ver20/XMLSchema"', b"")
    [alarm] = hikvision.parse(bare, "text/xml", zone=ZONE, max_picture_bytes=LIMIT).alarms
    assert alarm.kind is Kind.INTRUSION and alarm.extra.get("namespace") is None


def test_hikvision_json_wrapped_and_bare() -> None:
    document = json.loads(fixture("hikvision/fielddetection.json"))
    for body in (document, {"EventNotificationAlert": document}):
        parsed = hikvision.parse(json.dumps(body).encode(), "application/json", zone=ZONE, max_picture_bytes=LIMIT)
        assert parsed.alarms[0].extra["detectionTarget"] == "human"
    with pytest.raises(MalformedPayload, match="eventType: missing"):
        hikvision.parse(b'{"eventState": "active"}', "application/json", zone=ZONE, max_picture_bytes=LIMIT)


def test_hikvision_videoloss_active_is_a_problem_inactive_a_heartbeat() -> None:
    body = fixture("hikvision/videoloss_inactive.xml")
    [beat] = hikvision.parse(body, "application/xml", zone=ZONE, max_picture_bytes=LIMIT).alarms
    assert beat.kind is Kind.HEARTBEAT and beat.serial == "DS-2CD2T85FWD-I5(B)20191224AAWRE00834723"
    active = body.replace(b"<eventState>inactive</eventState>", b"<eventState>active</eventState>")
    [loss] = hikvision.parse(active, "application/xml", zone=ZONE, max_picture_bytes=LIMIT).alarms
    assert (loss.kind, loss.state) == (Kind.VIDEO_LOSS, State.ACTIVE)


def test_junk_before_the_document_and_doctype() -> None:
    body = b"HTTP/1.1 junk\r\n" + fixture("hikvision/vmd_hikvision_ns.xml")
    root, notes = parse_xml(body)
    assert root.tag.endswith("EventNotificationAlert") and "junk before the XML" in notes[0]
    with pytest.raises(MalformedPayload, match="DOCTYPE"):
        parse_xml(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-11-14T15:27Z", datetime(2019, 11, 14, 15, 27, tzinfo=UTC)),  # no seconds, Z
        ("2021-02-07T11:19:41.225+08:00", datetime(2021, 2, 7, 3, 19, 41, 225000, tzinfo=UTC)),
        ("2019-01-31 18:04:58", datetime(2019, 1, 31, 10, 4, 58, tzinfo=UTC)),
        (1549080650.0, datetime.fromtimestamp(1549080650, UTC)),
        ("1549080650", datetime.fromtimestamp(1549080650, UTC)),
        ("0000-00-00T00:00:00", None),
        ("", None),
    ],
)
def test_times(value: object, expected: datetime | None) -> None:
    assert parse_time(value, ZONE)[0] == expected


def test_a_camera_time_far_in_the_future_is_not_believed() -> None:
    ahead = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    found, note = parse_time(ahead, ZONE)
    assert found is None and note and "implausible" in note


def test_mac_normalization() -> None:
    assert normalize_mac("AC-B9-2F-49-44-75") == normalize_mac("acb92f494475") == "ac:b9:2f:49:44:75"
    assert normalize_mac("00:00:00:00:00:00") is None and normalize_mac("BananaRama") is None


def test_multipart_boundary_sniffed_from_the_body_and_content_length_honoured() -> None:
    body = b"--xyz\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nabcdTRAILING\r\n--xyz--\r\n"
    parts, notes = multipart.split(body, multipart.boundary_of("multipart/mixed", body))
    assert [part.body for part in parts] == [b"abcd"] and notes == []
    with pytest.raises(MalformedPayload, match="boundary"):
        multipart.boundary_of("multipart/mixed", b"no boundary here")


def test_dahua_multiline_json_and_several_events() -> None:
    body = (
        b'Code=CrossLineDetection;action=Start;index=2;data={\n  "Name" : "north gate",\n  "UTC" : 1549080650\n}\n'
        b"Code=CrossLineDetection;action=Stop;index=2\r\nHeartbeat\r\n"
    )
    parsed = dahua.parse(body, "text/plain", zone=ZONE, max_picture_bytes=LIMIT)
    assert [(alarm.kind, alarm.state, alarm.channel) for alarm in parsed.alarms] == [
        (Kind.LINE_CROSSING, State.ACTIVE, 3),
        (Kind.LINE_CROSSING, State.INACTIVE, 3),
        (Kind.HEARTBEAT, State.PULSE, None),
    ]
    assert parsed.alarms[0].rule == "north gate"


def test_dahua_mixed_known_and_unknown_codes_keeps_the_known() -> None:
    body = b"Code=NewFile;action=Pulse;index=0\r\nCode=VideoBlind;action=Start;index=0\r\n"
    parsed = dahua.parse(body, "text/plain", zone=ZONE, max_picture_bytes=LIMIT)
    assert [alarm.kind for alarm in parsed.alarms] == [Kind.TAMPER]
    assert "NewFile" in parsed.notes[0]
    with pytest.raises(UnknownEvent):
        dahua.parse(b"Code=NewFile;action=Pulse;index=0", "text/plain", zone=ZONE, max_picture_bytes=LIMIT)


def test_onvif_several_messages_in_one_notify() -> None:
    usage = fixture("onvif/notify_processorusage.xml")
    field = fixture("onvif/notify_fielddetector.xml")
    holder = field[field.index(b"<wsnt:NotificationMessage>") : field.index(b"</wsnt:Notify>")]
    body = usage.replace(b"</wsnt:Notify>", holder + b"</wsnt:Notify>")
    parsed = onvif.parse(body, "application/soap+xml", zone=ZONE, max_picture_bytes=LIMIT)
    assert [alarm.kind for alarm in parsed.alarms] == [Kind.HEARTBEAT, Kind.INTRUSION]


def test_frigate_false_positive_is_stored_but_ignored() -> None:
    event = json.loads(fixture("frigate/new.json"))
    event["after"]["false_positive"] = True
    [alarm] = frigate.parse(json.dumps(event).encode(), zone=ZONE).alarms
    assert alarm.ignore and alarm.event_id == "1689768251.095724-jk5d54"
    assert frigate.topic_prefix("frigate/events") == "frigate" and frigate.topic_prefix("frigate/stats") is None


def test_settings_errors_name_the_key() -> None:
    from channels.camera.settings import camera_settings
    from intake.config import load_config
    from intake.errors import ConfigError

    config = load_config(camera={"quiet_period_seconds": 0, "mqtt": {"instances": [{"prefix": "a/#"}]}})
    with pytest.raises(ConfigError) as err:
        camera_settings(config)
    assert "camera.quiet_period_seconds" in str(err.value) and "camera.mqtt.instances.0.prefix" in str(err.value)
    settings = camera_settings(load_config(camera={"case_kinds": ["garbage", "smoke_fire"]}))
    assert settings.case_kinds == [Kind.GARBAGE, Kind.SMOKE_FIRE]
