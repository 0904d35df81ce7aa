"""What an Asterisk call leaves in Gridline: the call record, call-back tasks, voice messages as reports.

The same functions the Twilio driver uses (:mod:`ivr.calls`, :mod:`ivr.reports`), with the provider
``asterisk`` and the caller's channel id as the call id. A voice message's audio stays on Asterisk until a
worker fetches it from ARI (``GET /recordings/stored/{name}/file``, Basic auth with the ARI user).
Every method runs off the event loop (the menu engine's thread), so database round trips delay no call.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from intake.phones import normalize_phone
from ivr import calls, menu, reports
from ivr.ari.call import CallRecord
from ivr.ari.menu_port import CallInfo
from ivr.ari.settings import AriSettings

log = logging.getLogger(__name__)

#: ``calls.provider`` of calls carried by Asterisk.
PROVIDER = "asterisk"
#: Media type of the recordings (``RECORDING_FORMAT`` wav).
RECORDING_CONTENT_TYPE = "audio/wav"


class DatabaseServices:
    """:class:`ivr.ari.hotline_menu.CallServices` over Gridline's database."""

    def __init__(self, settings: AriSettings) -> None:
        self.settings = settings

    @staticmethod
    def key(call_id: str) -> calls.CallKey:
        return calls.CallKey(PROVIDER, call_id)

    def call_started(self, call: CallInfo) -> None:
        key = self.key(call.call_id)
        calls.call_started(key, _phone(call), call.called_number or None)
        calls.status_changed(key, "in-progress")

    def case_status(self, call: CallInfo, case_number: str) -> str | None:
        return calls.case_status_for(_phone(call), case_number)

    def open_case(self, call: CallInfo) -> str | None:
        return calls.open_case_of(_phone(call))

    def request_callback(self, call: CallInfo, reason: str) -> None:
        calls.request_callback(self.key(call.call_id), reason)

    def progress(self, call: CallInfo, state: menu.CallState) -> None:
        calls.record_path(self.key(call.call_id), state.path, state.lang)

    def queued(self, call: CallInfo, state: menu.CallState, queue: str, priority: int) -> None:
        calls.enqueued(self.key(call.call_id), queue, priority, state.path, state.lang)

    def voice_message(self, call: CallInfo, state: menu.CallState, name: str, duration: int) -> None:
        key = self.key(call.call_id)
        calls.voicemail_left(key)
        reports.submit_voicemail(
            reports.VoiceMessage(
                call=key,
                recording_id=name,
                url=self.recording_url(name),
                content_type=RECORDING_CONTENT_TYPE,
                caller_phone=_phone(call),
                duration_seconds=duration,
                lang=state.lang,
                about_open_case=bool(state.about_open_case),
                menu_path=tuple(state.path),
            )
        )

    def call_ended(self, record: CallRecord) -> None:
        """The caller's channel left Stasis: the call is over (a caller still queued abandoned it)."""
        duration = None
        if record.answered_at is not None and record.ended_at is not None:
            duration = round(record.ended_at - record.answered_at)
        calls.status_changed(self.key(record.call_id), "completed", duration_seconds=duration)

    def recording_url(self, name: str) -> str:
        return f"{self.settings.url}/recordings/stored/{quote(name, safe='')}/file"


def _phone(call: CallInfo) -> str | None:
    return normalize_phone(call.caller_number) if call.caller_number else None
