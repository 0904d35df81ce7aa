"""The camera registry: senders and cameras, their import, and the in-process lookups the hot paths use.

``gridline cameras import cameras.csv`` with the columns ``code`` and optionally ``name, vendor, mac,
serial, ip, channel, source_name, lat, lon, address, grid_code, sender``. A camera is known by the
pushing device's MAC, serial number or IP address plus the channel (an NVR pushes for all its
cameras), or by the name its sender gives it (Frigate); the grid cell comes from the point when the
file leaves it empty. Like the other imports it checks the whole file first, writes nothing when a
row is wrong (naming every bad line), and is an upsert.

Receivers and the drainer look senders and cameras up thousands of times a second, so each process
keeps them in memory (:class:`intake.process_copy.ProcessCopy`) and reloads when an import or a new
sender announces a change.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.camera.alarm import CameraAlarm, normalize_mac, to_int
from channels.camera.auth import derive_secret, ha1, token_hash
from channels.camera.models import Camera, CameraSender, SenderAuth
from intake.process_copy import ProcessCopy
from intake.runtime import get_runtime
from routing.errors import DataImportError

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("code",)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class CameraImportError(DataImportError):
    """A CSV file of cameras has a bad row (the message names its line) or lacks a column."""


class SenderError(Exception):
    """A sender cannot be created or changed; the message says why."""


@dataclass(frozen=True, slots=True)
class SenderInfo:
    id: int
    name: str
    auth: str
    ha1: str | None
    token_hash: str | None
    hmac_salt: str | None


@dataclass(frozen=True, slots=True)
class CameraInfo:
    id: int
    code: str
    name: str
    sender_id: int | None
    lat: float | None
    lon: float | None
    address: str | None
    grid_code: str | None


@dataclass
class Senders:
    by_name: dict[str, SenderInfo] = field(default_factory=dict)
    by_id: dict[int, SenderInfo] = field(default_factory=dict)
    by_token: dict[str, SenderInfo] = field(default_factory=dict)


@dataclass
class Cameras:
    by_id: dict[int, CameraInfo] = field(default_factory=dict)
    #: ("mac" | "serial" | "ip", value, channel), ("name", sender id, name), ("code", code) → camera.
    by_key: dict[tuple[Any, ...], CameraInfo] = field(default_factory=dict)
    of_sender: dict[int, list[CameraInfo]] = field(default_factory=lambda: defaultdict(list))

    def resolve(self, sender_id: int | None, alarm: CameraAlarm) -> CameraInfo | None:
        """The registered camera an alarm is from, or None (then it is kept and flagged)."""
        if alarm.source_name:
            found = self.by_key.get(("code", alarm.source_name)) if alarm.vendor == "generic" else None
            found = found or self.by_key.get(("name", sender_id, alarm.source_name))
            if found:
                return found
        # A device that names no channel (an IPC's heartBeat, a generic event) means its first one.
        channels = (alarm.channel,) if alarm.channel is not None else (None, 1)
        for kind, value in (("mac", alarm.mac), ("serial", alarm.serial), ("ip", alarm.ip)):
            if value:
                for channel in channels:
                    if found := self.by_key.get((kind, value, channel)):
                        return found
        if sender_id is not None and not alarm.source_name:
            # By the sender alone only when the alarm names no camera: a name we do not know is an
            # unknown camera, not the sender's first one.
            for channel in channels:
                if found := self.by_key.get(("sender", sender_id, channel)):
                    return found
            mine = self.of_sender.get(sender_id, ())
            if len(mine) == 1 and not (alarm.mac or alarm.serial or alarm.ip or alarm.source_name):
                # A camera pushing for itself and naming nothing (a bare heartbeat): its only camera.
                return mine[0]
        return None


# Both reload when either changes: an import or a new sender announces it once.
_senders: ProcessCopy[Senders] = ProcessCopy("camera-registry")
_cameras: ProcessCopy[Cameras] = ProcessCopy("camera-registry")


def senders() -> Senders:
    """This process's copy of every camera sender, by name and by token."""
    return _senders.get(_load_senders)


def cameras() -> Cameras:
    """This process's copy of every camera, by its identifiers."""
    return _cameras.get(_load_cameras)


def forget() -> None:
    """Drop this process's copies (the next lookup loads them again)."""
    _senders.forget()
    _cameras.forget()


def bump_version() -> None:
    """Tell every process its registry copy is stale (after an import or a sender change)."""
    _senders.announce_change()
    forget()


def _load_senders() -> Senders:
    found = Senders()
    with get_runtime().db.transaction() as session:
        rows = session.execute(
            select(
                CameraSender.id,
                CameraSender.name,
                CameraSender.auth,
                CameraSender.ha1,
                CameraSender.token_hash,
                CameraSender.hmac_salt,
            ).where(CameraSender.active.is_(True))
        ).all()
    for row in rows:
        sender = SenderInfo(*row)
        found.by_name[sender.name] = sender
        found.by_id[sender.id] = sender
        if sender.token_hash:
            found.by_token[sender.token_hash] = sender
    log.info("camera registry: %d senders loaded", len(rows))
    return found


def _load_cameras() -> Cameras:
    found = Cameras()
    with get_runtime().db.transaction() as session:
        rows = session.execute(
            select(
                Camera.id,
                Camera.code,
                Camera.name,
                Camera.sender_id,
                Camera.lat,
                Camera.lon,
                Camera.address,
                Camera.grid_code,
                Camera.mac,
                Camera.serial,
                Camera.ip,
                Camera.channel,
                Camera.source_name,
            )
        ).all()
    for row in rows:
        camera = CameraInfo(*row[:8])
        mac, serial, ip, channel, source_name = row[8:]
        found.by_id[camera.id] = camera
        found.by_key[("code", camera.code)] = camera
        for kind, value in (("mac", mac), ("serial", serial), ("ip", ip)):
            if value:
                found.by_key.setdefault((kind, value, channel), camera)
        if camera.sender_id is not None:
            found.of_sender[camera.sender_id].append(camera)
            found.by_key.setdefault(("sender", camera.sender_id, channel), camera)
            if source_name:
                found.by_key.setdefault(("name", camera.sender_id, source_name), camera)
    log.info("camera registry: %d cameras loaded", len(rows))
    return found


# --- senders ---------------------------------------------------------------------------------------


def create_sender(session: Session, name: str, auth: str, password: str | None = None) -> str:
    """Create or re-key sender ``name``; return the credential to give the device (shown once).

    ``http``: the password (given or generated); ``token``: the ONVIF consumer token; ``hmac``: the
    webhook secret; ``mqtt``: nothing (the broker authenticates Frigate).
    """
    if not _NAME.match(name):
        raise SenderError(f"sender name {name!r}: letters, digits and . _ @ -, at most 64")
    if auth not in (SenderAuth.HTTP, SenderAuth.TOKEN, SenderAuth.HMAC, SenderAuth.MQTT):
        raise SenderError(f"auth {auth!r}: expected http, token, hmac or mqtt")
    sender = session.scalar(select(CameraSender).where(CameraSender.name == name))
    if sender is None:
        sender = CameraSender(name=name, auth=auth, active=True)
        session.add(sender)
    sender.auth = auth
    sender.ha1 = sender.token_hash = sender.hmac_salt = None
    credential = ""
    if auth == SenderAuth.HTTP:
        credential = password or secrets.token_urlsafe(12)
        if len(credential) < 8:
            raise SenderError("password: at least 8 characters")
        sender.ha1 = ha1(name, credential)
    elif auth == SenderAuth.TOKEN:
        credential = secrets.token_urlsafe(24)
        sender.token_hash = token_hash(credential)
    elif auth == SenderAuth.HMAC:
        from channels.camera.settings import secret_key

        sender.hmac_salt = secrets.token_hex(16)
        credential = derive_secret(secret_key(get_runtime()), name, sender.hmac_salt).decode()
    session.flush()
    return credential


# --- CSV import ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraImport:
    created: int
    updated: int
    unchanged: int


def import_cameras(session: Session, path: str | Path) -> CameraImport:
    source = str(path)
    from routing.importing import read_csv

    sender_ids = {row.name: row.id for row in session.execute(select(CameraSender.name, CameraSender.id))}
    rows: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for line, record in read_csv(source, REQUIRED_COLUMNS, CameraImportError):
        try:
            row = _camera(record, sender_ids)
        except ValueError as err:
            problems.append((f"line {line}", str(err)))
            continue
        if row["code"] in seen:
            problems.append((f"line {line}", f"code {row['code']} is also on line {seen[row['code']]}"))
            continue
        seen[row["code"]] = line
        rows.append(row)
    if problems:
        raise CameraImportError(source, problems)
    _locate(session, rows)
    existing = {camera.code: camera for camera in session.scalars(select(Camera).where(Camera.code.in_(seen)))}
    created = updated = 0
    for row in rows:
        camera = existing.get(row["code"])
        if camera is None:
            session.add(Camera(**row))
            created += 1
        elif any(getattr(camera, key) != value for key, value in row.items()):
            for key, value in row.items():
                setattr(camera, key, value)
            updated += 1
    session.flush()
    return CameraImport(created=created, updated=updated, unchanged=len(rows) - created - updated)


def _camera(record: dict[str, str | None], sender_ids: dict[str, int]) -> dict[str, Any]:
    value = {key: (text or "").strip() for key, text in record.items() if key}
    code = value.get("code", "")
    if not _CODE.match(code):
        raise ValueError(f"code {code!r}: letters, digits and . _ : / -, at most 64")
    mac_text = value.get("mac", "")
    mac = normalize_mac(mac_text)
    if mac_text and mac is None:
        raise ValueError(f"mac {mac_text!r}: not a MAC address")
    ip = value.get("ip", "") or None
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError as err:
            raise ValueError(f"ip {ip!r}: not an IP address") from err
    channel_text = value.get("channel", "")
    channel = to_int(channel_text)
    if channel_text and (channel is None or not 0 <= channel <= 4096):
        raise ValueError(f"channel {channel_text!r}: a number from 0 to 4096")
    sender_name = value.get("sender", "")
    if sender_name and sender_name not in sender_ids:
        raise ValueError(f"sender {sender_name!r}: no such sender (gridline cameras sender {sender_name} ...)")
    source_name = value.get("source_name", "") or None
    if not (mac or value.get("serial") or ip or source_name or sender_name):
        raise ValueError("needs mac, serial, ip, source_name or sender to be recognized by")
    lat, lon = _point(value.get("lat", ""), value.get("lon", ""))
    grid_code = value.get("grid_code", "") or None
    if grid_code and not (grid_code.isdigit() and len(grid_code) == 15):
        raise ValueError(f"grid_code {grid_code!r}: 15 digits")
    for key, limit in (("name", 200), ("address", 500), ("serial", 64), ("vendor", 16)):
        if len(value.get(key, "")) > limit:
            raise ValueError(f"{key}: longer than {limit} characters")
    return {
        "code": code,
        "name": value.get("name", ""),
        "vendor": value.get("vendor", "").lower(),
        "sender_id": sender_ids.get(sender_name) if sender_name else None,
        "mac": mac,
        "serial": value.get("serial", "") or None,
        "ip": ip,
        "channel": channel,
        "source_name": source_name,
        "lat": lat,
        "lon": lon,
        "address": value.get("address", "") or None,
        "grid_code": grid_code,
    }


def _point(lat_text: str, lon_text: str) -> tuple[float | None, float | None]:
    if not lat_text and not lon_text:
        return None, None
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError as err:
        raise ValueError(f"lat/lon {lat_text!r}, {lon_text!r}: need both, as numbers") from err
    if not (math.isfinite(lat) and -90 <= lat <= 90 and math.isfinite(lon) and -180 <= lon <= 180):
        raise ValueError(f"lat/lon {lat}, {lon}: out of range")
    return lat, lon


def _locate(session: Session, rows: list[dict[str, Any]]) -> None:
    """Fill in the grid cell of each camera with a point and no cell (when cells are loaded)."""
    todo = [row for row in rows if row["grid_code"] is None and row["lat"] is not None]
    if not todo:
        return
    from routing.geo import cell_index

    index = cell_index(session)
    if not index.codes:
        return
    for row in todo:
        row["grid_code"] = index.locate(row["lon"], row["lat"])
