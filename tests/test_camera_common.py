"""What the camera tests share: a registry of senders and cameras, and posting the way devices do.

Imported by the ``test_camera_*`` modules (pytest also collects this module; it holds no tests).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from channels.camera import generic, registry
from channels.camera.models import Camera, CameraAlarmRecord, CameraIncident
from channels.camera.settings import CameraSettings, camera_settings
from intake.runtime import Runtime
from tests.support import CHANNELS_DIR

FIXTURES = CHANNELS_DIR / "camera" / "fixtures"
PASSWORD = "camera-password-1"
#: Points in Huairou's demo district (town seats of 怀柔镇 / 雁栖镇 and thereabouts).
POINT = (40.3160, 116.6320)


def fixture(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


@dataclass
class Registry:
    tokens: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, bytes] = field(default_factory=dict)
    cameras: dict[str, int] = field(default_factory=dict)


SENDERS = {
    "hik-push": "http",
    "hik-ipc-07": "http",
    "dahua-nvr": "http",
    "onvif-cam": "token",
    "ai-platform": "hmac",
    "frigate": "mqtt",
}
#: code, sender, mac, serial, channel, source_name, point offset (the camera's place).
CAMERAS: list[tuple[str, str | None, str | None, str | None, int | None, str | None]] = [
    ("HR-HK-0001", "hik-push", "ac:b9:2f:49:44:75", None, 1, None),
    ("HR-HK-0002", "hik-push", "44:19:b6:6d:24:85", None, 1, None),
    ("HR-HK-0003", "hik-push", "a6:63:9e:f8:01:09", None, 1, None),
    ("HR-HK-0004", "hik-push", "98:df:82:57:30:00", None, 1, None),
    ("HR-HK-0005", "hik-push", "4f:e4:2f:81:cd:1b", None, 1, None),
    ("HR-NVR-34", "hik-push", None, "DS-7608NXI-I0/0P/S0000000000CCRRJ00000000WCVU", 34, None),
    ("HR-HK-0007", "hik-ipc-07", None, None, None, None),
    ("HR-DH-0001", "dahua-nvr", None, None, 1, None),
    ("HR-DH-0002", "dahua-nvr", None, None, 2, None),
    ("HR-OV-0001", "onvif-cam", None, None, 1, None),
    ("HR-QH-0007", "ai-platform", None, None, None, None),
    ("HR-FG-0001", "frigate", None, None, None, "porta_vista_sud"),
]


@pytest.fixture
def cameras(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """Senders of every kind and the cameras behind them, at points in the demo district."""
    # The burst worker of the tests must not wait for entries that will not come.
    monkeypatch.setattr(camera_settings(runtime.config), "drain_idle_seconds", 0)
    made = Registry()
    with runtime.db.transaction() as session:
        for name, auth in SENDERS.items():
            credential = registry.create_sender(session, name, auth, PASSWORD if auth == "http" else None)
            if auth == "token":
                made.tokens[name] = credential
            elif auth == "hmac":
                made.secrets[name] = credential.encode()
        rows = session.execute(select(registry.CameraSender.name, registry.CameraSender.id))
        sender_ids = {row.name: row.id for row in rows}
        for number, (code, sender, mac, serial, channel, source_name) in enumerate(CAMERAS):
            camera = Camera(
                code=code,
                name=f"测试点位{number + 1}",
                vendor="",
                sender_id=sender_ids[sender] if sender else None,
                mac=mac,
                serial=serial,
                channel=channel,
                source_name=source_name,
                lat=POINT[0] + number * 0.001,
                lon=POINT[1] + number * 0.001,
                address=f"怀柔区青春路{number + 1}号",
            )
            session.add(camera)
            session.flush()
            made.cameras[code] = camera.id
    registry.bump_version()
    return made


@pytest.fixture
def settings(runtime: Runtime) -> CameraSettings:
    """The session's camera settings; tests change them with monkeypatch.setattr (undone after the test)."""
    return camera_settings(runtime.config)


def post_hikvision(
    base_url: str,
    body: bytes,
    content_type: str = 'application/xml; charset="UTF-8"',
    auth: Any = ("hik-push", PASSWORD),
    path: str = "/channels/camera/hikvision",
) -> requests.Response:
    """POST as a Hikvision camera in HTTP listening mode (Basic authentication, "base64" on the device)."""
    headers = {"Content-Type": content_type, "Connection": "keep-alive"}
    return requests.post(base_url + path, data=body, headers=headers, auth=auth, timeout=10)


def post_dahua(base_url: str, body: bytes, auth: Any = ("dahua-nvr", PASSWORD)) -> requests.Response:
    content_type = "multipart/x-mixed-replace; boundary=myboundary" if body.startswith(b"--") else "text/plain"
    return requests.post(
        base_url + "/channels/camera/dahua", data=body, headers={"Content-Type": content_type}, auth=auth, timeout=10
    )


def post_onvif(base_url: str, token: str, body: bytes) -> requests.Response:
    headers = {
        "Content-Type": 'application/soap+xml; charset=utf-8; action="http://docs.oasis-open.org/wsn/bw-2/NotificationConsumer/Notify"'
    }
    return requests.post(f"{base_url}/channels/camera/onvif/{token}", data=body, headers=headers, timeout=10)


def post_generic(
    base_url: str,
    body: bytes,
    secret: bytes,
    sender: str = "ai-platform",
    timestamp: int | None = None,
    signature: str | None = None,
) -> requests.Response:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Gridline-Sender": sender,
        "X-Gridline-Timestamp": stamp,
        "X-Gridline-Signature": signature if signature is not None else generic.signature(secret, stamp, body),
    }
    return requests.post(base_url + "/channels/camera/generic", data=body, headers=headers, timeout=10)


def hikvision_multipart(xml: bytes, pictures: list[tuple[str, bytes]], *, event: str, closed: bool = True) -> bytes:
    """A multipart/form-data body as Hikvision's HTTP listening mode sends it (boundary ``boundary``)."""
    parts = [
        b"--boundary\r\n"
        + f'Content-Disposition: form-data; name="{event}"; filename="{event}.xml"\r\n'.encode()
        + b"Content-Type: application/xml\r\n"
        + f"Content-Length: {len(xml)}\r\n\r\n".encode()
        + xml
        + b"\r\n"
    ]
    for name, data in pictures:
        parts.append(
            b"--boundary\r\n"
            + f'Content-Disposition: form-data; name="{name}"; filename="{name}.jpg"\r\n'.encode()
            + b"Content-Type: image/jpeg\r\n"
            + f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + (b"--boundary--\r\n" if closed else b"")


MULTIPART = "multipart/form-data; boundary=boundary"


def count(runtime: Runtime, model: type, *where: Any) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def alarms(runtime: Runtime) -> list[CameraAlarmRecord]:
    with runtime.db.transaction() as session:
        rows = session.scalars(select(CameraAlarmRecord).order_by(CameraAlarmRecord.id)).all()
        for row in rows:
            _ = row.raw  # load the deferred column before the session ends
        session.expunge_all()
        return list(rows)


def incidents(runtime: Runtime) -> list[CameraIncident]:
    with runtime.db.transaction() as session:
        rows = session.scalars(select(CameraIncident).order_by(CameraIncident.id)).all()
        session.expunge_all()
        return list(rows)
