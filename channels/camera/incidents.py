"""Storm collapsing: one camera + one rule + one ongoing problem → one incident.

Pure logic over an in-memory book of open incidents (the drainer is the only writer, under a lock, so
the book is the truth while it runs and the database catches up at each flush). Decisions use our
receive time, not the camera's clock (cameras run wrong or unset clocks); the camera's time only orders
a start against a stop that arrived the other way round.

* An active alarm joins the open incident of its key, or opens one. It is a repeat while it comes
  within the quiet period of the last active one; after that the old incident is closed and a new one
  opens (the problem came back).
* A stop marks the incident stopped but does not close it: cameras stop and start again, and resend.
  A stop that arrives before its start (out of order) is remembered; the start then opens the incident
  already stopped, instead of leaving it active for ever.
* An incident closes once the quiet period has passed since its last active alarm.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from channels.camera.alarm import CameraAlarm, State
from channels.camera.registry import CameraInfo


@dataclass(slots=True)
class Incident:
    key: str
    kind: str
    event_type: str
    vendor: str
    rule: str
    camera_id: int | None
    sender_id: int | None
    device: str | None
    opened_at: datetime
    first_source_time: datetime | None
    last_alarm_at: datetime
    last_active_at: datetime
    stopped_at: datetime | None = None
    closed_at: datetime | None = None
    post_count: int = 1
    max_device_count: int | None = None
    description: str = ""
    pictures: list[dict[str, Any]] = field(default_factory=list)
    first_stream_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    #: Changed since the last flush (counters, times, pictures).
    dirty: bool = False
    #: Pictures taken with their bytes, to be stored as blobs before the next commit.
    picture_data: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "status": "closed" if self.closed_at is not None else "open",
            "kind": self.kind,
            "event_type": self.event_type[:64],
            "vendor": self.vendor,
            "rule": self.rule[:64],
            "camera_id": self.camera_id,
            "sender_id": self.sender_id,
            "device": self.device,
            "opened_at": self.opened_at,
            "first_source_time": self.first_source_time,
            "last_alarm_at": self.last_alarm_at,
            "last_active_at": self.last_active_at,
            "stopped_at": self.stopped_at,
            "closed_at": self.closed_at,
            "post_count": self.post_count,
            "max_device_count": self.max_device_count,
            "description": self.description[:500],
            "pictures": self.pictures,
            "first_stream_id": self.first_stream_id,
            "detail": self.detail,
            "case_number": None,
            "report_id": None,
        }


def device_ref(alarm: CameraAlarm, sender_name: str | None) -> str:
    """How an unregistered camera is named: by what the alarm said about the device."""
    channel = f"#{alarm.channel}" if alarm.channel is not None else ""
    for label, value in (("mac", alarm.mac), ("serial", alarm.serial), ("ip", alarm.ip)):
        if value:
            return f"{label}:{value}{channel}"[:100]
    if alarm.source_name:
        return f"name:{sender_name or '?'}/{alarm.source_name}"[:100]
    return f"sender:{sender_name or '?'}{channel}"[:100]


def incident_key(camera: CameraInfo | None, device: str, alarm: CameraAlarm) -> str:
    who = f"camera:{camera.id}" if camera is not None else f"device:{device}"
    return f"{who}|{alarm.kind.value}|{alarm.rule[:64]}"[:200]


class Book:
    """The open incidents, by key, and the stops that came before their start."""

    def __init__(
        self,
        quiet: timedelta,
        max_pictures: int,
        incidents: Iterable[Incident] = (),
        pending_stops: dict[str, tuple[datetime, datetime]] | None = None,
    ) -> None:
        self.quiet = quiet
        self.max_pictures = max_pictures
        self.open: dict[str, Incident] = {incident.key: incident for incident in incidents}
        #: key → (the stop's time, camera's where usable; when we received it).
        self.pending_stops: dict[str, tuple[datetime, datetime]] = dict(pending_stops or {})
        #: Incidents opened since the last commit (not yet inserted) and closed since the last flush.
        self.created: list[Incident] = []
        self.closed: list[Incident] = []
        self.stops_changed = False

    def apply(
        self,
        alarm: CameraAlarm,
        key: str,
        camera: CameraInfo | None,
        sender_id: int | None,
        device: str | None,
        received: datetime,
        stream_id: str | None = None,
    ) -> Incident | None:
        """Fold one alarm into the book; return the incident it belongs to (None: a stop with none)."""
        moment = alarm.source_time or received
        incident = self.open.get(key)
        if alarm.state is State.INACTIVE:
            if incident is None:
                previous = self.pending_stops.get(key)
                if previous is None or moment > previous[0]:
                    self.pending_stops[key] = (moment, received)
                    self.stops_changed = True
                return None
            incident.stopped_at = max(incident.stopped_at, moment) if incident.stopped_at else moment
            incident.last_alarm_at = max(incident.last_alarm_at, received)
            incident.dirty = True
            return incident
        if incident is not None and received - incident.last_active_at > self.quiet:
            self.close(incident, incident.last_active_at + self.quiet)
            incident = None
        if incident is None:
            incident = Incident(
                key=key,
                kind=alarm.kind.value,
                event_type=alarm.event_type,
                vendor=alarm.vendor,
                rule=alarm.rule,
                camera_id=camera.id if camera is not None else None,
                sender_id=sender_id,
                device=device,
                opened_at=received,
                first_source_time=alarm.source_time,
                last_alarm_at=received,
                last_active_at=received,
                description=alarm.description,
                first_stream_id=stream_id,
                max_device_count=alarm.post_count,
            )
            pending = self.pending_stops.pop(key, None)
            if pending is not None:
                self.stops_changed = True
                if pending[0] >= moment:
                    # The stop was sent after this start but overtook it: the problem is already over.
                    incident.stopped_at = pending[0]
            self.open[key] = incident
            self.created.append(incident)
        else:
            incident.post_count += 1
            incident.last_alarm_at = max(incident.last_alarm_at, received)
            incident.last_active_at = max(incident.last_active_at, received)
            if incident.stopped_at is not None and moment > incident.stopped_at:
                incident.stopped_at = None  # active again after a stop: the same ongoing problem
            if alarm.post_count is not None:
                incident.max_device_count = max(incident.max_device_count or 0, alarm.post_count)
            incident.dirty = True
        if alarm.state is State.PULSE and incident.stopped_at is None:
            incident.stopped_at = moment
        self._take_pictures(incident, alarm)
        return incident

    def _take_pictures(self, incident: Incident, alarm: CameraAlarm) -> None:
        for picture in alarm.pictures:
            if len(incident.pictures) >= self.max_pictures:
                return
            meta: dict[str, Any] = {"name": picture.name, "content_type": picture.content_type}
            if picture.data is not None:
                incident.picture_data.append((meta, picture.data))
            elif picture.url:
                meta["url"] = picture.url
            else:
                continue
            incident.pictures.append(meta)
            incident.dirty = True

    def close(self, incident: Incident, at: datetime) -> None:
        self.open.pop(incident.key, None)
        incident.closed_at = at
        self.closed.append(incident)

    def quiet_ones(self, now: datetime) -> list[Incident]:
        return [incident for incident in self.open.values() if now - incident.last_active_at > self.quiet]

    def prune_stops(self, now: datetime) -> None:
        """Forget stops whose start never came within a quiet period."""
        stale = [key for key, (_, received) in self.pending_stops.items() if now - received > self.quiet]
        for key in stale:
            del self.pending_stops[key]
        self.stops_changed = self.stops_changed or bool(stale)
