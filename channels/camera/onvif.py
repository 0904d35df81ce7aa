"""ONVIF event notifications (WS-BaseNotification ``Notify``, SOAP 1.2 or 1.1) → :class:`CameraAlarm`.

Pure parsing, no database or network. A device whose subscription names our consumer address posts::

    <Envelope><Body><wsnt:Notify>
      <wsnt:NotificationMessage>
        <wsnt:Topic Dialect="...ConcreteSet">tns1:RuleEngine/FieldDetector/ObjectsInside</wsnt:Topic>
        <wsnt:Message><tt:Message UtcTime="..." PropertyOperation="Changed">
          <tt:Source><tt:SimpleItem Name="Rule" Value="MyFieldDetector1"/></tt:Source>
          <tt:Data><tt:SimpleItem Name="IsInside" Value="true"/></tt:Data>
        </tt:Message></wsnt:Message>
      </wsnt:NotificationMessage> ...
    </wsnt:Notify></Body></Envelope>

A Notify may hold several messages; a holder may hold several ``tt:Message`` (ONVIF Core 9.4).
Device telemetry topics (``Monitoring/...``) only say the device is alive.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from channels.camera.alarm import CameraAlarm, Kind, Parsed, State, to_int
from channels.camera.decoding import local, parse_xml
from channels.camera.times import parse_time
from channels.errors import MalformedPayload, UnknownEvent

VENDOR = "onvif"

#: Topic (without its namespace prefix) → our kind. Matched on the start, so vendor sub-topics fit.
TOPICS: tuple[tuple[str, Kind], ...] = (
    ("RuleEngine/CellMotionDetector/Motion", Kind.MOTION),
    ("RuleEngine/MotionRegionDetector/Motion", Kind.MOTION),
    ("VideoSource/MotionAlarm", Kind.MOTION),
    ("RuleEngine/FieldDetector/ObjectsInside", Kind.INTRUSION),
    ("RuleEngine/LineDetector/Crossed", Kind.LINE_CROSSING),
    ("RuleEngine/LoiteringDetector", Kind.LOITERING),
    ("RuleEngine/TamperDetector/Tamper", Kind.TAMPER),
    ("VideoSource/GlobalSceneChange", Kind.TAMPER),
    ("VideoSource/ImageTooBlurry", Kind.TAMPER),
    ("VideoSource/ImageTooDark", Kind.TAMPER),
    ("VideoSource/ImageTooBright", Kind.TAMPER),
    ("VideoSource/SignalLoss", Kind.VIDEO_LOSS),
    ("RuleEngine/FireDetector", Kind.SMOKE_FIRE),
    ("Device/Trigger/DigitalInput", Kind.ALARM_INPUT),
    ("Monitoring/", Kind.HEARTBEAT),
)
#: Data items whose boolean value is the state; the first one present wins.
STATE_ITEMS = ("IsMotion", "IsInside", "IsTamper", "IsFireAlarm", "State", "LogicalState", "Value")
_TRAILING_NUMBER = re.compile(r"(\d+)$")


def parse(raw: bytes, content_type: str, *, zone: str, max_picture_bytes: int) -> Parsed:
    """Read one Notify; raise MalformedPayload / UnknownEvent naming the problem."""
    root, notes = parse_xml(raw, None)
    if local(root.tag) != "Envelope":
        raise MalformedPayload(f"root element is <{local(root.tag)}>, not a SOAP <Envelope>")
    holders = [node for node in root.iter() if local(node.tag) == "NotificationMessage"]
    if not holders:
        raise MalformedPayload("SOAP body holds no wsnt:NotificationMessage")
    alarms: list[CameraAlarm] = []
    unknown: list[str] = []
    for holder in holders:
        topic = _topic(holder)
        if not topic:
            raise MalformedPayload("wsnt:NotificationMessage without a wsnt:Topic")
        kind = next((kind for prefix, kind in TOPICS if topic.startswith(prefix)), None)
        messages = [node for node in holder.iter() if local(node.tag) == "Message" and "UtcTime" in node.attrib]
        if not messages:
            messages = [node for node in holder.iter() if local(node.tag) == "Message" and node is not holder][-1:]
        if kind is None:
            unknown.append(topic)
            continue
        alarms += [_alarm(topic, kind, message, zone, notes) for message in messages]
    if not alarms:
        raise UnknownEvent(f"topic(s) {', '.join(sorted(set(unknown)))} not handled by Gridline")
    if unknown:
        notes.append(f"skipped topic(s) not handled: {', '.join(sorted(set(unknown)))}")
    return Parsed(alarms=tuple(alarms), notes=tuple(notes))


def _topic(holder: ET.Element) -> str:
    for node in holder:
        if local(node.tag) == "Topic":
            text = " ".join((node.text or "").split())
            # "tns1:RuleEngine/..." → "RuleEngine/...": the prefix is whatever the device declared.
            return re.sub(r"(^|/)[A-Za-z0-9_-]+:", r"\1", text)
    return ""


def _items(message: ET.Element, section: str) -> dict[str, str]:
    items: dict[str, str] = {}
    for node in message:
        if local(node.tag) == section:
            for item in node:
                if local(item.tag) == "SimpleItem" and "Name" in item.attrib:
                    items[item.attrib["Name"]] = item.attrib.get("Value", "")
    return items


def _alarm(topic: str, kind: Kind, message: ET.Element, zone: str, notes: list[str]) -> CameraAlarm:
    source = _items(message, "Source")
    key = _items(message, "Key")
    data = _items(message, "Data")
    operation = message.attrib.get("PropertyOperation", "")
    state = State.PULSE
    for name in STATE_ITEMS:
        if name in data:
            value = data[name].strip().lower()
            if value in ("true", "1", "active"):
                state = State.ACTIVE
            elif value in ("false", "0", "inactive"):
                state = State.INACTIVE
            break
    if operation == "Deleted":
        state = State.INACTIVE
    if kind is Kind.HEARTBEAT:
        state = State.PULSE
    alarm_notes = list(notes)
    source_time, time_note = parse_time(message.attrib.get("UtcTime"), zone)
    if time_note:
        alarm_notes.append(time_note)
    token = (
        source.get("VideoSourceConfigurationToken")
        or source.get("VideoSourceToken")
        or source.get("VideoSource")
        or source.get("Source")
        or source.get("InputToken")
        or ""
    )
    number = _TRAILING_NUMBER.search(token)
    return CameraAlarm(
        vendor=VENDOR,
        event_type=topic,
        kind=kind,
        state=state,
        channel=to_int(number.group(1)) if number else None,
        rule=source.get("Rule") or key.get("Rule") or "",
        source_time=source_time,
        notes=tuple(alarm_notes),
        extra={
            key_name: value
            for key_name, value in {
                "operation": operation,
                "source_token": token,
                "object_id": data.get("ObjectId") or key.get("ObjectId"),
            }.items()
            if value
        },
    )
