"""The cheap path every receiver ends in: one Redis round trip per request, then answer the camera.

A storm is 27,000 cameras resending an alarm every second; a database transaction per alarm would
be the bottleneck. Receivers (and the MQTT subscriber) append the request to a Redis stream — the
parsed alarms, their pictures and the raw body — and make sure one drain job is on its way
(:mod:`channels.camera.drain` stores the stream in batches, collapses repeats into incidents and
acknowledges each entry only after its transaction committed). The stream is the one buffer: an
entry stays in it (and in the consumer group's pending list) until it is stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from channels.camera.alarm import CameraAlarm, Kind, Parsed, Picture, State
from channels.camera.models import AlarmStatus
from intake.queue import QUEUE_INTAKE, enqueue
from intake.runtime import Runtime, get_runtime

log = logging.getLogger(__name__)

DRAIN_JOB = "channels.camera.drain.drain"
#: Seconds the drain wake-up flag lives; it only debounces, housekeeping covers a lost one.
WAKE_TTL_SECONDS = 60


def stream_key(runtime: Runtime) -> str:
    return runtime.key("camera", "alarms")


def wake_key(runtime: Runtime) -> str:
    return runtime.key("camera", "drain", "wake")


def accept(
    sender_id: int | None,
    vendor: str,
    parsed: Parsed,
    raw: bytes,
    content_type: str,
    received: float,
) -> None:
    """Append a parsed request; raises redis.RedisError when Redis cannot take it (answer 503)."""
    meta = _meta(sender_id, vendor, content_type, received)
    fields: dict[str, Any] = {}
    alarms = []
    for index, alarm in enumerate(parsed.alarms):
        encoded, pictures = _encode(alarm, index)
        alarms.append(encoded)
        fields.update(pictures)
    meta["a"] = alarms
    notes = [*parsed.notes, *(note for alarm in parsed.alarms for note in alarm.notes)]
    if notes:
        meta["st"] = AlarmStatus.REPAIRED
        meta["e"] = "; ".join(dict.fromkeys(notes))[:500]
    fields["m"] = json.dumps(meta, separators=(",", ":"), ensure_ascii=False)
    if any(alarm.kind is not Kind.HEARTBEAT for alarm in parsed.alarms):
        # Heartbeats are not alarms: their bodies are not kept (2,700 a second in a district this size).
        fields["r"] = raw
    _push(get_runtime(), fields)


def reject(
    sender_id: int | None, vendor: str, raw: bytes, content_type: str, received: float, status: str, reason: str
) -> None:
    """Keep a body that could not be read (or named an event we do not handle), with the reason."""
    meta = _meta(sender_id, vendor, content_type, received)
    meta.update({"st": status, "e": reason[:500], "a": []})
    _push(get_runtime(), {"m": json.dumps(meta, separators=(",", ":"), ensure_ascii=False), "r": raw})


def _meta(sender_id: int | None, vendor: str, content_type: str, received: float) -> dict[str, Any]:
    # One JSON field rather than one stream field each: every field is a reply element to parse again.
    return {"t": received, "s": sender_id, "v": vendor, "c": content_type[:128]}


def _push(runtime: Runtime, fields: dict[str, Any]) -> None:
    pipe = runtime.redis.pipeline(transaction=False)
    pipe.xadd(stream_key(runtime), fields)
    pipe.set(wake_key(runtime), 1, nx=True, ex=WAKE_TTL_SECONDS)
    _, woke = pipe.execute()
    if woke:
        enqueue(QUEUE_INTAKE, DRAIN_JOB)


def wake(runtime: Runtime | None = None) -> None:
    """Make sure a drain job is on its way (used when work is found waiting)."""
    runtime = runtime or get_runtime()
    if runtime.redis.set(wake_key(runtime), 1, nx=True, ex=WAKE_TTL_SECONDS):
        enqueue(QUEUE_INTAKE, DRAIN_JOB)


# --- the stream entry's encoding ----------------------------------------------------------------------
# Short keys: the entry is written once per alarm of a storm and read back once.


def _encode(alarm: CameraAlarm, index: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    pictures: list[dict[str, Any]] = []
    blobs: dict[str, bytes] = {}
    for number, picture in enumerate(alarm.pictures):
        meta: dict[str, Any] = {"n": picture.name, "ct": picture.content_type}
        if picture.data is not None:
            field = f"p{index}.{number}"
            blobs[field] = picture.data
            meta["f"] = field
        if picture.url:
            meta["u"] = picture.url
        pictures.append(meta)
    encoded: dict[str, Any] = {"k": alarm.kind.value, "s": alarm.state.value, "e": alarm.event_type}
    optional = {
        "ch": alarm.channel,
        "mac": alarm.mac,
        "ser": alarm.serial,
        "ip": alarm.ip,
        "n": alarm.source_name,
        "r": alarm.rule,
        "pc": alarm.post_count,
        "t": alarm.source_time.timestamp() if alarm.source_time else None,
        "d": alarm.description,
        "id": alarm.event_id,
        "ig": alarm.ignore,
        "x": alarm.extra,
        "p": pictures,
    }
    encoded.update({key: value for key, value in optional.items() if value not in (None, "", [], {})})
    return encoded, blobs


def decode(vendor: str, items: Iterable[dict[str, Any]], fields: dict[bytes, bytes]) -> list[CameraAlarm]:
    """The alarms of a stream entry (its ``a`` list, pictures from the entry's other fields)."""
    alarms = []
    for item in items:
        pictures = tuple(
            Picture(
                name=meta.get("n", ""),
                content_type=meta.get("ct", "image/jpeg"),
                data=fields.get(meta["f"].encode()) if meta.get("f") else None,
                url=meta.get("u"),
            )
            for meta in item.get("p", ())
        )
        alarms.append(
            CameraAlarm(
                vendor=vendor,
                event_type=item.get("e", ""),
                kind=Kind(item["k"]),
                state=State(item["s"]),
                channel=item.get("ch"),
                mac=item.get("mac"),
                serial=item.get("ser"),
                ip=item.get("ip"),
                source_name=item.get("n"),
                rule=item.get("r", ""),
                post_count=item.get("pc"),
                source_time=datetime.fromtimestamp(item["t"], UTC) if item.get("t") is not None else None,
                description=item.get("d", ""),
                pictures=pictures,
                event_id=item.get("id"),
                ignore=item.get("ig"),
                extra=item.get("x", {}),
            )
        )
    return alarms
