"""Website submissions → :class:`intake.Report`. Pure parsing and validation: no database, no network.

The public form (``multipart/form-data``) and the JSON API use the same field names and rules:
``description``, ``category``, ``address``, ``lat``/``lon``, ``phone`` and photos. Every problem
is collected per field (:class:`InvalidInput`) so that the form can show a message beside each.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from channels.errors import MalformedPayload
from intake.categories import is_known
from intake.i18n import translate
from intake.phones import normalize_phone
from intake.report import AttachmentIn, Contact, Location, Report

CHANNEL = "web"
MAX_DESCRIPTION_CHARS = 2000
MAX_ADDRESS_CHARS = 200
MAX_PHONE_CHARS = 32
MAX_FILENAME_CHARS = 120
#: Photos per report; each is also capped by ``worker.max_attachment_bytes``.
MAX_PHOTOS = 6
#: Longest ``Idempotency-Key`` accepted (the stored source id adds a short prefix).
MAX_IDEMPOTENCY_KEY_CHARS = 100

#: The fields a citizen fills in, in the order their errors are listed.
FIELDS = ("description", "category", "address", "lat", "lon", "phone", "photos")

# C0/C1 control characters except tab and newlines: PostgreSQL refuses NUL, and none belong in a report.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_PHONE_INPUT = re.compile(r"^\+?[0-9 ()\-.]+$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
# Chinese numbers after +86: mobiles (1[3-9]…), Beijing landlines (10 + 8 digits), other area codes.
_CN_NATIONAL = re.compile(r"^(1[3-9]\d{9}|10\d{8}|2\d{9}|[3-9]\d{9,10})$")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]+$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

#: Leading bytes → media type. Images only; the declared type is never trusted.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"})


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field, as a message key (``web.error.<key>``) and its values."""

    key: str
    values: Mapping[str, object] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        return translate(f"web.error.{self.key}", lang, **self.values)


class InvalidInput(MalformedPayload):
    """One or more fields are wrong; ``problems`` maps each field to what is wrong with it."""

    def __init__(self, problems: Mapping[str, Problem]) -> None:
        self.problems = dict(problems)
        super().__init__(self.message_in("en"))

    @property
    def first_field(self) -> str:
        return next(iter(self.problems))

    def message_in(self, lang: str) -> str:
        return "; ".join(f"{name}: {problem.text(lang)}" for name, problem in self.problems.items())

    def messages(self, lang: str) -> dict[str, str]:
        return {name: problem.text(lang) for name, problem in self.problems.items()}


class UnsupportedMediaType(MalformedPayload):
    status = 415


@dataclass(frozen=True)
class Photo:
    """An uploaded file as received; ``data`` may hold one byte more than the limit (it was cut there)."""

    filename: str
    data: bytes
    declared_type: str = ""


def new_submission_id() -> str:
    return str(uuid.uuid4())


def is_submission_id(value: str | None) -> bool:
    return bool(value) and _UUID.match(value or "") is not None


def sniff_image(data: bytes) -> str | None:
    """The image type ``data`` starts with, or ``None`` if it is not an image we take."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic"
    return None


def clean_text(value: str) -> str:
    """NFC-normalized, control characters removed, outer whitespace stripped."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", value)).strip()


def from_form(
    form: Mapping[str, str],
    photos: Sequence[Photo],
    *,
    lang: str,
    max_photo_bytes: int,
) -> Report:
    """The public form's fields (all strings) and uploaded photos → a report, or :class:`InvalidInput`."""
    problems: dict[str, Problem] = {}
    source_id = form.get("submission_id", "")
    if not is_submission_id(source_id):
        # A form not rendered by us (or tampered with): still a report, just without double-submit protection.
        source_id = new_submission_id()
    lat = _form_number(form.get("lat", ""), "lat", problems)
    lon = _form_number(form.get("lon", ""), "lon", problems)
    fields = _common(
        description=form.get("description", ""),
        category=form.get("category", ""),
        address=form.get("address", ""),
        lat=lat,
        lon=lon,
        phone=form.get("phone", ""),
        photos=photos,
        max_photo_bytes=max_photo_bytes,
        problems=problems,
    )
    raw = {name: form.get(name, "") for name in ("description", "category", "address", "lat", "lon", "phone")}
    raw["photos"] = [photo.filename for photo in photos]  # type: ignore[assignment]
    return _report(source_id, fields, problems, lang=lang, via="form", raw=raw)


def api_source_id(idempotency_key: str | None, client: str) -> str:
    """The source id of an API report: the client's ``Idempotency-Key`` (scoped to it) or a fresh one."""
    if idempotency_key is None:
        return f"api:{client}:{new_submission_id()}"
    key = idempotency_key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_CHARS or not _IDEMPOTENCY_KEY.match(key):
        raise InvalidInput(
            {"Idempotency-Key": Problem("idempotency_key", {"max": MAX_IDEMPOTENCY_KEY_CHARS})},
        )
    # Scoped by client so that two partners who both pick "1" do not see each other's cases.
    return f"api:{client}:{key}"


def from_json(body: bytes, content_type: str, *, source_id: str, lang: str, max_photo_bytes: int) -> Report:
    """A ``POST /api/v1/reports`` body → a report, or :class:`InvalidInput`/:class:`UnsupportedMediaType`."""
    media_type, params = _parse_content_type(content_type)
    if media_type != "application/json":
        raise UnsupportedMediaType("body: send Content-Type: application/json")
    charset = params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"body: charset {charset} is not supported; send UTF-8")
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise InvalidInput({"body": Problem("not_utf8")}) from err
    except ValueError as err:
        raise InvalidInput({"body": Problem("not_json")}) from err
    if not isinstance(document, dict):
        raise InvalidInput({"body": Problem("not_object")})
    problems: dict[str, Problem] = {}
    unknown = sorted(set(document) - {*FIELDS, "lang"})
    if unknown:
        problems[unknown[0]] = Problem("unknown_field")
    strings = {}
    for name in ("description", "category", "address", "phone"):
        value = document.get(name)
        if value is not None and not isinstance(value, str):
            problems[name] = Problem("type_string")
            value = None
        strings[name] = value or ""
    lat = _json_number(document.get("lat"), "lat", problems)
    lon = _json_number(document.get("lon"), "lon", problems)
    photos = _json_photos(document.get("photos"), max_photo_bytes, problems)
    report_lang = document.get("lang")
    if report_lang is not None and report_lang not in ("zh", "en"):
        problems["lang"] = Problem("lang")
    fields = _common(
        **strings,
        lat=lat,
        lon=lon,
        photos=photos,
        max_photo_bytes=max_photo_bytes,
        problems=problems,
    )
    # Photo bytes are kept once, as attachments; the raw copy names them instead of repeating them.
    raw = {**document, "photos": [photo.filename for photo in photos]} if "photos" in document else document
    return _report(source_id, fields, problems, lang=report_lang or lang, via="api", raw=raw)


@dataclass
class _Fields:
    description: str = ""
    category: str | None = None
    address: str = ""
    lat: float | None = None
    lon: float | None = None
    phone: str | None = None
    attachments: tuple[AttachmentIn, ...] = ()


def _common(
    *,
    description: str,
    category: str,
    address: str,
    lat: float | None,
    lon: float | None,
    phone: str,
    photos: Sequence[Photo],
    max_photo_bytes: int,
    problems: dict[str, Problem],
) -> _Fields:
    out = _Fields()
    out.description = _required_text(description, "description", MAX_DESCRIPTION_CHARS, problems)
    out.address = _required_text(address, "address", MAX_ADDRESS_CHARS, problems)
    category = category.strip()
    if category and not is_known(category):
        problems.setdefault("category", Problem("unknown_category"))
    out.category = category or None
    _check_point(lat, lon, problems)
    out.lat, out.lon = lat, lon
    out.phone = _phone(phone, problems)
    out.attachments = _attachments(photos, max_photo_bytes, problems)
    return out


def _report(
    source_id: str, fields: _Fields, problems: dict[str, Problem], *, lang: str, via: str, raw: dict[str, Any]
) -> Report:
    if problems:
        order = {name: index for index, name in enumerate(FIELDS)}
        raise InvalidInput(dict(sorted(problems.items(), key=lambda item: order.get(item[0], -1))))
    return Report(
        channel=CHANNEL,
        source_id=source_id,
        text=fields.description,
        contact=Contact(phone=fields.phone),
        location=Location(lat=fields.lat, lon=fields.lon, address=fields.address),
        category=fields.category,
        attachments=fields.attachments,
        raw=json.dumps(raw, ensure_ascii=False).encode("utf-8"),
        raw_content_type="application/json",
        meta={"lang": "en" if lang == "en" else "zh", "via": via},
    )


def _required_text(value: str, name: str, limit: int, problems: dict[str, Problem]) -> str:
    text = clean_text(value)
    if name in problems:
        return ""
    if not text:
        problems[name] = Problem("required")
    elif len(text) > limit:
        problems[name] = Problem("too_long", {"max": limit, "length": len(text)})
    return text


def _form_number(value: str, name: str, problems: dict[str, Problem]) -> float | None:
    text = clean_text(value)
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        problems[name] = Problem("not_number")
        return None
    if not math.isfinite(number):
        problems[name] = Problem("not_number")
        return None
    return number


def _json_number(value: object, name: str, problems: dict[str, Problem]) -> float | None:
    if value is None:
        return None
    # bool is an int in Python, but true is not a latitude.
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems[name] = Problem("type_number")
        return None
    number = float(value)
    if not math.isfinite(number):
        problems[name] = Problem("type_number")
        return None
    return number


def _check_point(lat: float | None, lon: float | None, problems: dict[str, Problem]) -> None:
    if "lat" in problems or "lon" in problems:
        return
    if lat is not None and not -90 <= lat <= 90:
        problems["lat"] = Problem("lat_range")
    if lon is not None and not -180 <= lon <= 180:
        problems["lon"] = Problem("lon_range")
    if (lat is None) != (lon is None):
        problems["lon" if lon is None else "lat"] = Problem("point_incomplete")


def _phone(value: str, problems: dict[str, Problem]) -> str | None:
    text = clean_text(value)
    if "phone" in problems:
        return None
    if not text:
        problems["phone"] = Problem("required")
        return None
    if len(text) > MAX_PHONE_CHARS or not _PHONE_INPUT.match(text):
        problems["phone"] = Problem("phone")
        return None
    phone = normalize_phone(text)
    if phone is None or not _E164.match(phone) or (phone.startswith("+86") and not _CN_NATIONAL.match(phone[3:])):
        problems["phone"] = Problem("phone")
        return None
    return phone


def _attachments(photos: Sequence[Photo], limit: int, problems: dict[str, Problem]) -> tuple[AttachmentIn, ...]:
    if "photos" in problems:
        return ()
    if len(photos) > MAX_PHOTOS:
        problems["photos"] = Problem("photo_count", {"max": MAX_PHOTOS})
        return ()
    out = []
    for photo in photos:
        name = _filename(photo.filename)
        if len(photo.data) > limit:
            problems["photos"] = Problem("photo_size", {"name": name, "size": human_size(limit)})
            return ()
        media_type = sniff_image(photo.data)
        if media_type is None:
            problems["photos"] = Problem("photo_type", {"name": name})
            return ()
        out.append(AttachmentIn(filename=name, content_type=media_type, data=photo.data))
    return tuple(out)


def _json_photos(value: object, limit: int, problems: dict[str, Problem]) -> list[Photo]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        problems["photos"] = Problem("photos_shape")
        return []
    if len(value) > MAX_PHOTOS:
        problems["photos"] = Problem("photo_count", {"max": MAX_PHOTOS})
        return []
    photos = []
    for index, item in enumerate(value):
        filename = item.get("filename") or f"photo-{index + 1}"
        encoded = item.get("data_base64")
        if not isinstance(filename, str) or not isinstance(encoded, str) or not encoded:
            problems["photos"] = Problem("photos_shape")
            return []
        # Refuse an oversized photo before decoding it: base64 is 4 characters per 3 bytes.
        if len(encoded) > (limit // 3 + 2) * 4:
            problems["photos"] = Problem("photo_size", {"name": _filename(filename), "size": human_size(limit)})
            return []
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            problems["photos"] = Problem("photo_base64", {"name": _filename(filename)})
            return []
        declared = item.get("content_type")
        photos.append(Photo(filename=filename, data=data, declared_type=declared if isinstance(declared, str) else ""))
    return photos


def _filename(value: str) -> str:
    # Browsers on Windows used to send a full path; keep the last part only.
    name = clean_text(value.replace("\\", "/").rsplit("/", 1)[-1])
    return name[:MAX_FILENAME_CHARS] or "photo"


def human_size(size: int) -> str:
    """``10485760`` → ``10 MB``, ``2048`` → ``2 KB``."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{max(1, size // 1024)} KB"


def _parse_content_type(header: str) -> tuple[str, dict[str, str]]:
    media_type, _, rest = header.partition(";")
    params = {}
    for part in rest.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), params
