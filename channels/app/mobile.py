"""What the phone-facing APIs share: reading a report (text, point, photos) from JSON or multipart,
reading bearer tokens, and answering errors as JSON.

Pages on phones post ``multipart/form-data`` (photos as files: no base64 bloat over a mobile link);
other clients may post JSON with photos as ``data_base64``, the shape of ``POST /api/v1/reports``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Request, Response, jsonify

from channels.app.errors import InvalidField, NotSignedIn, TooLarge, error_code
from channels.errors import ChannelError
from channels.web.adapter import MAX_PHOTOS, clean_text, human_size, sniff_image
from intake.categories import is_known
from intake.i18n import translate
from intake.report import AttachmentIn

MAX_DESCRIPTION_CHARS = 2000
MAX_ADDRESS_CHARS = 200
MAX_NOTE_CHARS = 2000
MAX_FILENAME_CHARS = 120
#: An idempotency key: what the phone generated for this one report, so a retry is one report.
_CLIENT_ID = re.compile(r"^[\x21-\x7e]{1,64}$")


@dataclass(frozen=True)
class Body:
    """A request body's fields (strings, numbers, booleans) and its photos, whatever its encoding."""

    fields: dict[str, Any]
    photos: tuple[AttachmentIn, ...]
    raw: bytes
    content_type: str


@dataclass(frozen=True)
class MobileReport:
    text: str
    category: str | None
    address: str | None
    lat: float | None
    lon: float | None
    photos: tuple[AttachmentIn, ...]
    client_id: str
    raw: bytes


def json_object(request: Request) -> dict[str, Any]:
    """A small request's JSON object (no body: empty); any other JSON is :class:`InvalidField`, not a 500."""
    body = request.get_json(silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidField("body", "must be a JSON object")
    return body


def read_body(request: Request, *, max_photo_bytes: int) -> Body:
    """The body of a JSON or multipart request; :class:`InvalidField` naming what is wrong."""
    if request.mimetype == "multipart/form-data":
        fields: dict[str, Any] = {key: request.form.get(key, "") for key in request.form}
        uploads = [upload for upload in request.files.getlist("photos") if upload.filename]
        if len(uploads) > MAX_PHOTOS:
            raise InvalidField("photos", f"at most {MAX_PHOTOS}")
        photos = tuple(
            _photo(upload.filename or "", upload.stream.read(max_photo_bytes + 1), max_photo_bytes)
            for upload in uploads
        )
        raw = json.dumps({**fields, "photos": [p.filename for p in photos]}, ensure_ascii=False).encode()
        return Body(fields, photos, raw, "application/json")
    if request.mimetype != "application/json":
        raise InvalidField("body", "send application/json or multipart/form-data")
    try:
        document = json.loads(request.get_data(cache=False).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidField("body", "not valid UTF-8 JSON") from err
    if not isinstance(document, dict):
        raise InvalidField("body", "must be a JSON object")
    photos = _json_photos(document.get("photos"), max_photo_bytes)
    fields = {key: value for key, value in document.items() if key != "photos"}
    # Photo bytes are kept once, as attachments; the raw copy names them instead of repeating them.
    raw = json.dumps({**fields, "photos": [p.filename for p in photos]}, ensure_ascii=False).encode()
    return Body(fields, photos, raw, "application/json")


def parse_report(body: Body, *, client_id: str | None, require_point: bool = False) -> MobileReport:
    """A report's fields: ``description`` (required), ``category``, ``address``, ``lat``/``lon``, photos."""
    fields = body.fields
    text = text_field(fields, "description", MAX_DESCRIPTION_CHARS, required=True)
    address = text_field(fields, "address", MAX_ADDRESS_CHARS) or None
    category = text_field(fields, "category", 64) or None
    if category and not is_known(category):
        raise InvalidField("category", f"unknown category {category!r}")
    lat, lon = number_field(fields, "lat"), number_field(fields, "lon")
    if (lat is None) != (lon is None):
        raise InvalidField("lon" if lon is None else "lat", "give both lat and lon")
    if lat is not None and not -90 <= lat <= 90:
        raise InvalidField("lat", "must be between -90 and 90")
    if lon is not None and not -180 <= lon <= 180:
        raise InvalidField("lon", "must be between -180 and 180")
    if require_point and lat is None:
        raise InvalidField("lat", "required")
    return MobileReport(text, category, address, lat, lon, body.photos, idempotency_key(client_id, fields), body.raw)


def idempotency_key(header: str | None, fields: dict[str, Any]) -> str:
    """The phone's own id for the report (header ``Idempotency-Key`` or field ``client_id``), else a new one."""
    value = (header or str(fields.get("client_id") or "")).strip()
    if not value:
        return str(uuid.uuid4())  # no retry protection asked for
    if not _CLIENT_ID.match(value):
        raise InvalidField("client_id", "1 to 64 visible ASCII characters")
    return value


def text_field(fields: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = fields.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidField(name, "must be a string")
    text = clean_text(value)
    if required and not text:
        raise InvalidField(name, "required")
    if len(text) > limit:
        raise InvalidField(name, f"longer than {limit} characters")
    return text


def number_field(fields: dict[str, Any], name: str) -> float | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):  # bool is an int in Python, but true is not a latitude
        raise InvalidField(name, "must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise InvalidField(name, "must be a number") from err
    if not math.isfinite(number):
        raise InvalidField(name, "must be a number")
    return number


def bool_field(fields: dict[str, Any], name: str) -> bool:
    value = fields.get(name)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0", "no"):
        return False
    raise InvalidField(name, "true or false")


def _photo(filename: str, data: bytes, limit: int) -> AttachmentIn:
    name = clean_text(filename.replace("\\", "/").rsplit("/", 1)[-1])[:MAX_FILENAME_CHARS] or "photo"
    if len(data) > limit:
        raise TooLarge("photos", f"{name} is larger than {human_size(limit)}")
    media_type = sniff_image(data)
    if media_type is None:
        # The declared type is never trusted: only the bytes say what a file is.
        raise InvalidField("photos", f"{name} is not a JPEG, PNG, GIF, WebP or HEIC picture")
    return AttachmentIn(filename=name, content_type=media_type, data=data)


def _json_photos(value: object, limit: int) -> tuple[AttachmentIn, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidField("photos", "a list of {filename, data_base64} objects")
    if len(value) > MAX_PHOTOS:
        raise InvalidField("photos", f"at most {MAX_PHOTOS}")
    photos = []
    for index, item in enumerate(value):
        filename, encoded = item.get("filename") or f"photo-{index + 1}", item.get("data_base64")
        if not isinstance(filename, str) or not isinstance(encoded, str) or not encoded:
            raise InvalidField("photos", "a list of {filename, data_base64} objects")
        if len(encoded) > (limit // 3 + 2) * 4:  # refuse before decoding: 4 characters per 3 bytes
            raise TooLarge("photos", f"{filename} is larger than {human_size(limit)}")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as err:
            raise InvalidField("photos", f"{filename}: data_base64 is not base64") from err
        photos.append(_photo(filename, data, limit))
    return tuple(photos)


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotSignedIn("missing bearer token (Authorization: Bearer <token>)")
    return token.strip()


def error_response(err: ChannelError) -> Response:
    body: dict[str, Any] = {"error": err.message, "status": err.status}
    if isinstance(err, InvalidField):
        body["field"] = err.field
    response = jsonify(body)
    response.status_code = err.status
    if err.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    retry_after = getattr(err, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def localized_error_response(err: ChannelError, lang: str) -> Response:
    """The citizen app's error answer: ``code`` (stable, for programs), ``error`` (a message in the user's
    language, shown by the page), ``detail`` (the technical reason in English), ``status`` and ``field``."""
    code = error_code(err)
    values: dict[str, object] = {}
    if isinstance(err, InvalidField):
        label = translate(f"app.field.{err.field}", lang)
        values["field"] = err.field if label == f"app.field.{err.field}" else label
    retry_after = getattr(err, "retry_after", None)
    if retry_after:
        values["seconds"] = retry_after
    message = translate(f"app.error.{code}", lang, **values)
    if message == f"app.error.{code}":  # no message for this code: the generic one
        message = translate("app.error.error", lang)
    response = error_response(err)
    body = response.get_json()
    body.update({"code": code, "error": message, "detail": err.message})
    response.set_data(json.dumps(body, ensure_ascii=False))
    response.headers["Content-Language"] = "zh-CN" if lang == "zh" else "en"
    return response


def local_phone(value: object) -> str:
    """A mainland mobile number as typed (``138 1234 8000``, ``+86…``) → E.164; :class:`InvalidField` otherwise."""
    from intake.phones import normalize_phone

    text = clean_text(value) if isinstance(value, str) else ""
    phone = normalize_phone(text) if text and len(text) <= 32 else None
    if phone is None or not re.fullmatch(r"\+861[3-9]\d{9}", phone):
        raise InvalidField("phone", "a mainland mobile number (11 digits starting with 1)")
    return phone
