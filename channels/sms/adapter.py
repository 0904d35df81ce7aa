"""Twilio Messaging webhooks → what the citizen wants: a report, a status query, STOP/START, help.

Pure parsing, no database or network. Twilio posts ``application/x-www-form-urlencoded`` with
``MessageSid``, ``From``, ``To``, ``Body``, ``NumMedia`` and ``MediaUrlN``/``MediaContentTypeN``.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from enum import StrEnum

from werkzeug.datastructures import MultiDict

from channels.errors import MalformedPayload, UnknownEvent
from intake.outbound import KNOWN_DELIVERY_STATUSES
from intake.phones import normalize_phone
from intake.report import AttachmentIn, Contact, Report

CHANNEL = "sms"
#: Twilio delivers at most ten media items per message.
MAX_MEDIA = 10
_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
_CJK = re.compile(r"[\u3400-\u9fff]")
_CASE_NUMBER = r"(\d{8}-\d{6,7})"

#: Twilio's standard opt-out and opt-in keywords, plus the usual Chinese ones.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "退订", "TD"})
START_WORDS = frozenset({"START", "YES", "UNSTOP", "订阅"})
HELP_WORDS = frozenset({"HELP", "INFO", "帮助"})
_QUERY = re.compile(rf"^\s*(?:CX|查询)\s*[:：]?\s*{_CASE_NUMBER}\s*$", re.IGNORECASE)
#: "NEW <text>" / "新 <text>" opens a new case even while the sender has one open.
#: Answers to the satisfaction question; full-width digits are folded first.
RATING_WORDS = {"1": 1, "2": 2, "3": 3, "满意": 1, "基本满意": 2, "不满意": 3}
_FULL_WIDTH_DIGITS = str.maketrans("１２３", "123")
_NEW_CASE = re.compile(r"^\s*(?:NEW|新件|新建|新)(?:\s*[:：]\s*|\s+)", re.IGNORECASE)


class Intent(StrEnum):
    REPORT = "report"  # joins the sender's open case, or opens one
    NEW_CASE = "new_case"
    STATUS_QUERY = "status_query"
    STOP = "stop"
    START = "start"
    HELP = "help"
    #: A bare 1/2/3 (or 满意/基本满意/不满意): the answer to the closing SMS's question, when one is
    #: awaited; otherwise it is an ordinary report (the view decides, it knows the database).
    RATING = "rating"


@dataclass(frozen=True)
class InboundSms:
    intent: Intent
    message_sid: str
    phone: str
    lang: str
    report: Report | None = None
    case_number: str | None = None
    rating: int | None = None


def parse(form: MultiDict[str, str], raw: bytes) -> InboundSms:
    """Read one inbound-message webhook; raise MalformedPayload / UnknownEvent for anything else."""
    if form.get("MessageStatus") and not form.get("Body") and form.get("SmsStatus") != "received":
        raise UnknownEvent(f"status callback ({form.get('MessageStatus')}) posted to the inbound message URL")
    status = form.get("SmsStatus", "received")
    if status != "received":
        raise UnknownEvent(f"SmsStatus {status!r} is not an inbound message")
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    if not _SID.match(sid):
        raise MalformedPayload("MessageSid: missing or not a Twilio message SID")
    phone = normalize_phone(form.get("From"))
    if not phone:
        raise MalformedPayload("From: missing")
    body = form.get("Body", "")
    attachments = _media(form)
    lang = "zh" if _CJK.search(body) or phone.startswith("+86") else "en"
    word = body.strip().upper()
    if word in STOP_WORDS:
        return InboundSms(Intent.STOP, sid, phone, lang)
    if word in START_WORDS:
        return InboundSms(Intent.START, sid, phone, lang)
    if word in HELP_WORDS:
        return InboundSms(Intent.HELP, sid, phone, lang)
    if query := _QUERY.match(body):
        return InboundSms(Intent.STATUS_QUERY, sid, phone, lang, case_number=query.group(1))
    rating = None if attachments else RATING_WORDS.get(body.strip().translate(_FULL_WIDTH_DIGITS).rstrip("。.!！"))
    intent = Intent.REPORT if rating is None else Intent.RATING
    match = _NEW_CASE.match(body)
    if match and (match.end() < len(body) or attachments):
        intent = Intent.NEW_CASE
        body = body[match.end() :]
    if not body.strip() and not attachments:
        raise MalformedPayload("Body: empty, and no media attached")
    report = Report(
        channel=CHANNEL,
        source_id=sid,
        text=body,
        contact=Contact(phone=phone),
        attachments=attachments,
        raw=raw,
        raw_content_type="application/x-www-form-urlencoded",
        thread_by_contact=intent is not Intent.NEW_CASE,
        meta={"lang": lang, "to": form.get("To", ""), "num_segments": form.get("NumSegments", "")},
    )
    return InboundSms(intent, sid, phone, lang, report=report, rating=rating)


def _media(form: MultiDict[str, str]) -> tuple[AttachmentIn, ...]:
    try:
        count = int(form.get("NumMedia", "0") or 0)
    except ValueError as err:
        raise MalformedPayload("NumMedia: not a number") from err
    if not 0 <= count <= MAX_MEDIA:
        raise MalformedPayload(f"NumMedia: must be 0 to {MAX_MEDIA}")
    items = []
    for index in range(count):
        url = form.get(f"MediaUrl{index}", "")
        if not url.startswith(("https://", "http://")):
            raise MalformedPayload(f"MediaUrl{index}: missing or not an http(s) URL")
        content_type = form.get(f"MediaContentType{index}", "application/octet-stream")
        name = urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        items.append(AttachmentIn(filename=name, content_type=content_type, url=url))
    return tuple(items)


@dataclass(frozen=True)
class DeliveryReceipt:
    message_sid: str
    status: str
    error_code: str | None


def parse_receipt(form: MultiDict[str, str]) -> DeliveryReceipt:
    """Read a status callback for a message we sent."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not _SID.match(sid):
        raise MalformedPayload("MessageSid: missing or not a Twilio message SID")
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not status:
        raise MalformedPayload("MessageStatus: missing")
    if status not in KNOWN_DELIVERY_STATUSES:
        raise UnknownEvent(f"MessageStatus {status!r} is not a delivery status")
    return DeliveryReceipt(sid, status, form.get("ErrorCode") or None)
