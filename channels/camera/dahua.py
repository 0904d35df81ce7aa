"""Dahua event messages → :class:`CameraAlarm`.

Pure parsing, no database or network. Dahua devices report events as the lines of their event manager
(``/cgi-bin/eventManager.cgi?action=attach``; the same lines are what a Dahua "HTTP upload" or a relay
posts here)::

    Code=CrossLineDetection;action=Start;index=0;data={ ...JSON, may span lines... }
    Code=VideoMotion;action=Stop;index=1
    Heartbeat

either as ``text/plain`` (one or more events) or as the stream's own ``multipart/x-mixed-replace;
boundary=myboundary`` parts, where a rich event may be followed by its ``image/jpeg`` snapshot.
``index`` counts channels from 0; Gridline's channels count from 1 like the devices' web pages.
"""

from __future__ import annotations

import json
import re
from typing import Any

from channels.camera import multipart
from channels.camera.alarm import CameraAlarm, Kind, Parsed, Picture, State, to_int
from channels.camera.decoding import decode_text
from channels.camera.times import parse_time
from channels.errors import MalformedPayload, UnknownEvent

VENDOR = "dahua"
HEARTBEAT = "Heartbeat"

#: Dahua event codes (DHIIF) → our kind.
KINDS: dict[str, Kind] = {
    "VideoMotion": Kind.MOTION,
    "SmartMotionHuman": Kind.INTRUSION,
    "SmartMotionVehicle": Kind.MOTION,
    "CrossLineDetection": Kind.LINE_CROSSING,
    "CrossRegionDetection": Kind.INTRUSION,
    "ParkingDetection": Kind.ILLEGAL_PARKING,
    "RioterDetection": Kind.CROWD,
    "WanderDetection": Kind.LOITERING,
    "LeftDetection": Kind.ABANDONED_OBJECT,
    "TakenAwayDetection": Kind.ABANDONED_OBJECT,
    "VideoBlind": Kind.TAMPER,
    "VideoAbnormalDetection": Kind.TAMPER,
    "VideoUnFocus": Kind.TAMPER,
    "FireWarning": Kind.SMOKE_FIRE,
    "FireDetection": Kind.SMOKE_FIRE,
    "SmokeDetection": Kind.SMOKE_FIRE,
    "AlarmLocal": Kind.ALARM_INPUT,
    "VideoLoss": Kind.VIDEO_LOSS,
}
ACTIONS = {"start": State.ACTIVE, "stop": State.INACTIVE, "pulse": State.PULSE}
#: Where an event starts inside a text body: "Code=" or a bare "Heartbeat" at the start of a line.
_RECORD = re.compile(r"(?m)^[ \t]*(?=Code=|Heartbeat\b)")


def parse(raw: bytes, content_type: str, *, zone: str, max_picture_bytes: int) -> Parsed:
    """Read one post of event lines; raise MalformedPayload / UnknownEvent naming the problem."""
    if not raw.strip():
        raise MalformedPayload("empty body")
    notes: list[str] = []
    records: list[tuple[str, list[Picture]]] = []
    if content_type.lower().startswith("multipart/") or raw.lstrip().startswith(b"--"):
        parts, notes = multipart.split(raw, multipart.boundary_of(content_type, raw), stream=True)
        for part in parts:
            if part.content_type.startswith("image/"):
                if not records:
                    notes.append("picture before any event dropped")
                elif len(part.body) > max_picture_bytes:
                    notes.append(f"picture of {len(part.body)} bytes over the {max_picture_bytes}-byte limit")
                else:
                    records[-1][1].append(Picture(name=part.filename or "snapshot.jpg", data=part.body))
                continue
            text, more = decode_text(part.body, None)
            notes += more
            records += [(record, []) for record in _records(text)]
    else:
        text, notes = decode_text(raw, None)
        records = [(record, []) for record in _records(text)]
    if not records:
        raise MalformedPayload("no 'Code=...;action=...;index=...' event line and no Heartbeat")
    alarms: list[CameraAlarm] = []
    unknown: list[str] = []
    for record, pictures in records:
        alarm = _alarm(record, zone, notes, tuple(pictures))
        if alarm is None:
            unknown.append(record.split(";", 1)[0].removeprefix("Code="))
        else:
            alarms.append(alarm)
    if not alarms:
        raise UnknownEvent(f"event code(s) {', '.join(sorted(set(unknown)))} not handled by Gridline")
    if unknown:
        notes.append(f"skipped event code(s) not handled: {', '.join(sorted(set(unknown)))}")
    return Parsed(alarms=tuple(alarms), notes=tuple(notes))


def _records(text: str) -> list[str]:
    starts = [match.start() for match in _RECORD.finditer(text)]
    if not starts:
        return []
    ends = [*starts[1:], len(text)]
    return [text[start:end].strip() for start, end in zip(starts, ends, strict=True)]


def _alarm(record: str, zone: str, notes: list[str], pictures: tuple[Picture, ...]) -> CameraAlarm | None:
    if record.startswith(HEARTBEAT):
        return CameraAlarm(vendor=VENDOR, event_type=HEARTBEAT, kind=Kind.HEARTBEAT, state=State.PULSE)
    head, _, data_text = record.partition(";data=")
    fields: dict[str, str] = {}
    for item in head.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    code = fields.get("Code", "")
    if not code:
        raise MalformedPayload(f"event line without a code: {record[:60]!r}")
    action = ACTIONS.get(fields.get("action", "").lower())
    if action is None:
        raise MalformedPayload(f"{code}: action {fields.get('action')!r}, expected Start, Stop or Pulse")
    kind = KINDS.get(code)
    if kind is None:
        return None
    data: dict[str, Any] = {}
    alarm_notes = list(notes)
    if data_text.strip():
        try:
            loaded = json.loads(data_text)
            data = loaded if isinstance(loaded, dict) else {}
        except json.JSONDecodeError as err:
            alarm_notes.append(f"{code} data is not JSON ({err.msg}); kept raw only")
    index = to_int(fields.get("index"))
    source_time, time_note = None, None
    if data.get("UTC") not in (None, 0, 0.0):
        source_time, time_note = parse_time(data.get("UTC"), zone)
    elif data.get("LocaleTime"):
        source_time, time_note = parse_time(data.get("LocaleTime"), zone)
    if time_note:
        alarm_notes.append(time_note)
    obj = data.get("Object") if isinstance(data.get("Object"), dict) else {}
    extra = {
        key: value
        for key, value in {
            "direction": data.get("Direction"),
            "object_type": obj.get("ObjectType") if obj else None,
            "rule_id": data.get("RuleId"),
        }.items()
        if value not in (None, "")
    }
    return CameraAlarm(
        vendor=VENDOR,
        event_type=code,
        kind=kind,
        state=action,
        channel=index + 1 if index is not None else None,
        rule=str(data.get("Name") or data.get("RuleId") or "").strip(),
        source_time=source_time,
        description=str(data.get("Name") or "").strip()[:200],
        pictures=pictures,
        notes=tuple(alarm_notes),
        extra=extra,
    )
