"""Demo: a registered Hikvision camera (with its sender) pushes an illegal-parking alarm with a picture, as its
HTTP listening mode does; the worker drains it into an incident and the incident into a case."""

from __future__ import annotations

import base64
import csv
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from channels.camera.registry import bump_version, create_sender, import_cameras
from channels.camera.settings import timezone_name
from channels.common import DemoContext

FIXTURES = Path(__file__).parent / "fixtures" / "hikvision"
SENDER = "hik-demo"
CAMERA = {
    "code": "HR-QH-0007",
    "name": "府前街青春路口",
    "vendor": "hikvision",
    # The device of the captured alarm (fielddetection_hikvision_ns.xml): its MAC and channel.
    "mac": "ac:b9:2f:49:44:75",
    "channel": "1",
    # Where the demo grid worker reports the same parked lorries (channels/grid/demo.py).
    "lat": "40.3301",
    "lon": "116.6368",
    "address": "泉河街道府前街与青春路口",
    "sender": SENDER,
}
EVENT = "illegalParking"


def alarm_xml(now: datetime) -> bytes:
    """The captured intrusion alarm as the same camera reports illegal parking, now, on our crossing."""
    xml = (FIXTURES / "fielddetection_hikvision_ns.xml").read_text(encoding="utf-8")
    for old, new in (
        ("<eventType>fielddetection</eventType>", f"<eventType>{EVENT}</eventType>"),
        ("<eventDescription>fielddetection alarm</eventDescription>", "<eventDescription>违章停车</eventDescription>"),
        ("<dateTime>2022-01-31T13:53:05+01:00</dateTime>", f"<dateTime>{now.isoformat(timespec='seconds')}</dateTime>"),
        ("<channelName>COUR NORD</channelName>", f"<channelName>{CAMERA['name']}</channelName>"),
        ("<detectionTarget>human</detectionTarget>", "<detectionTarget>vehicle</detectionTarget>"),
    ):
        if old not in xml:
            raise RuntimeError(f"the Hikvision fixture changed: {old!r} is gone")
        xml = xml.replace(old, new)
    return xml.encode()


def multipart(xml: bytes, picture: bytes) -> bytes:
    """A ``multipart/form-data`` body as Hikvision's HTTP listening mode sends it (boundary ``boundary``)."""
    parts = []
    for name, filename, content_type, data in (
        (EVENT, f"{EVENT}.xml", "application/xml", xml),
        ("illegalParkingImage", "illegalParkingImage.jpg", "image/jpeg", picture),
    ):
        parts.append(
            b"--boundary\r\n"
            + f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'.encode()
            + f"Content-Type: {content_type}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + b"--boundary--\r\n"


def load(context: DemoContext) -> list[str]:
    runtime = context.runtime
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cameras.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(CAMERA))
            writer.writeheader()
            writer.writerow(CAMERA)
        with runtime.db.transaction() as session:
            password = create_sender(session, SENDER, "http")
            import_cameras(session, path)
    bump_version()
    now = datetime.now(UTC).astimezone(ZoneInfo(timezone_name(runtime.config)))
    body = multipart(alarm_xml(now), (FIXTURES / "lineCrossImage.jpg").read_bytes())
    credentials = base64.b64encode(f"{SENDER}:{password}".encode()).decode()
    response = context.client.post(
        "/channels/camera/hikvision/ISAPI/Event/notification/alert",  # any path under the receiver
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=boundary", "Authorization": f"Basic {credentials}"},
    )
    if response.status_code != 200:
        raise RuntimeError(f"the Hikvision receiver refused the demo alarm: {response.status_code} {response.text}")
    url = runtime.config.public_url
    return [
        f"camera {CAMERA['code']} ({CAMERA['name']}) of sender {SENDER}: an illegal-parking alarm with a picture "
        "(the worker makes it a case; a grid worker reported the same lorries: a cross-channel duplicate)",
        f"try: the camera's alarm server (HTTP listening) {url}/channels/camera/hikvision, "
        f"user {SENDER}, password {password} (Digest or Basic); alarms of the same rule collapse into one incident",
    ]
