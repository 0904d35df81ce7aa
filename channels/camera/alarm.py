"""What every camera adapter produces: a normalized alarm, whatever the vendor said.

Adapters (``hikvision``, ``dahua``, ``onvif``, ``frigate``, ``generic``) turn a sender's payload into
:class:`CameraAlarm` values; the rest of the channel (storm collapsing, liveness, cases) never looks at a
vendor format again. The vendor's own event code is kept in ``event_type``; ``kind`` is ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a camera saw, in the district's terms. ``heartbeat`` only keeps a camera alive."""

    INTRUSION = "intrusion"
    LINE_CROSSING = "line_crossing"
    ILLEGAL_PARKING = "illegal_parking"
    GARBAGE = "garbage"
    STREET_VENDING = "street_vending"
    SMOKE_FIRE = "smoke_fire"
    CROWD = "crowd"
    TAMPER = "tamper"
    LOITERING = "loitering"
    ABANDONED_OBJECT = "abandoned_object"
    MOTION = "motion"
    VIDEO_LOSS = "video_loss"
    ALARM_INPUT = "alarm_input"
    OBJECT = "object"
    HEARTBEAT = "heartbeat"
    OFFLINE = "offline"


class State(StrEnum):
    ACTIVE = "active"  # the condition holds (Hikvision active, Dahua Start, ONVIF true, Frigate new/update)
    INACTIVE = "inactive"  # it stopped (Hikvision inactive, Dahua Stop, ONVIF false, Frigate end)
    PULSE = "pulse"  # a one-off event with no duration (Dahua Pulse, ONVIF line crossed)


#: The taxonomy's category (intake/categories.yaml) a kind proposes; agents correct it when it is wrong.
CATEGORY: dict[Kind, str] = {
    Kind.ILLEGAL_PARKING: "illegal-parking",
    Kind.GARBAGE: "garbage",
    Kind.STREET_VENDING: "street-vending",
}

#: Case priority per kind (1 urgent … 4 low): fire first, people at risk next, the rest normal.
PRIORITY: dict[Kind, int] = {
    Kind.SMOKE_FIRE: 1,
    Kind.CROWD: 2,
    Kind.INTRUSION: 2,
    Kind.OFFLINE: 4,
    Kind.MOTION: 4,
}

#: How a case names a kind (the agents read Chinese first).
LABEL: dict[Kind, dict[str, str]] = {
    Kind.INTRUSION: {"zh": "区域入侵", "en": "Intrusion"},
    Kind.LINE_CROSSING: {"zh": "越线", "en": "Line crossing"},
    Kind.ILLEGAL_PARKING: {"zh": "违章停车", "en": "Illegal parking"},
    Kind.GARBAGE: {"zh": "暴露垃圾", "en": "Exposed garbage"},
    Kind.STREET_VENDING: {"zh": "占道经营", "en": "Street vending"},
    Kind.SMOKE_FIRE: {"zh": "烟火", "en": "Smoke or fire"},
    Kind.CROWD: {"zh": "人员聚集", "en": "Crowd"},
    Kind.TAMPER: {"zh": "视频遮挡/异常", "en": "Camera tampering"},
    Kind.LOITERING: {"zh": "徘徊", "en": "Loitering"},
    Kind.ABANDONED_OBJECT: {"zh": "物品遗留/拿取", "en": "Abandoned or removed object"},
    Kind.MOTION: {"zh": "移动侦测", "en": "Motion"},
    Kind.VIDEO_LOSS: {"zh": "视频丢失", "en": "Video loss"},
    Kind.ALARM_INPUT: {"zh": "报警输入", "en": "Alarm input"},
    Kind.OBJECT: {"zh": "目标检测", "en": "Object detected"},
    Kind.HEARTBEAT: {"zh": "心跳", "en": "Heartbeat"},
    Kind.OFFLINE: {"zh": "摄像机离线", "en": "Camera offline"},
}


@dataclass(frozen=True, slots=True)
class Picture:
    """A picture sent with an alarm: its bytes, or (Hikvision ``bkgUrl``, Frigate) where to fetch it."""

    name: str
    content_type: str = "image/jpeg"
    data: bytes | None = None
    url: str | None = None


@dataclass(slots=True)
class CameraAlarm:
    vendor: str
    #: The vendor's own code: ``fielddetection``, ``CrossLineDetection``, ``RuleEngine/LineDetector/Crossed``.
    event_type: str
    kind: Kind
    state: State
    #: The channel on the sending device (an NVR's input, a camera's sensor); None when not said.
    channel: int | None = None
    #: The sending device as the payload names it (normalized: lower-case MAC with colons).
    mac: str | None = None
    serial: str | None = None
    ip: str | None = None
    #: A name the sender gives the camera (Frigate's camera, a generic sender's camera code).
    source_name: str | None = None
    #: The rule or region the alarm belongs to (Hikvision regionID, Dahua rule name, ONVIF Rule).
    rule: str = ""
    #: How often the camera has sent this alarm (Hikvision activePostCount); None when not said.
    post_count: int | None = None
    #: The camera's own time, when it gave a usable one (always timezone-aware).
    source_time: datetime | None = None
    description: str = ""
    pictures: tuple[Picture, ...] = ()
    #: What was repaired or assumed while reading it ("bare & escaped", "no UTC offset: ...").
    notes: tuple[str, ...] = ()
    #: The sender's id for this event, when it has one (Frigate's event id, a generic event_id).
    event_id: str | None = None
    #: Stored but opens nothing (a Frigate false positive); the reason.
    ignore: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Parsed:
    """One request's alarms (a Dahua post or an ONVIF Notify may carry several) and what was repaired."""

    alarms: tuple[CameraAlarm, ...]
    notes: tuple[str, ...] = ()


def normalize_mac(value: str | None) -> str | None:
    """``AC-B9-2F-49-44-75`` / ``acb92f494475`` → ``ac:b9:2f:49:44:75``; None when it is not a MAC."""
    if not value:
        return None
    digits = "".join(char for char in value.lower() if char in "0123456789abcdef")
    if len(digits) != 12 or digits == "000000000000":
        return None
    return ":".join(digits[index : index + 2] for index in range(0, 12, 2))


def to_int(value: object) -> int | None:
    """An integer from a payload field that may be missing, empty (``<activePostCount/>``) or junk."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if not text or not text.lstrip("-").isdigit():
        return None
    return int(text)
