"""The camera receivers: Hikvision and Dahua (HTTP Basic/Digest), ONVIF (URL token), generic (HMAC).

Every receiver authenticates first (nothing of an unauthenticated request is kept), then parses; a
body that cannot be read is still kept, with the reason, and the sender is told what was wrong (400),
a well-formed event we do not handle gets 422. Whatever a device sends, the receiver answers: a parser
failure is logged and answered like a malformed body, a Redis outage with 503 (devices resend).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import Blueprint, Response, jsonify, request
from redis.exceptions import RedisError
from werkzeug.exceptions import RequestEntityTooLarge

from channels.camera import dahua, generic, hikvision, ingest, onvif, registry
from channels.camera.alarm import Parsed
from channels.camera.auth import Verdict, challenges, check_basic, check_digest, derive_secret, token_hash
from channels.camera.models import AlarmStatus, SenderAuth
from channels.camera.settings import camera_settings, secret_key, timezone_name
from channels.errors import AuthFailed, ChannelError
from intake.web import csrf, limiter, runtime

log = logging.getLogger(__name__)

bp = Blueprint("camera", __name__)
csrf.exempt(bp)
# Devices are authenticated per request and a storm is their normal behaviour: no rate limits here
# (and the limiter's per-request bookkeeping is a noticeable part of a receiver's cost).
limiter.exempt(bp)


@limiter.request_filter
def _camera_request() -> bool:
    """Camera requests skip the limiter's limit resolution: exempting the blueprint alone still has it
    resolve the limits of every request (measured: 0.490 → 0.467 ms an alarm in-process)."""
    return request.blueprint == bp.name


Parser = Callable[..., Parsed]
SENDER_HEADER = "X-Gridline-Sender"
TIMESTAMP_HEADER = "X-Gridline-Timestamp"
SIGNATURE_HEADER = "X-Gridline-Signature"


@bp.before_request
def _body_limit() -> None:
    # An NVR's multipart with several pictures is larger than the site-wide limit meant for forms.
    request.max_content_length = camera_settings(runtime().config).max_body_bytes


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(err: RequestEntityTooLarge) -> Response:
    limit = camera_settings(runtime().config).max_body_bytes
    return _answer("", 413, f"body larger than {limit} bytes")


@bp.post("/channels/camera/hikvision", defaults={"_rest": ""})
@bp.post("/channels/camera/hikvision/<path:_rest>")
def hikvision_push(_rest: str) -> Response:
    """Hikvision "HTTP listening" / alarm server; the device's URL may carry any path below this one."""
    return _http_device(hikvision.VENDOR, hikvision.parse)


@bp.post("/channels/camera/dahua", defaults={"_rest": ""})
@bp.post("/channels/camera/dahua/<path:_rest>")
def dahua_push(_rest: str) -> Response:
    return _http_device(dahua.VENDOR, dahua.parse)


@bp.post("/channels/camera/onvif/<token>")
def onvif_notify(token: str) -> Response:
    """The consumer address given to the device's Subscribe; the token in it says who the device is."""
    received = time.time()
    sender = registry.senders().by_token.get(token_hash(token))
    if sender is None or sender.auth != SenderAuth.TOKEN:
        log.warning("camera onvif: unknown consumer token refused (403)")
        return _answer(onvif.VENDOR, 403, "unknown consumer token")
    return _receive(sender.id, onvif.VENDOR, onvif.parse, received)


@bp.post("/channels/camera/generic")
def generic_push() -> Response:
    received = time.time()
    rt = runtime()
    name = request.headers.get(SENDER_HEADER, "")
    sender = registry.senders().by_name.get(name)
    try:
        if sender is None or sender.auth != SenderAuth.HMAC or not sender.hmac_salt:
            raise AuthFailed(f"unknown sender (header {SENDER_HEADER})")
        secret = derive_secret(secret_key(rt), sender.name, sender.hmac_salt)
        tolerance = camera_settings(rt.config).hmac_tolerance_seconds
        signature = request.headers.get(SIGNATURE_HEADER, "")
        generic.verify(
            secret,
            request.headers.get(TIMESTAMP_HEADER, ""),
            signature,
            request.get_data(cache=True),
            now=received,
            tolerance_seconds=tolerance,
        )
        # A signature is good once: a captured request resent within the tolerance is a replay.
        if not rt.redis.set(rt.key("camera", "hmac", signature[-64:]), 1, nx=True, ex=2 * tolerance):
            raise AuthFailed("replayed request: this signature was used already")
    except AuthFailed as err:
        log.warning("camera generic webhook refused (403): %s", err.message)
        return _answer(generic.VENDOR, 403, err.message)
    return _receive(sender.id, generic.VENDOR, generic.parse, received)


def _http_device(vendor: str, parser: Parser) -> Response:
    received = time.time()
    rt = runtime()
    auth = request.authorization
    key = secret_key(rt)
    if auth is None:
        return _challenge(vendor, key, received, "authentication required (HTTP Basic or Digest)")
    sender = registry.senders().by_name.get(auth.username or auth.parameters.get("username") or "")
    verdict = Verdict.BAD
    if sender is not None and sender.auth == SenderAuth.HTTP and sender.ha1:
        if auth.type == "basic":
            verdict = check_basic(auth, sender.ha1)
        elif auth.type == "digest":
            verdict = check_digest(auth, sender.ha1, request.method, request.path, key, received)
    if verdict is Verdict.STALE:
        return _challenge(vendor, key, received, "stale nonce", stale=True)
    if verdict is not Verdict.OK or sender is None:
        log.warning("camera %s: bad credentials refused (401)", vendor)
        return _challenge(vendor, key, received, "unknown sender or wrong password")
    return _receive(sender.id, vendor, parser, received)


def _receive(sender_id: int, vendor: str, parser: Parser, received: float) -> Response:
    rt = runtime()
    settings = camera_settings(rt.config)
    raw = request.get_data(cache=True)
    content_type = request.headers.get("Content-Type", "")
    try:
        try:
            parsed = parser(
                raw, content_type, zone=timezone_name(rt.config), max_picture_bytes=settings.max_picture_bytes
            )
        except ChannelError as err:
            status = AlarmStatus.UNKNOWN_EVENT if err.status == 422 else AlarmStatus.REJECTED
            ingest.reject(sender_id, vendor, raw, content_type, received, status, err.message)
            log.info("camera %s alarm from sender %s kept as %s (%s)", vendor, sender_id, status, err.status)
            return _answer(vendor, err.status, err.message)
        except Exception as err:
            # A parser bug must cost neither the alarm nor the answer.
            log.exception("camera %s parser failed on a %d-byte body from sender %s", vendor, len(raw), sender_id)
            reason = f"could not be read ({type(err).__name__})"
            ingest.reject(sender_id, vendor, raw, content_type, received, AlarmStatus.REJECTED, reason)
            return _answer(vendor, 400, reason)
        ingest.accept(sender_id, vendor, parsed, raw, content_type, received)
    except RedisError:
        log.warning("camera %s alarm from sender %s not stored: Redis unavailable (503)", vendor, sender_id)
        return _answer(vendor, 503, "cannot store the alarm right now; send it again")
    if vendor == generic.VENDOR:
        return jsonify({"accepted": len(parsed.alarms), "repaired": list(parsed.notes)})
    return _answer(vendor, 200, "OK")


def _answer(vendor: str, status: int, message: str) -> Response:
    if vendor == generic.VENDOR:
        response = jsonify({"error": message, "status": status})
        response.status_code = status
        return response
    response = Response(message, status=status, mimetype="text/plain")
    if status >= 400:
        response.headers["X-Gridline-Error"] = message.encode("ascii", "backslashreplace").decode()[:300]
    return response


def _challenge(vendor: str, key: bytes, now: float, message: str, *, stale: bool = False) -> Response:
    response = _answer(vendor, 401, message)
    for value in challenges(key, now, stale=stale):
        response.headers.add("WWW-Authenticate", value)
    return response
