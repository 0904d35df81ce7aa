"""The menu engine's actions as TwiML (``twilio.twiml.voice_response``): pure, given the URLs to call back.

* Say → ``<Say language="zh-CN">``; the Says a Gather carries are nested in it (a key interrupts them).
* Gather → ``<Gather input="dtmf" action=step?s=<seq>>`` then ``<Redirect>step?s=<seq>&event=timeout``:
  Twilio calls the action with ``Digits``, or falls through to the redirect on silence.
* Record → the prompts, ``<Record action=step recordingStatusCallback=...>``, and the same redirect
  (Twilio skips the action when nothing was recorded).
* Enqueue → ``<Enqueue action waitUrl>`` into the Twilio queue ``<queue>-<priority>``.
* LeaveQueue → ``<Leave/>``; Hangup → ``<Hangup/>``.

In the queue's wait document (``context="wait"``) a Gather posts to the wait-keys URL and is followed
by hold music or a pause instead of a redirect (so is a wait document that only speaks): Twilio
requests the wait URL again when it runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from twilio.twiml.voice_response import Gather as TwimlGather
from twilio.twiml.voice_response import VoiceResponse

from ivr.menu import Action, Enqueue, Gather, Hangup, LeaveQueue, Record, Say
from ivr.settings import TwilioVoiceSettings

#: The recording status changes Twilio reports (``completed``: the file can be fetched).
RECORDING_EVENTS = "completed absent"


@dataclass(frozen=True)
class Urls:
    """Absolute URLs of the driver's webhooks (Twilio signs its requests against them)."""

    step: str
    wait: str
    wait_keys: str
    queue_result: str
    recording: str


def queue_name(queue: str, priority: int) -> str:
    """The Twilio queue of one priority: agents dial the most urgent non-empty one first."""
    return f"{queue}-{priority}"


def render(
    actions: Sequence[Action],
    *,
    seq: int,
    urls: Urls,
    voice: TwilioVoiceSettings,
    context: Literal["call", "wait"] = "call",
) -> VoiceResponse:
    response = VoiceResponse()
    step_url = f"{urls.step}?s={seq}"
    for action in actions:
        if isinstance(action, Say):
            _say(response, action, voice)
        elif isinstance(action, Gather):
            gather = TwimlGather(
                input="dtmf",
                action=urls.wait_keys if context == "wait" else step_url,
                method="POST",
                num_digits=action.num_digits,
                timeout=action.timeout_seconds,
                finish_on_key=action.finish_on_key,
            )
            for prompt in action.prompts:
                _say(gather, prompt, voice)
            response.append(gather)
            if context == "wait":
                _hold(response, voice)
            else:
                response.redirect(f"{step_url}&event=timeout", method="POST")
        elif isinstance(action, Record):
            for prompt in action.prompts:
                _say(response, prompt, voice)
            response.record(
                action=step_url,
                method="POST",
                timeout=action.silence_seconds,
                finish_on_key=action.finish_on_key,
                max_length=action.max_seconds,
                play_beep=True,
                trim="trim-silence",
                recording_status_callback=urls.recording,
                recording_status_callback_method="POST",
                recording_status_callback_event=RECORDING_EVENTS,
            )
            response.redirect(f"{step_url}&event=timeout", method="POST")
        elif isinstance(action, Enqueue):
            response.enqueue(
                queue_name(action.queue, action.priority),
                action=urls.queue_result,
                method="POST",
                wait_url=urls.wait,
                wait_url_method="POST",
            )
        elif isinstance(action, LeaveQueue):
            response.leave()
        elif isinstance(action, Hangup):
            response.hangup()
        else:
            raise ValueError(f"{type(action).__name__} is for the driver to resolve, not to render")
    if context == "wait" and (not actions or isinstance(actions[-1], Say)):
        _hold(response, voice)  # nothing to wait for: hold, then Twilio requests the wait URL again
    return response


def hold(voice: TwilioVoiceSettings) -> VoiceResponse:
    """A wait document with nothing to say: hold music or a pause, then Twilio asks again."""
    response = VoiceResponse()
    _hold(response, voice)
    return response


def _hold(response: VoiceResponse, voice: TwilioVoiceSettings) -> None:
    if voice.hold_music_url:
        response.play(voice.hold_music_url)
    else:
        response.pause(length=voice.hold_pause_seconds)


def _say(parent: VoiceResponse | TwimlGather, say: Say, voice: TwilioVoiceSettings) -> None:
    lang = "en" if say.lang == "en" else "zh"
    parent.say(say.text, language=voice.say_language.get(lang), voice=voice.voice.get(lang) or None)
