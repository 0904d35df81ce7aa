"""Calls become reports of the ``hotline`` channel, through the one submit path (:func:`intake.submit`).

A voice message is a report whose attachment is the recording (a URL a worker downloads with the
channel's media auth: ``channels.hotline``); its source id is ``<call id>:<recording id>``, so a
provider repeating its callback makes one report. When the caller said the message is about their
open case, the report joins that case (``thread_by_contact``); otherwise it opens a new one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from intake import AttachmentIn, Contact, Report, SubmitResult, submit
from intake.models import ReportRecord
from intake.runtime import get_runtime
from ivr.calls import HOTLINE_CHANNEL, CallKey, link_case

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoiceMessage:
    call: CallKey
    recording_id: str
    #: Where the worker downloads the audio, and its media type.
    url: str
    content_type: str
    caller_phone: str | None
    duration_seconds: int | None
    lang: str
    #: The caller said the message is about their open case.
    about_open_case: bool
    #: The provider's callback exactly as received, and its media type.
    raw: bytes = b""
    raw_content_type: str = ""
    menu_path: tuple[str, ...] = ()
    #: The audio itself when the driver has it already (nothing to download); ``url`` is then only noted.
    data: bytes | None = None


def voicemail_report(message: VoiceMessage) -> Report:
    duration = f"{message.duration_seconds}秒" if message.duration_seconds is not None else ""
    extension = {"audio/mpeg": "mp3", "audio/x-wav": "wav", "audio/wav": "wav"}.get(message.content_type, "audio")
    meta: dict[str, Any] = {
        "provider": message.call.provider,
        "call_id": message.call.call_id,
        "recording_id": message.recording_id,
        "duration_seconds": message.duration_seconds,
        "lang": message.lang,
        "menu_path": list(message.menu_path),
    }
    return Report(
        channel=HOTLINE_CHANNEL,
        source_id=f"{message.call.call_id}:{message.recording_id}",
        text=f"热线留言（录音{duration}）",
        contact=Contact(phone=message.caller_phone),
        attachments=(
            AttachmentIn(
                filename=f"{message.recording_id}.{extension}",
                content_type=message.content_type,
                url=None if message.data is not None else message.url,
                data=message.data,
            ),
        ),
        raw=message.raw,
        raw_content_type=message.raw_content_type,
        thread_by_contact=message.about_open_case,
        meta=meta,
    )


def submit_voicemail(message: VoiceMessage) -> SubmitResult:
    """Store the voice message as a report (idempotent) and tie the call to its case."""
    result = submit(voicemail_report(message))
    with get_runtime().db.engine.connect() as conn:
        case_id = conn.execute(select(ReportRecord.case_id).where(ReportRecord.id == result.report_id)).scalar_one()
    link_case(message.call, case_id)
    log.info(
        "voice message %s of call %s/%s is report #%s in case %s",
        message.recording_id,
        message.call.provider,
        message.call.call_id,
        result.report_id,
        result.case_number,
    )
    return result


#: Longest text an agent types for a case opened from a call, in characters.
MAX_CALL_TEXT_CHARS = 4000


def case_from_call(call_id: int, agent_id: int, text: str, *, join_open_case: bool) -> SubmitResult | None:
    """What the agent heard on the call becomes a report of the caller (the draft in the console).

    ``None`` when the call is not this agent's. One report per call: submitting twice returns the
    first (the source id is the call's). With ``join_open_case`` it joins the caller's open case.
    """
    from ivr.models import CallRecord

    with get_runtime().db.transaction() as session:
        call = session.get(CallRecord, call_id)
        if call is None or call.agent_id != agent_id:
            return None
        key = CallKey(call.provider, call.provider_call_id)
        report = Report(
            channel=HOTLINE_CHANNEL,
            source_id=f"{call.provider_call_id}:agent",
            text=text[:MAX_CALL_TEXT_CHARS],
            contact=Contact(phone=call.caller_phone),
            priority=call.priority or 3,
            thread_by_contact=join_open_case,
            meta={"provider": call.provider, "call_id": call.provider_call_id, "lang": call.language or "zh"},
        )
    result = submit(report)
    with get_runtime().db.engine.connect() as conn:
        case_id = conn.execute(select(ReportRecord.case_id).where(ReportRecord.id == result.report_id)).scalar_one()
    link_case(key, case_id)
    return result
