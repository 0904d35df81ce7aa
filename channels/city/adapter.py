"""City work orders (市级派单) → :class:`CityOrderIn`, and the signature both directions carry.

Pure parsing, no database or network. The city platform pushes one work order per request as JSON,
in the field names city work-order platforms use (``workordercode``, ``scene``, ``workordercontent``,
``place``, ``area``, ``dispatchtime``, ``processlimited``, ``state``, ``workordertype``, ``attachments``),
and is answered with its usual envelope ``{"success", "code", "message", "resultData"}``.

Both directions are signed with the platform's shared secret: ``X-Timestamp`` (Unix seconds; Java senders'
milliseconds are accepted too) and ``X-Signature``, the hex HMAC-SHA256 of
``METHOD + "\\n" + path + "\\n" + timestamp + "\\n" + body``. A timestamp further than the platform's
``max_clock_skew_seconds`` from our clock is refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from channels.errors import AuthFailed, MalformedPayload, UnknownEvent
from intake.report import AttachmentIn, Location, Report

CHANNEL = "city"
TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_HEADER = "X-Signature"
#: A timestamp above this is in milliseconds (10^11 seconds is the year 5138).
_MILLISECONDS_ABOVE = 10**11

MAX_CODE_CHARS = 64
MAX_CONTENT_CHARS = 10_000
MAX_AREA_CHARS = 200
MAX_PLACE_CHARS = 500
MAX_ATTACHMENTS = 20
MAX_URL_CHARS = 2000
#: The city's order states and order types; anything else is a kind of push we do not handle.
ORDER_STATES = {0: "pending", 1: "in_progress", 2: "done"}
ORDER_TYPES = {0: "event", 1: "warning", 2: "risk", 3: "hazard", 4: "device"}
#: Success code of the platform's answer envelope.
SUCCESS_CODE = 10000

_CODE = re.compile(r"^[\w\-.:/]+$")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")
# C0/C1 control characters except tab and newlines: PostgreSQL refuses NUL, and none belong in an order.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def signature(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 that signs one request in either direction."""
    message = f"{method.upper()}\n{path}\n{timestamp}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_signature(
    secret: str,
    method: str,
    path: str,
    headers: Any,
    body: bytes,
    *,
    now: float,
    max_skew_seconds: int,
) -> None:
    """Raise :class:`AuthFailed` unless the headers sign this request, recently, with ``secret``."""
    if not secret:
        raise AuthFailed("no secret is configured for this platform (GRIDLINE_CITY__PLATFORMS__<NAME>__SECRET)")
    stamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    given = (headers.get(SIGNATURE_HEADER) or "").strip().lower()
    if not stamp or not given:
        raise AuthFailed(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        seconds = int(stamp)
    except ValueError as err:
        raise AuthFailed(f"{TIMESTAMP_HEADER}: not a Unix time") from err
    if seconds > _MILLISECONDS_ABOVE:
        seconds //= 1000
    if abs(now - seconds) > max_skew_seconds:
        raise AuthFailed(f"{TIMESTAMP_HEADER}: more than {max_skew_seconds} s from our clock (stale or replayed)")
    if not hmac.compare_digest(signature(secret, method, path, stamp, body), given):
        raise AuthFailed(f"{SIGNATURE_HEADER} does not match this request")


def signed_headers(secret: str, method: str, url: str, body: bytes, now: float) -> dict[str, str]:
    """The headers that sign a request of ours to ``url`` (its path, without the query)."""
    stamp = str(int(now))
    path = urllib.parse.urlsplit(url).path or "/"
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: signature(secret, method, path, stamp, body)}


@dataclass(frozen=True)
class CityOrderIn:
    """One push of a work order, parsed."""

    platform: str
    code: str
    content: str
    city_category: str
    category: str | None
    area: str
    place: str
    dispatched_at: datetime
    deadline: datetime | None
    state: int
    order_type: int
    attachment_urls: tuple[str, ...]
    #: Everything the city sent, parsed (unknown fields included), for the stored order row.
    payload: dict[str, Any]

    @property
    def source_id(self) -> str:
        return source_id(self.platform, self.code)

    @property
    def address(self) -> str:
        return join_address(self.area, self.place)

    def report(self, raw: bytes, priority: int) -> Report:
        """The order as the case's first report (its later pushes update the order and the case)."""
        return Report(
            channel=CHANNEL,
            source_id=self.source_id,
            text=self.content,
            location=Location(address=self.address or None),
            category=self.category,
            attachments=tuple(attachment_for(url) for url in self.attachment_urls),
            source_time=self.dispatched_at,
            raw=raw,
            raw_content_type="application/json",
            priority=priority,
            meta={
                "platform": self.platform,
                "order_code": self.code,
                "city_category": self.city_category,
                "deadline": self.deadline.isoformat() if self.deadline else None,
                "order_type": ORDER_TYPES[self.order_type],
            },
        )


def source_id(platform: str, code: str) -> str:
    return f"{platform}:{code}"


def join_address(area: str, place: str) -> str:
    """``area`` + ``place``, without repeating the area when the place already names it."""
    if not area or area in place:
        return place
    return area + place


def attachment_for(url: str) -> AttachmentIn:
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    return AttachmentIn(filename=name[:255], url=url)


def parse_order(body: bytes, platform: str, categories: dict[str, str], zone: ZoneInfo) -> CityOrderIn:
    """Read one pushed work order; raise MalformedPayload / UnknownEvent for anything else."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise MalformedPayload("body is not UTF-8") from err
    except json.JSONDecodeError as err:
        raise MalformedPayload(f"body is not JSON: {err.msg} at line {err.lineno} column {err.colno}") from err
    if not isinstance(data, dict):
        raise MalformedPayload("body must be a JSON object (one work order)")
    code = _text(data, "workordercode", MAX_CODE_CHARS, required=True)
    if not _CODE.match(code):
        raise MalformedPayload("workordercode: letters, digits and - _ . : / only")
    state = _enum(data, "state", ORDER_STATES)
    order_type = _enum(data, "workordertype", ORDER_TYPES)
    content = _text(data, "workordercontent", MAX_CONTENT_CHARS, required=True)
    dispatched_at = _moment(data.get("dispatchtime"), "dispatchtime", zone, required=True)
    assert dispatched_at is not None
    deadline = _moment(data.get("processlimited"), "processlimited", zone, end_of_day=True)
    if deadline is not None and deadline <= dispatched_at:
        raise MalformedPayload("processlimited: must be later than dispatchtime")
    city_category = _text(data, "scene", MAX_CODE_CHARS)
    return CityOrderIn(
        platform=platform,
        code=code,
        content=content,
        city_category=city_category,
        category=categories.get(city_category),
        area=_text(data, "area", MAX_AREA_CHARS),
        place=_text(data, "place", MAX_PLACE_CHARS),
        dispatched_at=dispatched_at,
        deadline=deadline,
        state=state,
        order_type=order_type,
        attachment_urls=_urls(data.get("attachments")),
        payload=data,
    )


def _text(data: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = data.get(name)
    if value is None:
        value = ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # codes sent as numbers
    if not isinstance(value, str):
        raise MalformedPayload(f"{name}: must be a string")
    value = _CONTROL.sub("", value).strip()
    if required and not value:
        raise MalformedPayload(f"{name}: required")
    if len(value) > limit:
        raise MalformedPayload(f"{name}: longer than {limit} characters")
    return value


def _enum(data: dict[str, Any], name: str, known: dict[int, str]) -> int:
    value = data.get(name, 0)
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedPayload(f"{name}: must be an integer")
    try:
        number = int(value)
    except ValueError as err:
        raise MalformedPayload(f"{name}: must be an integer") from err
    if number not in known:
        raise UnknownEvent(f"{name} {number} is not one we handle ({', '.join(map(str, known))})")
    return number


def _moment(
    value: Any, name: str, zone: ZoneInfo, *, required: bool = False, end_of_day: bool = False
) -> datetime | None:
    """A local ``yyyy-MM-dd HH:mm:ss`` (or ISO 8601 with an offset); a bare date means the end of that day."""
    if value is None or value == "":
        if required:
            raise MalformedPayload(f"{name}: required")
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{name}: must be a string like 2025-06-12 09:30:00")
    text = value.strip()
    for pattern in _DATE_FORMATS:
        try:
            day = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        # 处理时限 2025-06-17 means "by the end of the 17th"; a dispatch date alone means its start.
        return datetime.combine(day, time(23, 59, 59) if end_of_day else time(0, 0), zone)
    for pattern in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=zone)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        raise MalformedPayload(f"{name}: {text[:40]!r} is not a time like 2025-06-12 09:30:00") from err
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def _urls(value: Any) -> tuple[str, ...]:
    """``attachments``: URLs separated by commas (the city's form) or a JSON list of them."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = [item.strip() for item in value]
    else:
        raise MalformedPayload("attachments: URLs separated by commas, or a list of them")
    urls = [item for item in items if item]
    if len(urls) > MAX_ATTACHMENTS:
        raise MalformedPayload(f"attachments: at most {MAX_ATTACHMENTS}")
    for url in urls:
        if not url.startswith(("https://", "http://")) or len(url) > MAX_URL_CHARS:
            raise MalformedPayload("attachments: every item must be an http(s) URL")
    return tuple(dict.fromkeys(urls))  # a URL listed twice is one attachment


def answer(success: bool, message: str, code: int = SUCCESS_CODE, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The platform's answer envelope."""
    return {"success": success, "code": code, "message": message, "resultData": data}


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    """A time in the city's format: local ``yyyy-MM-dd HH:mm:ss``."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
