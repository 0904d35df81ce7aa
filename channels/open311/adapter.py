"""GeoReport v2 requests → :class:`intake.Report`, and the query arguments of ``GET requests``.

Pure parsing, no database or network. ``POST requests`` is ``application/x-www-form-urlencoded`` (the
spec's format; ``multipart/form-data`` fields are read the same way) with ``service_code``, a location
(``lat`` & ``long``, ``address_string`` or ``address_id``), the requester (``email``, ``phone``,
``first_name``, ``last_name``, ``device_id``, ``account_id``), ``description``, ``media_url`` (one, or
repeated) and ``attribute[code]=value`` / ``attribute[code][]=value`` for the service's attributes.
Attributes the service does not define (FixMyStreet sends its own, ``attribute[title]``, ...) are kept,
not refused, so that existing clients work unchanged.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from channels.errors import MalformedPayload, NotFound
from channels.open311.settings import AttributeSettings, ServiceSettings
from intake.phones import normalize_phone
from intake.report import AttachmentIn, Contact, Location, Report

CHANNEL = "partner"
#: The spec limits a description to 4,000 characters.
MAX_DESCRIPTION_CHARS = 4000
MAX_ADDRESS_CHARS = 500
MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 254
MAX_ID_CHARS = 128
MAX_MEDIA_URLS = 10
MAX_URL_CHARS = 2000
MAX_ATTRIBUTE_CHARS = 2000
#: Attributes a service does not define that we keep (beyond these the request is refused as abuse).
MAX_EXTRA_ATTRIBUTES = 50
#: ``GET requests``: most ids one query may name.
MAX_QUERY_IDS = 1000

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CJK = re.compile(r"[\u3400-\u9fff]")
# C0/C1 control characters except tab and newlines: PostgreSQL refuses NUL, and none belong in a report.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: Form fields that do not make one request different from its retry.
_NOT_CONTENT = frozenset({"api_key", "jurisdiction_id"})


class InvalidRequest(MalformedPayload):
    """One or more arguments are wrong; each is one error of the answer."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class ServiceRequestIn:
    service: ServiceSettings
    report: Report


def clean(value: str) -> str:
    """NFC-normalized, control characters removed, outer whitespace stripped."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", value)).strip()


def check_jurisdiction(given: str | None, ours: str) -> None:
    """A missing or empty jurisdiction_id is ours (we serve one); another one is not found."""
    given = (given or "").strip()
    if given and ours and given != ours:
        raise NotFound(f"jurisdiction_id {given!r} not found")


def service_for(code: str | None, services: Mapping[str, ServiceSettings]) -> ServiceSettings:
    code = (code or "").strip()
    if not code:
        raise MalformedPayload("service_code was not provided")
    service = services.get(code)
    if service is None:
        raise NotFound(f"service_code {code!r} not found")
    return service


def parse_request(
    form: MultiDict[str, str],
    services: Mapping[str, ServiceSettings],
    *,
    partner_id: int,
    partner_name: str,
    zone: ZoneInfo,
    now: datetime,
    raw: bytes,
    raw_content_type: str,
) -> ServiceRequestIn:
    """Read one ``POST requests``; raise NotFound (service) or InvalidRequest (every other problem)."""
    service = service_for(form.get("service_code"), services)
    problems: list[str] = []
    lat, lon = _point(form, problems)
    address = _field(form, "address_string", MAX_ADDRESS_CHARS, problems)
    address_id = _field(form, "address_id", MAX_ID_CHARS, problems)
    point_sent = bool((form.get("lat") or "").strip() or (form.get("long") or "").strip())
    if not point_sent and not address and not address_id:
        problems.append("a location is required: lat & long, address_string or address_id")
    description = _field(form, "description", MAX_DESCRIPTION_CHARS, problems)
    email = _field(form, "email", MAX_EMAIL_CHARS, problems)
    if email and not _EMAIL.match(email):
        problems.append("email: not an email address")
    phone = _field(form, "phone", 32, problems)
    name = _name(
        _field(form, "first_name", MAX_NAME_CHARS, problems), _field(form, "last_name", MAX_NAME_CHARS, problems)
    )
    media = _media(form, problems)
    # FixMyStreet sends "deviceid"; the spec says "device_id".
    device_id = _field(form, "device_id", MAX_ID_CHARS, problems) or _field(form, "deviceid", MAX_ID_CHARS, problems)
    account_id = _field(form, "account_id", MAX_ID_CHARS, problems)
    given = _attributes(form, problems)
    values, shown = _check_attributes(service, given, zone, problems)
    extra = {code: items[0] if len(items) == 1 else items for code, items in given.items() if code not in values}
    if len(extra) > MAX_EXTRA_ATTRIBUTES:
        problems.append(f"attribute: at most {MAX_EXTRA_ATTRIBUTES} attributes the service does not define")
    if problems:
        raise InvalidRequest(problems)
    # Agents read one text: the description (or the service's name), then the attributes' answers.
    text = description or service.service_name
    if shown:
        text += "\n\n" + "\n".join(shown)
    meta: dict[str, Any] = {
        "partner": partner_name,
        "service_code": service.service_code,
        "description": description,
        "attributes": values,
        "extra_attributes": extra,
        "address_id": address_id or None,
        "device_id": device_id or None,
        "account_id": account_id or None,
        "media_url": list(media),
        "lang": "zh" if _CJK.search(text) else "en",
    }
    report = Report(
        channel=CHANNEL,
        source_id=source_id(partner_id, form, now.astimezone(zone).date().isoformat()),
        text=text,
        contact=Contact(phone=normalize_phone(phone), name=name or None, email=email or None),
        location=Location(lat=lat, lon=lon, address=address or None),
        category=service.category,
        attachments=tuple(_attachment(url) for url in media),
        received_at=now,
        raw=raw,
        raw_content_type=raw_content_type,
        meta=meta,
    )
    return ServiceRequestIn(service, report)


def source_id(partner_id: int, form: MultiDict[str, str], day: str) -> str:
    """The same form from the same partner on the same day is the same request (a client's retry).

    GeoReport has no idempotency key, and clients (FixMyStreet) re-send a request whose answer they
    did not get; the day keeps a genuinely new report of a recurring problem from folding into an old case.
    """
    digest = hashlib.sha256(f"{partner_id}\n{day}\n".encode())
    for key in sorted(set(form.keys()) - _NOT_CONTENT):
        for value in form.getlist(key):
            digest.update(f"{key}={value}\n".encode())
    return f"open311:{partner_id}:{digest.hexdigest()[:48]}"


def _field(form: MultiDict[str, str], name: str, limit: int, problems: list[str]) -> str:
    value = clean(form.get(name) or "")
    if len(value) > limit:
        problems.append(f"{name}: longer than {limit} characters")
        return ""
    return value


def _point(form: MultiDict[str, str], problems: list[str]) -> tuple[float | None, float | None]:
    lat_text, lon_text = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    if not lat_text and not lon_text:
        return None, None
    if not lat_text or not lon_text:
        problems.append("lat and long must both be sent")
        return None, None
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        problems.append("lat and long must be numbers (WGS84)")
        return None, None
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        problems.append("lat: must be between -90 and 90")
    elif not (math.isfinite(lon) and -180 <= lon <= 180):
        problems.append("long: must be between -180 and 180")
    else:
        return lat, lon
    return None, None


def _name(first: str, last: str) -> str:
    if _CJK.search(first + last):
        return f"{last}{first}"  # 姓 then 名, no space
    return f"{first} {last}".strip()


def _media(form: MultiDict[str, str], problems: list[str]) -> tuple[str, ...]:
    urls = [clean(url) for url in form.getlist("media_url") if url and url.strip()]
    if len(urls) > MAX_MEDIA_URLS:
        problems.append(f"media_url: at most {MAX_MEDIA_URLS}")
        return ()
    for url in urls:
        if not url.startswith(("https://", "http://")) or len(url) > MAX_URL_CHARS:
            problems.append("media_url: must be an http(s) URL")
            return ()
    return tuple(dict.fromkeys(urls))


def _attachment(url: str) -> AttachmentIn:
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    return AttachmentIn(filename=name[:255], url=url)


def _attributes(form: MultiDict[str, str], problems: list[str]) -> dict[str, list[str]]:
    """``attribute[code]`` and ``attribute[code][]`` → code → the values given (empty ones dropped)."""
    given: dict[str, list[str]] = {}
    for key in form:
        match = _ATTRIBUTE.match(key)
        if match is None:
            continue
        values = [clean(value) for value in form.getlist(key)]
        values = [value for value in values if value]
        if any(len(value) > MAX_ATTRIBUTE_CHARS for value in values):
            problems.append(f"{key}: longer than {MAX_ATTRIBUTE_CHARS} characters")
            continue
        if values:
            given.setdefault(match.group(1), []).extend(values)
    return given


def _check_attributes(
    service: ServiceSettings, given: dict[str, list[str]], zone: ZoneInfo, problems: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """The defined attributes' values, checked against their datatypes, and their lines for the agents."""
    values: dict[str, Any] = {}
    shown: list[str] = []
    for _, attribute in service.ordered_attributes():
        if not attribute.variable:
            continue  # information for the user only; nothing to answer
        items = given.get(attribute.code, [])
        label = attribute.description or attribute.code
        if not items:
            if attribute.required:
                problems.append(f"attribute[{attribute.code}] is required: {label}")
            continue
        value = _attribute_value(attribute, items, zone, problems)
        if value is None:
            continue
        values[attribute.code] = value
        if attribute.datatype == "multivaluelist":
            shown.append(f"{label}: {', '.join(attribute.value_name(key) for key in value)}")
        elif attribute.datatype == "singlevaluelist":
            shown.append(f"{label}: {attribute.value_name(value)}")
        else:
            shown.append(f"{label}: {value}")
    return values, shown


def _attribute_value(attribute: AttributeSettings, items: list[str], zone: ZoneInfo, problems: list[str]) -> Any:
    name = f"attribute[{attribute.code}]"
    keys = [value.key for value in attribute.values]
    if attribute.datatype == "multivaluelist":
        unknown = [item for item in items if item not in keys]
        if unknown:
            problems.append(f"{name}: {unknown[0]!r} is not one of {', '.join(keys)}")
            return None
        return list(dict.fromkeys(items))
    if len(items) > 1:
        problems.append(f"{name}: takes one value")
        return None
    item = items[0]
    if attribute.datatype == "singlevaluelist":
        if item not in keys:
            problems.append(f"{name}: {item!r} is not one of {', '.join(keys)}")
            return None
        return item
    if attribute.datatype == "number":
        try:
            number = float(item)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            problems.append(f"{name}: must be a number")
            return None
        return int(number) if number.is_integer() and "." not in item else number
    if attribute.datatype == "datetime":
        try:
            return parse_w3c(item, zone).isoformat()
        except ValueError:
            problems.append(f"{name}: must be an ISO 8601 date and time")
            return None
    if attribute.datatype == "string" and "\n" in item:
        problems.append(f"{name}: one line only")
        return None
    return item


def parse_w3c(text: str, zone: ZoneInfo) -> datetime:
    """A W3C date/time (``2010-01-01T00:00:00Z``, ``...+08:00``, or a date); without an offset, local time."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.combine(datetime.fromisoformat(text).date(), time(0, 0), zone)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def w3c(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """A time as the spec returns it: W3C format with the local offset."""
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment is not None else None


@dataclass(frozen=True)
class RequestQuery:
    """The arguments of ``GET requests``. ``ids`` overrides everything else."""

    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None


def parse_query(args: MultiDict[str, str], *, now: datetime, zone: ZoneInfo, max_days: int) -> RequestQuery:
    ids = _comma_list(args, "service_request_id")
    if len(ids) > MAX_QUERY_IDS:
        raise InvalidRequest([f"service_request_id: at most {MAX_QUERY_IDS} ids"])
    if ids:
        return RequestQuery(ids=ids)
    problems: list[str] = []
    statuses = tuple(status.lower() for status in _comma_list(args, "status"))
    if any(status not in ("open", "closed") for status in statuses):
        problems.append("status: open or closed (comma separated)")
    start = _date_arg(args, "start_date", zone, problems)
    end = _date_arg(args, "end_date", zone, problems)
    span = timedelta(days=max_days)
    if start is None and end is None:
        end = now
        start = now - span
    elif start is None:
        assert end is not None
        start = end - span
    elif end is None:
        end = start + span
    elif end - start > span:
        problems.append(f"start_date to end_date may not span more than {max_days} days")
    if start is not None and end is not None and end < start:
        problems.append("end_date is before start_date")
    if problems:
        raise InvalidRequest(problems)
    return RequestQuery(service_codes=_comma_list(args, "service_code"), statuses=statuses, start=start, end=end)


def _comma_list(args: MultiDict[str, str], name: str) -> tuple[str, ...]:
    # "can be declared multiple times, comma delimited": both ?a=1,2 and ?a=1&a=2.
    items = [item.strip() for value in args.getlist(name) for item in value.split(",")]
    return tuple(dict.fromkeys(item for item in items if item))


def _date_arg(args: MultiDict[str, str], name: str, zone: ZoneInfo, problems: list[str]) -> datetime | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    try:
        return parse_w3c(text, zone)
    except ValueError:
        problems.append(f"{name}: must be a W3C date/time like 2010-01-01T00:00:00Z")
        return None
