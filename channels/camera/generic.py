"""The generic camera webhook: video-analytics platforms post JSON signed with HMAC-SHA256.

Pure parsing and signature checking, no database or network. Gridline's own format::

    POST /channels/camera/generic
    X-Gridline-Sender: <sender name>
    X-Gridline-Timestamp: <unix seconds>
    X-Gridline-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

    {"events": [{"id": "...", "camera": {"code": "HR-0001"} | {"mac": "...", "channel": 1} | ...,
                 "type": "garbage", "state": "start" | "stop" | "pulse", "time": "<ISO 8601>",
                 "rule": "...", "count": 3, "description": "...",
                 "pictures": [{"name": "...", "content_type": "image/jpeg", "data": "<base64>"} | {"url": "..."}]}]}

A single event object may be posted without the ``events`` list. The timestamp must be within the
configured tolerance of our clock and a signature is accepted once: a replay is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from channels.camera.alarm import CameraAlarm, Kind, Parsed, Picture, State, normalize_mac, to_int
from channels.camera.decoding import parse_json
from channels.camera.times import parse_time
from channels.errors import AuthFailed, MalformedPayload, UnknownEvent

VENDOR = "generic"
SIGNATURE_PREFIX = "sha256="
STATES = {
    "start": State.ACTIVE,
    "active": State.ACTIVE,
    "stop": State.INACTIVE,
    "inactive": State.INACTIVE,
    "pulse": State.PULSE,
}
#: At most this many events in one post.
MAX_EVENTS = 500


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The X-Gridline-Signature value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(secret: bytes, timestamp: str, given: str, body: bytes, *, now: float, tolerance_seconds: int) -> None:
    """Raise AuthFailed unless ``given`` signs ``body`` at a ``timestamp`` close enough to ``now``."""
    if not given:
        raise AuthFailed("missing X-Gridline-Signature header")
    if not timestamp.strip().isdigit():
        raise AuthFailed("missing or non-numeric X-Gridline-Timestamp header")
    if abs(now - int(timestamp)) > tolerance_seconds:
        raise AuthFailed(f"X-Gridline-Timestamp is more than {tolerance_seconds} s from our clock (replay?)")
    if not hmac.compare_digest(signature(secret, timestamp.strip(), body), given.strip()):
        raise AuthFailed("X-Gridline-Signature does not match this body")


def parse(raw: bytes, content_type: str, *, zone: str, max_picture_bytes: int) -> Parsed:
    """Read one post; raise MalformedPayload / UnknownEvent naming the problem."""
    document, notes = parse_json(raw)
    if isinstance(document, dict) and "events" in document:
        events = document["events"]
        if not isinstance(events, list) or not events:
            raise MalformedPayload("events: expected a non-empty list")
    elif isinstance(document, dict):
        events = [document]
    else:
        raise MalformedPayload("body: expected a JSON object")
    if len(events) > MAX_EVENTS:
        raise MalformedPayload(f"events: at most {MAX_EVENTS} in one post")
    alarms = [_alarm(index, event, zone, max_picture_bytes, notes) for index, event in enumerate(events)]
    return Parsed(alarms=tuple(alarms), notes=tuple(notes))


def _alarm(index: int, event: Any, zone: str, max_picture_bytes: int, notes: list[str]) -> CameraAlarm:
    where = f"events[{index}]"
    if not isinstance(event, dict):
        raise MalformedPayload(f"{where}: expected an object")
    type_name = str(event.get("type") or "").strip().lower()
    if not type_name:
        raise MalformedPayload(f"{where}.type: missing")
    try:
        kind = Kind(type_name)
    except ValueError as err:
        raise UnknownEvent(f"{where}.type {type_name!r} is not one of {', '.join(k.value for k in Kind)}") from err
    if kind is Kind.OFFLINE:
        raise UnknownEvent(f"{where}.type offline: Gridline finds offline cameras itself")
    state = STATES.get(str(event.get("state") or "start").strip().lower())
    if state is None:
        raise MalformedPayload(f"{where}.state: expected start, stop or pulse")
    camera = event.get("camera")
    if not isinstance(camera, dict) or not any(camera.get(key) for key in ("code", "mac", "serial", "ip")):
        raise MalformedPayload(f"{where}.camera: needs code, mac, serial or ip")
    alarm_notes = list(notes)
    source_time, time_note = parse_time(event.get("time"), zone)
    if time_note:
        alarm_notes.append(time_note)
    pictures = []
    for number, picture in enumerate(event.get("pictures") or []):
        if not isinstance(picture, dict):
            raise MalformedPayload(f"{where}.pictures[{number}]: expected an object")
        name = str(picture.get("name") or f"picture-{number + 1}.jpg")[:255]
        content_type = str(picture.get("content_type") or "image/jpeg")[:128]
        if picture.get("url"):
            url = str(picture["url"])
            if not url.startswith(("https://", "http://")):
                raise MalformedPayload(f"{where}.pictures[{number}].url: not an http(s) URL")
            pictures.append(Picture(name=name, content_type=content_type, url=url))
            continue
        try:
            data = base64.b64decode(str(picture.get("data") or ""), validate=True)
        except (binascii.Error, ValueError) as err:
            raise MalformedPayload(f"{where}.pictures[{number}].data: not base64") from err
        if not data:
            raise MalformedPayload(f"{where}.pictures[{number}]: needs data or url")
        if len(data) > max_picture_bytes:
            alarm_notes.append(f"picture {name} is {len(data)} bytes, over the {max_picture_bytes}-byte limit")
            continue
        pictures.append(Picture(name=name, content_type=content_type, data=data))
    return CameraAlarm(
        vendor=VENDOR,
        event_type=type_name,
        kind=kind,
        state=state,
        channel=to_int(camera.get("channel")),
        mac=normalize_mac(str(camera.get("mac") or "")),
        serial=str(camera.get("serial") or "").strip() or None,
        ip=str(camera.get("ip") or "").strip() or None,
        source_name=str(camera.get("code") or "").strip() or None,
        rule=str(event.get("rule") or "").strip()[:64],
        post_count=to_int(event.get("count")),
        source_time=source_time,
        description=str(event.get("description") or "").strip()[:500],
        pictures=tuple(pictures),
        notes=tuple(alarm_notes),
        event_id=str(event.get("id") or "").strip()[:128] or None,
    )
