"""Twilio Voice webhooks: the request checks, and the forms Twilio posts read into typed values.

Twilio posts ``application/x-www-form-urlencoded`` with its standard voice parameters (``CallSid``,
``AccountSid``, ``From``, ``To``, ``CallStatus``, ``Direction``, ``ApiVersion``, ...) plus those of
the verb that called back: ``Digits`` (<Gather>), ``RecordingUrl``/``RecordingDuration`` (<Record>
action), ``RecordingSid``/``RecordingStatus`` (recordingStatusCallback), ``QueuePosition``/
``QueueTime``/``AvgQueueTime``/``CurrentQueueSize``/``MaxQueueSize`` (<Enqueue waitUrl>),
``QueueResult``/``QueueTime`` (<Enqueue action>), ``DequeingCallSid`` (<Queue url>), ``DialCallStatus``
(<Dial action>), ``CallDuration``/``SequenceNumber``/``Timestamp`` (status callbacks).
Parsing is pure; a missing or wrong field raises MalformedPayload naming it.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from flask import Request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from intake.config import Config
from intake.phones import normalize_phone
from ivr.errors import AuthFailed, MalformedPayload, UnknownEvent, UnsupportedMediaType

FORM = "application/x-www-form-urlencoded"
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
_DIGITS = re.compile(r"^[0-9*#]{0,64}$")

#: CallStatus values (TwiML request parameters; also DialCallStatus's).
CALL_STATUSES = frozenset(
    {"queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"}
)
#: QueueResult values of <Enqueue action>.
QUEUE_RESULTS = frozenset(
    {
        "bridged",
        "bridging-in-process",
        "error",
        "hangup",
        "leave",
        "redirected",
        "redirected-from-bridged",
        "queue-full",
        "system-error",
    }
)
#: DialCallStatus values of <Dial action>.
DIAL_STATUSES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})
#: RecordingStatus values of recordingStatusCallback.
RECORDING_STATUSES = frozenset({"in-progress", "completed", "absent", "failed"})


def read_form(request: Request, config: Config) -> MultiDict[str, str]:
    """The webhook's form, once content type, encoding and X-Twilio-Signature are checked."""
    if request.mimetype != FORM:
        raise UnsupportedMediaType(f"expected {FORM}")
    try:
        request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError as err:
        raise MalformedPayload("body is not UTF-8") from err
    if config.twilio.validate_signatures:
        check_signature(request, config.twilio.auth_token, config.public_url)
    return request.form


def check_signature(request: Request, auth_token: str, public_url: str) -> None:
    """Raise AuthFailed unless ``X-Twilio-Signature`` signs this URL and form with ``auth_token``."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        raise AuthFailed("missing X-Twilio-Signature header")
    if not auth_token:
        raise AuthFailed("no Twilio auth token is configured (GRIDLINE_TWILIO__AUTH_TOKEN)")
    url = request_url(request, public_url)
    validator = RequestValidator(auth_token)
    # One HMAC for the usual case; validate() also tries the URL with and without its port.
    if hmac.compare_digest(validator.compute_signature(url, request.form), signature):
        return
    if not validator.validate(url, request.form, signature):
        raise AuthFailed("X-Twilio-Signature does not match this request")


def request_url(request: Request, public_url: str) -> str:
    """The URL Twilio called: the configured public URL (behind a TLS proxy) plus path and query."""
    if not public_url:
        return request.url
    query = request.query_string.decode("latin-1")
    return f"{public_url}{request.path}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class CallParams:
    call_sid: str
    #: The caller's number in E.164, or None (withheld, or a client identity).
    caller: str | None
    called: str
    status: str
    direction: str


def call_params(form: MultiDict[str, str]) -> CallParams:
    call_sid = form.get("CallSid", "")
    if not _CALL_SID.match(call_sid):
        raise MalformedPayload("CallSid: missing or not a Twilio call SID")
    status = form.get("CallStatus", "")
    if status and status not in CALL_STATUSES:
        raise UnknownEvent(f"CallStatus {status!r} is not a call status")
    return CallParams(call_sid, _phone(form.get("From", "")), form.get("To", ""), status, form.get("Direction", ""))


def incoming_call(form: MultiDict[str, str]) -> CallParams:
    """The first webhook of a call to the hotline number."""
    if form.get("CallbackSource") == "call-progress-events":
        raise UnknownEvent("a call status callback was posted to the incoming-call URL")
    if form.get("RecordingSid") or form.get("QueueResult"):
        raise UnknownEvent("not an incoming call: it carries RecordingSid or QueueResult")
    call = call_params(form)
    if call.status in ("completed", "busy", "failed", "no-answer", "canceled"):
        raise UnknownEvent(f"an incoming call cannot be {call.status}")
    return call


def digits(form: MultiDict[str, str]) -> str:
    """The keys a <Gather> collected (without the finishing key)."""
    value = form.get("Digits", "")
    if not _DIGITS.match(value):
        raise MalformedPayload("Digits: only 0-9, * and # are keys")
    return value


@dataclass(frozen=True)
class RecordingAction:
    url: str
    duration_seconds: int | None
    #: The key that ended it, or ``hangup``.
    ended_by: str


def recording_action(form: MultiDict[str, str]) -> RecordingAction | None:
    """<Record>'s action request; None when it carries no recording."""
    url = form.get("RecordingUrl", "")
    if not url:
        return None
    if not url.startswith(("https://", "http://")):
        raise MalformedPayload("RecordingUrl: not an http(s) URL")
    return RecordingAction(url, _int(form, "RecordingDuration"), form.get("Digits", ""))


@dataclass(frozen=True)
class RecordingStatus:
    call_sid: str
    recording_sid: str
    url: str
    status: str
    duration_seconds: int | None


def recording_status(form: MultiDict[str, str]) -> RecordingStatus:
    """A recordingStatusCallback."""
    call_sid = form.get("CallSid", "")
    if not _CALL_SID.match(call_sid):
        raise MalformedPayload("CallSid: missing or not a Twilio call SID")
    recording_sid = form.get("RecordingSid", "")
    if not _RECORDING_SID.match(recording_sid):
        raise MalformedPayload("RecordingSid: missing or not a Twilio recording SID")
    status = form.get("RecordingStatus", "")
    if not status:
        raise MalformedPayload("RecordingStatus: missing")
    if status not in RECORDING_STATUSES:
        raise UnknownEvent(f"RecordingStatus {status!r} is not a recording status")
    url = form.get("RecordingUrl", "")
    if status == "completed" and not url.startswith(("https://", "http://")):
        raise MalformedPayload("RecordingUrl: missing or not an http(s) URL")
    return RecordingStatus(call_sid, recording_sid, url, status, _int(form, "RecordingDuration"))


@dataclass(frozen=True)
class WaitParams:
    position: int
    size: int | None
    queue_time: int | None


def queue_wait(form: MultiDict[str, str]) -> WaitParams:
    """<Enqueue waitUrl>'s request."""
    position = _int(form, "QueuePosition", required=True)
    assert position is not None
    return WaitParams(position, _int(form, "CurrentQueueSize"), _int(form, "QueueTime"))


def queue_result(form: MultiDict[str, str]) -> tuple[str, int | None]:
    """<Enqueue action>'s QueueResult and QueueTime (seconds)."""
    result = form.get("QueueResult", "")
    if not result:
        raise MalformedPayload("QueueResult: missing")
    if result not in QUEUE_RESULTS:
        raise UnknownEvent(f"QueueResult {result!r} is not a queue result")
    return result, _int(form, "QueueTime")


def dequeued(form: MultiDict[str, str]) -> tuple[str, int | None]:
    """<Queue url>'s request (run on the waiting caller's call): the caller's CallSid and QueueTime."""
    call = call_params(form)
    if not _CALL_SID.match(form.get("DequeingCallSid", "")):
        raise MalformedPayload("DequeingCallSid: missing or not a Twilio call SID")
    return call.call_sid, _int(form, "QueueTime")


def dial_status(form: MultiDict[str, str]) -> str:
    status = form.get("DialCallStatus", "")
    if not status:
        raise MalformedPayload("DialCallStatus: missing")
    if status not in DIAL_STATUSES:
        raise UnknownEvent(f"DialCallStatus {status!r} is not a dial status")
    return status


@dataclass(frozen=True)
class StatusParams:
    call_sid: str
    status: str
    duration_seconds: int | None
    at: datetime | None


def status_callback(form: MultiDict[str, str]) -> StatusParams:
    """A call status callback (``completed``, ``busy``, ``no-answer``, ``failed``, ``canceled``, ...)."""
    call = call_params(form)
    if not call.status:
        raise MalformedPayload("CallStatus: missing")
    stamp = form.get("Timestamp", "")
    at = None
    if stamp:
        try:
            at = parsedate_to_datetime(stamp)
        except (TypeError, ValueError) as err:
            raise MalformedPayload("Timestamp: not an RFC 2822 date") from err
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    _int(form, "SequenceNumber")
    return StatusParams(call.call_sid, call.status, _int(form, "CallDuration"), at)


def _int(form: MultiDict[str, str], name: str, *, required: bool = False) -> int | None:
    value = form.get(name, "")
    if not value:
        if required:
            raise MalformedPayload(f"{name}: missing")
        return None
    if not value.isdigit() or len(value) > 9:
        raise MalformedPayload(f"{name}: not a whole number")
    return int(value)


def _phone(value: str) -> str | None:
    if not value or value.startswith("client:") or not any(char.isdigit() for char in value):
        return None
    return normalize_phone(value)
