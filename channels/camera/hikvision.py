"""Hikvision ISAPI alarm push (HTTP listening / "alarm server") → :class:`CameraAlarm`.

Pure parsing, no database or network. A camera or NVR posts one ``EventNotificationAlert`` per request:

* XML in the namespace of its firmware (``http://www.hikvision.com/ver20/XMLSchema``,
  ``http://www.isapi.org/ver20/XMLSchema``, ``http://www.std-cgi.com/ver20/XMLSchema``, an NVR's
  ``urn:psialliance-org``) or none at all;
* JSON (``parameterFormatType`` JSON), bare or wrapped in ``{"EventNotificationAlert": {...}}``;
* ``multipart/form-data`` (or ``multipart/mixed``): the event as an XML or JSON part followed by JPEG
  parts (``detectionPictureTransType`` binary).

An active alarm is resent every second with a rising ``activePostCount``; ``videoloss`` with
``inactive`` and ``heartBeat`` are the devices' heartbeats.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from channels.camera import multipart
from channels.camera.alarm import CameraAlarm, Kind, Parsed, Picture, State, normalize_mac, to_int
from channels.camera.decoding import children, find_locals, parse_json, parse_xml, text_of
from channels.camera.times import parse_time
from channels.errors import MalformedPayload, UnknownEvent

VENDOR = "hikvision"
ROOT = "EventNotificationAlert"

#: ISAPI ``eventType`` (lower-cased) → our kind. ``duration`` carries the real type in relationEvent.
KINDS: dict[str, Kind] = {
    "vmd": Kind.MOTION,
    "motiondetection": Kind.MOTION,
    "fielddetection": Kind.INTRUSION,
    "regionentrance": Kind.INTRUSION,
    "regionexiting": Kind.INTRUSION,
    "linedetection": Kind.LINE_CROSSING,
    "loitering": Kind.LOITERING,
    "parking": Kind.ILLEGAL_PARKING,
    "illegalparking": Kind.ILLEGAL_PARKING,
    "group": Kind.CROWD,
    "peoplegathering": Kind.CROWD,
    "shelteralarm": Kind.TAMPER,
    "tamperdetection": Kind.TAMPER,
    "scenechangedetection": Kind.TAMPER,
    "defocus": Kind.TAMPER,
    "firedetection": Kind.SMOKE_FIRE,
    "smokedetection": Kind.SMOKE_FIRE,
    "fireandsmokedetection": Kind.SMOKE_FIRE,
    "unattendedbaggage": Kind.ABANDONED_OBJECT,
    "attendedbaggage": Kind.ABANDONED_OBJECT,
    "io": Kind.ALARM_INPUT,
    "videoloss": Kind.VIDEO_LOSS,
    "heartbeat": Kind.HEARTBEAT,
}
#: Elements read below the top level: the first region, a duration's real type, an NVR's serial number.
_NESTED = frozenset({"DetectionRegionEntry", "relationEvent", "serialNumber"})
_EVENT_PARTS = ("application/xml", "text/xml", "application/json", "text/json", "text/plain")


def parse(raw: bytes, content_type: str, *, zone: str, max_picture_bytes: int) -> Parsed:
    """Read one push; raise MalformedPayload / UnknownEvent naming the problem."""
    mimetype, charset = _mimetype(content_type)
    if not raw.strip():
        raise MalformedPayload("empty body")
    if mimetype.startswith("multipart/"):
        return _multipart(raw, content_type, zone=zone, max_picture_bytes=max_picture_bytes)
    if "json" in mimetype or raw.lstrip()[:1] in (b"{", b"["):
        document, notes = parse_json(raw, charset)
        return _from_json(document, notes, zone, ())
    if "xml" in mimetype or mimetype in ("text/plain", "", "application/octet-stream") or raw.lstrip()[:1] == b"<":
        root, notes = parse_xml(raw, charset)
        return _from_xml(root, notes, zone, ())
    raise MalformedPayload(f"Content-Type {mimetype!r}: expected XML, JSON or multipart")


def _mimetype(content_type: str) -> tuple[str, str | None]:
    mimetype, _, params = (content_type or "").partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"')
    return mimetype.strip().lower(), charset


def _multipart(raw: bytes, content_type: str, *, zone: str, max_picture_bytes: int) -> Parsed:
    parts, notes = multipart.split(raw, multipart.boundary_of(content_type, raw))
    event: multipart.Part | None = None
    pictures: list[Picture] = []
    for part in parts:
        if part.content_type.startswith("image/"):
            if len(part.body) > max_picture_bytes:
                notes.append(
                    f"picture {part.filename or 'unnamed'} is {len(part.body)} bytes, over the "
                    f"{max_picture_bytes}-byte limit: kept in the raw alarm only"
                )
                continue
            name = part.filename or "picture.jpg"
            pictures.append(Picture(name=name, content_type=part.content_type, data=part.body))
        elif event is None and (part.content_type in _EVENT_PARTS or part.body.lstrip()[:1] in (b"<", b"{")):
            event = part
    if event is None:
        raise MalformedPayload("multipart body: no XML or JSON event part")
    _, charset = _mimetype(event.headers.get("content-type", ""))
    if "json" in event.content_type or event.body.lstrip()[:1] == b"{":
        document, more = parse_json(event.body, charset)
        return _from_json(document, [*notes, *more], zone, tuple(pictures))
    root, more = parse_xml(event.body, charset)
    return _from_xml(root, [*notes, *more], zone, tuple(pictures))


def _from_xml(root: ET.Element, notes: list[str], zone: str, pictures: tuple[Picture, ...]) -> Parsed:
    name = root.tag.rsplit("}", 1)[-1]
    if name != ROOT:
        raise MalformedPayload(f"root element is <{name}>, not <{ROOT}>")
    fields = children(root)
    values = {key: text_of(element) for key, element in fields.items()}
    nested = find_locals(root, _NESTED)
    region = nested.get("DetectionRegionEntry")
    region_fields = children(region) if region is not None else {}
    document: dict[str, Any] = {
        **values,
        "serialNumber": text_of(nested.get("serialNumber")),
        "relationEvent": text_of(nested.get("relationEvent")),
        "regionID": text_of(region_fields.get("regionID")),
        "detectionTarget": text_of(region_fields.get("detectionTarget")),
        "namespace": root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else "",
    }
    return _alarm(document, notes, zone, pictures)


def _from_json(document: Any, notes: list[str], zone: str, pictures: tuple[Picture, ...]) -> Parsed:
    if isinstance(document, dict) and isinstance(document.get(ROOT), dict):
        document = document[ROOT]
    if not isinstance(document, dict):
        raise MalformedPayload(f"JSON body: expected an {ROOT} object")
    flat: dict[str, Any] = {key: value for key, value in document.items() if not isinstance(value, dict | list)}
    regions = document.get("DetectionRegionList")
    entry: Any = None
    if isinstance(regions, dict):
        entry = regions.get("DetectionRegionEntry", regions)
    elif isinstance(regions, list) and regions:
        entry = regions[0].get("DetectionRegionEntry", regions[0]) if isinstance(regions[0], dict) else None
    if isinstance(entry, list):
        entry = entry[0] if entry else None
    if isinstance(entry, dict):
        flat["regionID"] = entry.get("regionID", "")
        flat["detectionTarget"] = entry.get("detectionTarget", "")
    durations = document.get("DurationList")
    if isinstance(durations, dict):
        duration = durations.get("Duration")
        duration = duration[0] if isinstance(duration, list) and duration else duration
        if isinstance(duration, dict):
            flat["relationEvent"] = duration.get("relationEvent", "")
    return _alarm(flat, notes, zone, pictures)


def _alarm(doc: dict[str, Any], notes: list[str], zone: str, pictures: tuple[Picture, ...]) -> Parsed:
    event_type = str(doc.get("eventType") or "").strip()
    if not event_type:
        raise MalformedPayload("eventType: missing")
    effective = event_type
    if event_type.lower() == "duration" and doc.get("relationEvent"):
        effective = str(doc["relationEvent"]).strip()
    kind = KINDS.get(effective.lower())
    if kind is None:
        raise UnknownEvent(f"eventType {event_type!r} is not a camera alarm Gridline handles")
    state_text = str(doc.get("eventState") or "active").strip().lower()
    if state_text not in ("active", "inactive"):
        raise MalformedPayload(f"eventState {state_text!r}: expected active or inactive")
    state = State.ACTIVE if state_text == "active" else State.INACTIVE
    if kind is Kind.VIDEO_LOSS and state is State.INACTIVE:
        # "No video loss" every few seconds is how Hikvision devices say they are alive.
        kind = Kind.HEARTBEAT
    notes = list(notes)
    post_count = to_int(doc.get("activePostCount"))
    if post_count is None and "activePostCount" in doc:
        notes.append("activePostCount empty or not a number")
    source_time, time_note = parse_time(doc.get("dateTime"), zone)
    if time_note:
        notes.append(time_note)
    channel = to_int(doc.get("channelID")) or to_int(doc.get("dynChannelID"))
    pictures = list(pictures)
    for key in ("bkgUrl", "detectionPictureURL", "pictureURL"):
        url = str(doc.get(key) or "").strip()
        if url.startswith(("http://", "https://")):
            pictures.append(Picture(name=f"{key}.jpg", url=url))
    extra = {
        key: doc[key]
        for key in ("detectionTarget", "channelName", "namespace", "inputIOPortID", "UUID", "uuid")
        if doc.get(key) not in (None, "")
    }
    alarm = CameraAlarm(
        vendor=VENDOR,
        event_type=effective,
        kind=kind,
        state=state,
        channel=channel,
        mac=normalize_mac(str(doc.get("macAddress") or "")),
        serial=str(doc.get("serialNumber") or "").strip() or None,
        ip=str(doc.get("ipAddress") or "").strip() or None,
        rule=str(doc.get("regionID") or doc.get("inputIOPortID") or "").strip(),
        post_count=post_count,
        source_time=source_time,
        description=str(doc.get("eventDescription") or "").strip()[:200],
        pictures=tuple(pictures),
        notes=tuple(notes),
        event_id=str(doc.get("UUID") or doc.get("uuid") or "").strip() or None,
        extra=extra,
    )
    return Parsed(alarms=(alarm,), notes=tuple(notes))
