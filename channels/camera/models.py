"""Stored model of camera alarms: senders, the camera registry, raw alarms and incidents.

Tables are created by migration ``0005``. Raw alarms are the bulk (a storm writes tens of thousands a
second): one narrow row each, written in batches by the drainer (COPY on PostgreSQL), never updated.
Incidents are few: one per camera, rule and ongoing problem; only incidents become cases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from intake.models import Base, BigId, partial_index, utcnow


class SenderAuth:
    """How a sender proves who it is (``CameraSender.auth``)."""

    HTTP = "http"  # HTTP Basic or Digest against ha1 (Hikvision, Dahua)
    TOKEN = "token"  # a secret token in the consumer URL (ONVIF Notify)
    HMAC = "hmac"  # HMAC-SHA256 of the body with a derived secret (generic webhook)
    MQTT = "mqtt"  # the broker authenticated the connection (Frigate)


class CameraSender(Base):
    """A device or system that pushes alarms: a camera, an NVR, an analytics platform, a Frigate."""

    __tablename__ = "camera_senders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The user name it authenticates with (HTTP), or the name it is configured under.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    auth: Mapped[str] = mapped_column(String(8))
    #: MD5(name:realm:password), for HTTP Basic and Digest.
    ha1: Mapped[str | None] = mapped_column(String(32))
    #: SHA-256 of the ONVIF consumer token.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Changing it changes the derived HMAC secret (rotation).
    hmac_salt: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Camera(Base):
    """One camera of the registry, known by the pushing device's MAC, serial or IP plus the channel."""

    __tablename__ = "cameras"
    __table_args__ = (
        Index("ix_cameras_mac_channel", "mac", "channel"),
        Index("ix_cameras_serial_channel", "serial", "channel"),
        Index("ix_cameras_ip_channel", "ip", "channel"),
        Index("ix_cameras_sender_id", "sender_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The district's camera number (点位编号).
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    vendor: Mapped[str] = mapped_column(String(16), default="")
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("camera_senders.id"))
    mac: Mapped[str | None] = mapped_column(String(17))
    serial: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    channel: Mapped[int | None] = mapped_column(Integer)
    #: The name its sender uses for it (Frigate's camera name).
    source_name: Mapped[str | None] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(500))
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Liveness: last alarm or heartbeat (flushed from Redis by housekeeping), and since when it is
    #: reported offline (None: online).
    last_seen_at: Mapped[datetime | None]
    offline_since: Mapped[datetime | None]


class AlarmStatus:
    OK = "ok"
    REPAIRED = "repaired"  # read after repairing damage; the reason says what
    UNKNOWN_CAMERA = "unknown_camera"  # kept and flagged: no registered camera matches
    IGNORED = "ignored"  # stored, opens nothing (a Frigate false positive)
    REJECTED = "rejected"  # could not be read; kept raw with the reason
    UNKNOWN_EVENT = "unknown_event"  # well-formed, but not an event we handle


class CameraAlarmRecord(Base):
    """One alarm as received: every one of a storm's repeats, the damaged and the unknown ones too."""

    __tablename__ = "camera_alarms"
    __table_args__ = (
        # The Redis stream entry and the alarm's place in it: replaying an entry stores nothing twice.
        UniqueConstraint("stream_id", "part", name="uq_camera_alarms_stream_id_part"),
        Index("ix_camera_alarms_camera_received", "camera_id", "received_at"),
        Index("ix_camera_alarms_incident_id", "incident_id"),
        # Which alarms share a stored body, when retention deletes old ones (only large bodies have one).
        partial_index("ix_camera_alarms_raw_sha256", "raw_sha256", where="raw_sha256 IS NOT NULL"),
        # The short list of alarms needing a look (damaged, unknown, flagged), newest first.
        partial_index("ix_camera_alarms_flagged", "received_at", where="status <> 'ok'"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stream_id: Mapped[str] = mapped_column(String(32))
    part: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    sender_id: Mapped[int | None] = mapped_column(BigId)
    camera_id: Mapped[int | None] = mapped_column(BigId)
    incident_id: Mapped[int | None] = mapped_column(BigId)
    vendor: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(24), default="")
    state: Mapped[str] = mapped_column(String(8), default="")
    channel: Mapped[int | None] = mapped_column(Integer)
    #: The device as the alarm named it (for unknown cameras): "mac:…/serial:…/ip:…/name:…".
    device: Mapped[str | None] = mapped_column(String(100))
    rule: Mapped[str] = mapped_column(String(64), default="")
    post_count: Mapped[int | None] = mapped_column(Integer)
    source_time: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=AlarmStatus.OK)
    #: What was repaired, assumed or refused, in words.
    reason: Mapped[str | None] = mapped_column(String(500))
    #: The body exactly as received (the first alarm of a multi-alarm post only), or in ``raw_sha256``.
    raw: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    raw_content_type: Mapped[str] = mapped_column(String(128), default="")


class IncidentStatus:
    OPEN = "open"
    CLOSED = "closed"


class CameraIncident(Base):
    """One ongoing problem at one camera under one rule: the repeats of a storm collapse into it."""

    __tablename__ = "camera_incidents"
    __table_args__ = (
        # At most one open incident per key, whatever runs concurrently.
        partial_index("uq_camera_incidents_open_key", "key", where="status = 'open'", unique=True),
        # The incidents still waiting to become cases.
        partial_index("ix_camera_incidents_unsubmitted", "id", where="case_number IS NULL"),
        Index("ix_camera_incidents_camera_opened", "camera_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: camera (or unknown device) | kind | rule.
    key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8), default=IncidentStatus.OPEN)
    kind: Mapped[str] = mapped_column(String(24))
    event_type: Mapped[str] = mapped_column(String(64), default="")
    vendor: Mapped[str] = mapped_column(String(16), default="")
    rule: Mapped[str] = mapped_column(String(64), default="")
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id"))
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("camera_senders.id"))
    #: The device as the alarm named it, when no registered camera matched.
    device: Mapped[str | None] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_source_time: Mapped[datetime | None]
    #: Receive times of the last alarm and of the last active one (the quiet period runs from it).
    last_alarm_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the camera said it stopped (its own time where usable); None while it is active.
    stopped_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    #: Alarms collected (the first one included) and the highest count the camera itself reported.
    post_count: Mapped[int] = mapped_column(Integer, default=1)
    max_device_count: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(500), default="")
    #: Pictures kept for the case: [{"sha256"|"url", "name", "content_type"}].
    pictures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: The stream entry of the alarm that opened it (its raw body goes with the case).
    first_stream_id: Mapped[str | None] = mapped_column(String(32))
    #: Offline incidents: the cameras found silent.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The case it became (intake.submit: channel "camera", source id = this id).
    case_number: Mapped[str | None] = mapped_column(String(24))
    report_id: Mapped[int | None] = mapped_column(BigId)
