"""Demo: a caller's voice message, made the way the hotline makes one (Twilio Voice's webhooks, ivr)."""

from __future__ import annotations

import io
import math
import urllib.parse
import wave
from pathlib import Path

from werkzeug.datastructures import MultiDict

from channels.common import DemoContext
from ivr import calls, twilio_forms
from ivr.calls import CallKey
from ivr.reports import VoiceMessage, submit_voicemail

FIXTURES = Path(__file__).parent / "fixtures"
PROVIDER = "twilio"
#: The demo's recording: tones standing in for the caller's voice (no download from Twilio needed).
SAMPLE_RATE = 8000


def _form(name: str) -> tuple[MultiDict[str, str], bytes]:
    raw = (FIXTURES / name).read_bytes().strip()
    return MultiDict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True)), raw


def recording(seconds: int) -> bytes:
    """A WAV of ``seconds`` (8 kHz, 8 bit): a short rising tone every second."""
    frames = bytearray()
    for index in range(seconds * SAMPLE_RATE):
        t = index / SAMPLE_RATE
        within = t % 1.0
        tone = within < 0.25
        level = math.sin(2 * math.pi * (440 + 220 * (t % 3)) * t) * 60 if tone else 0.0
        frames.append(int(128 + level))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


def load(context: DemoContext) -> list[str]:
    incoming, _ = _form("incoming_call.txt")
    call = twilio_forms.incoming_call(incoming)
    key = CallKey(PROVIDER, call.call_sid)
    calls.call_started(key, call.caller, call.called, "zh")
    form, raw = _form("recording_completed.txt")
    status = twilio_forms.recording_status(form)
    seconds = min(status.duration_seconds or 5, 20)
    submit_voicemail(
        VoiceMessage(
            call=key,
            recording_id=status.recording_sid,
            url=status.url + ".mp3",
            content_type="audio/x-wav",
            caller_phone=calls.caller_of(key),
            duration_seconds=status.duration_seconds,
            lang="zh",
            about_open_case=False,
            raw=raw,
            raw_content_type="application/x-www-form-urlencoded",
            data=recording(seconds),
        )
    )
    calls.voicemail_left(key)
    calls.status_changed(key, "completed", duration_seconds=(status.duration_seconds or 0) + 20)
    url = context.runtime.config.public_url
    return [
        "1 voice message (its recording plays on the case page)",
        f"try: a Twilio number's voice webhook {url}/ivr/twilio/voice, or Asterisk with `gridline ari` "
        "(ivr.ari); agents take calls when their console says available",
    ]
