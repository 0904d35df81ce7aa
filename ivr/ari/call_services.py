"""What an Asterisk call leaves in Gridline: the call record, call-back tasks, voice messages as reports.

The same functions the Twilio driver uses (:mod:`ivr.calls`, :mod:`ivr.reports`, :mod:`ivr.acd`), with the
provider ``asterisk`` and the caller's channel id as the call id. An agent taking a call makes it theirs
and pops it up in their console (the ``call`` event of the live queue stream, as the Twilio driver
publishes it). A voice message's audio stays on Asterisk until a
worker fetches it from ARI (``GET /recordings/stored/{name}/file``, Basic auth with the ARI user).
Every method runs off the event loop (the menu engine's thread), so database round trips delay no call.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import quote

from sqlalchemy import select

from intake.phones import normalize_phone
from intake.processing import publish_queue_event
from intake.runtime import get_runtime
from ivr import acd, calls, menu, reports
from ivr.ari.agents import PROVIDER
from ivr.ari.call import CallRecord
from ivr.ari.menu_port import CallInfo
from ivr.ari.settings import AriSettings
from ivr.models import CallRecord as CallRow
from ivr.models import QueueOutcome

log = logging.getLogger(__name__)

__all__ = ["PROVIDER", "DatabaseServices"]
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

    def agents_available(self) -> bool:
        # With a fixed list of endpoints (no console) there is always someone to try.
        return bool(self.settings.agent_endpoints) or acd.agents_available()

    def agent_connected(self, call: CallInfo, user_id: int, wait_seconds: int | None) -> None:
        record = calls.agent_connected(self.key(call.call_id), user_id, wait_seconds)
        if record is not None:
            publish_queue_event({"event": "call", "user_id": user_id, "call": record.id})

    def left_queue(self, call: CallInfo, pending: str | None, wait_seconds: int | None) -> None:
        outcome = QueueOutcome.CALLBACK if pending == "callback" else QueueOutcome.VOICEMAIL
        calls.left_queue(self.key(call.call_id), outcome, wait_seconds)

    def reconcile(self, live: frozenset[str], ours: frozenset[str], before: float) -> None:
        """After a (re)connection: calls recorded as in progress that no call of this process stands for.

        A caller Asterisk no longer has hung up while nobody watched (a caller who was waiting in the
        queue then abandoned it and gets a call-back task, as on any hang-up in the queue); a caller
        still there is being taken through the menu again by this process, out of the queue until
        they join it again (keeping their place).
        """
        cutoff = datetime.fromtimestamp(before, UTC)
        with get_runtime().db.engine.connect() as conn:
            rows = conn.execute(
                select(CallRow.provider_call_id, CallRow.queue_state).where(
                    CallRow.provider == PROVIDER, CallRow.ended_at.is_(None), CallRow.started_at < cutoff
                )
            ).all()
        closed = 0
        for call_id, queue_state in rows:
            if call_id in ours:
                continue
            if call_id not in live:
                calls.status_changed(self.key(call_id), "completed")
                closed += 1
            elif queue_state == "waiting":
                calls.left_queue(self.key(call_id), None)
        if closed:
            log.info("%d call(s) ended while the application was away", closed)

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
