"""Frigate NVR events from MQTT (``<prefix>/events``) → :class:`CameraAlarm`.

Pure parsing, no broker, database or network. Frigate publishes one JSON message per change of a
tracked object: ``{"type": "new" | "update" | "end", "before": {...}, "after": {...}}``, the object
with its ``id``, ``camera``, ``label``, ``start_time``/``end_time`` (epoch seconds), zones and scores.
``new`` is the first true positive, ``update`` a better snapshot or a zone change, ``end`` the last.
"""

from __future__ import annotations

from typing import Any

from channels.camera.alarm import CameraAlarm, Kind, Parsed, Picture, State
from channels.camera.decoding import parse_json
from channels.camera.times import parse_time
from channels.errors import MalformedPayload, UnknownEvent

VENDOR = "frigate"
STATES = {"new": State.ACTIVE, "update": State.ACTIVE, "end": State.INACTIVE}
#: Frigate labels (its COCO model plus the Frigate+ ones) → our kind; other labels are plain objects.
LABELS: dict[str, Kind] = {
    "person": Kind.INTRUSION,
    "fire": Kind.SMOKE_FIRE,
    "smoke": Kind.SMOKE_FIRE,
    "garbage": Kind.GARBAGE,
    "waste_bin": Kind.GARBAGE,
}


def parse(raw: bytes, *, zone: str, frigate_url: str = "") -> Parsed:
    """Read one ``frigate/events`` message; raise MalformedPayload / UnknownEvent naming the problem."""
    document, notes = parse_json(raw)
    if not isinstance(document, dict):
        raise MalformedPayload("event: expected a JSON object")
    kind_of_message = str(document.get("type") or "")
    state = STATES.get(kind_of_message)
    if state is None:
        raise UnknownEvent(f"type {kind_of_message!r}: expected new, update or end")
    candidates = [document.get(side) for side in ("after", "before")]
    event: dict[str, Any] | None = next((side for side in candidates if isinstance(side, dict)), None)
    if event is None:
        raise MalformedPayload("event: neither 'after' nor 'before' is an object")
    for key in ("id", "camera", "label"):
        if not isinstance(event.get(key), str) or not event[key].strip():
            raise MalformedPayload(f"after.{key}: missing")
    label = event["label"].strip()
    when = event.get("end_time") if state is State.INACTIVE else event.get("frame_time") or event.get("start_time")
    source_time, time_note = parse_time(when, zone)
    notes = [*notes, *([time_note] if time_note else [])]
    zones = [str(name) for name in (event.get("entered_zones") or []) if isinstance(name, str)]
    pictures: tuple[Picture, ...] = ()
    if frigate_url and event.get("has_snapshot"):
        pictures = (Picture(name=f"{event['id']}.jpg", url=f"{frigate_url}/api/events/{event['id']}/snapshot.jpg"),)
    extra = {
        "type": kind_of_message,
        "zones": zones,
        "score": event.get("top_score") or event.get("score"),
        "sub_label": event.get("sub_label"),
        "stationary": event.get("stationary"),
    }
    alarm = CameraAlarm(
        vendor=VENDOR,
        event_type=f"{kind_of_message}:{label}",
        kind=LABELS.get(label, Kind.OBJECT),
        state=state,
        source_name=event["camera"].strip(),
        rule=label,
        source_time=source_time,
        description=(f"{label} in {', '.join(zones)}" if zones else label)[:200],
        pictures=pictures,
        notes=tuple(notes),
        event_id=event["id"].strip(),
        # Frigate publishes an object only once it is no longer a false positive; one still marked so
        # (an older Frigate, an update racing a re-score) is stored but opens nothing.
        ignore="Frigate marks it a false positive" if event.get("false_positive") else None,
        extra={key: value for key, value in extra.items() if value not in (None, "", [])},
    )
    return Parsed(alarms=(alarm,), notes=tuple(notes))


def topic_prefix(topic: str) -> str | None:
    """``frigate/events`` → ``frigate``; None for a topic that is not an events topic."""
    prefix, sep, last = topic.rpartition("/")
    return prefix if sep and last == "events" and prefix else None
