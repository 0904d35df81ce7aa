"""The Twilio Voice driver: TwiML webhooks under ``/ivr/twilio/`` running the menu engine.

Point the hotline number's "A call comes in" webhook at ``POST /ivr/twilio/voice`` and its call status
callback at ``POST /ivr/twilio/status``. Everything else is named in the TwiML we return:

==================================================  ===============================================
``/ivr/twilio/step?s=<seq>[&event=timeout]``        <Gather>/<Record> action, and their no-input redirect
``/ivr/twilio/wait``                                <Enqueue waitUrl>: position, "1 message / 2 call back"
``/ivr/twilio/wait/keys``                           the wait document's <Gather> action (may <Leave/>)
``/ivr/twilio/queue-result``                        <Enqueue action>: bridged (ended), hangup, leave, ...
``/ivr/twilio/recording``                           <Record recordingStatusCallback>: the voice message
``/ivr/twilio/agent/<user id>``                     the agent's leg: <Dial><Queue>
``/ivr/twilio/agent/<user id>/bridged``             <Queue url>: the agent takes the caller
``/ivr/twilio/agent/<user id>/dial``                the agent's <Dial action>
``/ivr/twilio/agent/<user id>/status``              the agent leg's status callback (no-answer → next agent)
==================================================  ===============================================

Every request is checked like the SMS channel's: 415 unless form-encoded, 400 naming the field when
malformed, 403 without a valid X-Twilio-Signature, 422 for a payload of the wrong kind. Errors are
TwiML too, with the reason in ``X-Gridline-Error`` (Twilio's debugger shows it). A repeated step (a
retried webhook) is answered with the reply it had the first time.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Literal

from flask import Blueprint, Response, request
from sqlalchemy import select
from twilio.twiml.voice_response import Dial, VoiceResponse
from werkzeug.exceptions import RequestEntityTooLarge

from intake import InvalidReport
from intake.models import User
from intake.processing import publish_queue_event
from intake.web import csrf, runtime
from ivr import acd, calls, state, twiml
from ivr import twilio_forms as forms
from ivr.calls import CallKey
from ivr.errors import MalformedPayload, MenuError, UnexpectedEvent, WebhookError
from ivr.menu import (
    Action,
    Bridged,
    CallInfo,
    CallState,
    DigitsEntered,
    Engine,
    Enqueue,
    Event,
    FindOpenCase,
    Hangup,
    Lookup,
    LookupDone,
    NoInput,
    OpenCaseFound,
    QueueLeft,
    QueueUnavailable,
    QueueWait,
    Record,
    RecordingDone,
    RequestCallback,
)
from ivr.models import CallRecord, QueueOutcome
from ivr.reports import VoiceMessage, submit_voicemail
from ivr.settings import IvrSettings, ivr_settings

log = logging.getLogger(__name__)

PROVIDER = "twilio"
PREFIX = "/ivr/twilio"
#: Recordings are fetched as MP3 (Twilio serves WAV by default; ``.mp3`` asks for MP3).
RECORDING_FORMAT = (".mp3", "audio/mpeg")
#: Seconds Twilio's "agent leg ended" is remembered, so a repeated callback is not acted on twice.
AGENT_LEG_MEMORY_SECONDS = 86400
#: Answers the engine may ask for in a row (a lookup, then the queue's availability, ...) in one request.
MAX_IMMEDIATE_STEPS = 10

bp = Blueprint("ivr_twilio", __name__)
csrf.exempt(bp)


# --- plumbing -------------------------------------------------------------------------------------


def _twiml(body: VoiceResponse | str | None = None, status: int = 200, error: str | None = None) -> Response:
    text = str(body) if body is not None else str(VoiceResponse())
    response = Response(text, status=status, mimetype="application/xml")
    if error:
        response.headers["X-Gridline-Error"] = error.encode("ascii", "backslashreplace").decode()
    return response


def _webhook(view: Callable[..., Response]) -> Callable[..., Response]:
    """Check the request (content type, encoding, signature) and turn refusals into TwiML errors."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            forms.read_form(request, runtime().config)
            return view(*args, **kwargs)
        except WebhookError as err:
            log.warning("Twilio voice webhook %s refused (%s): %s", request.path, err.status, err.message)
            return _twiml(status=err.status, error=err.message)
        except InvalidReport as err:
            log.warning("Twilio voice webhook %s: report refused: %s", request.path, err)
            return _twiml(status=400, error=str(err))

    return wrapper


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_err: RequestEntityTooLarge) -> Response:
    return _twiml(status=413, error=f"body larger than {runtime().config.server.max_request_bytes} bytes")


def _settings() -> IvrSettings:
    return ivr_settings(runtime().config)


def _urls() -> twiml.Urls:
    base = runtime().config.public_url + PREFIX
    return twiml.Urls(
        step=f"{base}/step",
        wait=f"{base}/wait",
        wait_keys=f"{base}/wait/keys",
        queue_result=f"{base}/queue-result",
        recording=f"{base}/recording",
    )


def _render(actions: list[Action], menu_state: CallState, context: Literal["call", "wait"] = "call") -> str:
    voice = _settings().twilio
    return str(twiml.render(actions, seq=menu_state.seq, urls=_urls(), voice=voice, context=context))


# --- running the menu -----------------------------------------------------------------------------


def _advance(key: CallKey, caller: str | None, current: CallState | None, event: Event | None, call: CallInfo) -> str:
    """Run one step of the menu (or its start), resolve what the driver answers at once, reply TwiML."""
    engine = Engine(_settings().menu)
    step = engine.start(call) if current is None or event is None else engine.step(current, event)
    actions: list[Action] = []
    for _ in range(MAX_IMMEDIATE_STEPS):
        menu_state, new = step
        pending: list[Action] = []
        for action in new:
            if isinstance(action, RequestCallback):
                calls.request_callback(key, action.reason)
            else:
                pending.append(action)
        last = pending[-1] if pending else None
        if isinstance(last, Lookup):
            actions += pending[:-1]
            step = engine.step(menu_state, LookupDone(calls.case_status_for(caller, last.case_number)))
            continue
        if isinstance(last, FindOpenCase):
            actions += pending[:-1]
            step = engine.step(menu_state, OpenCaseFound(calls.open_case_of(caller)))
            continue
        if isinstance(last, Enqueue):
            if not acd.agents_available():
                # The "please hold" that came with it would be wrong: say there is nobody instead.
                step = engine.step(menu_state, QueueUnavailable())
                continue
            calls.enqueued(key, last.queue, last.priority, menu_state.path, menu_state.lang)
            acd.request_dispatch(debounce=False)
        elif any(isinstance(action, Hangup | Record) for action in pending):
            calls.record_path(key, menu_state.path, menu_state.lang)
        actions += pending
        break
    else:
        raise MenuError(f"call {key.call_id}: more than {MAX_IMMEDIATE_STEPS} immediate steps in a row")
    reply = _render(actions, menu_state)
    state.save(PROVIDER, key.call_id, menu_state, reply)
    return reply


def _call_info(call: forms.CallParams) -> CallInfo:
    return CallInfo(call.call_sid, call.caller or "", call.called)


@bp.post(f"{PREFIX}/voice")
@_webhook
def incoming() -> Response:
    call = forms.incoming_call(request.form)
    key = CallKey(PROVIDER, call.call_sid)
    stored = state.load(PROVIDER, call.call_sid)
    if stored is not None and stored.state.seq == 0:
        return _twiml(stored.reply)  # Twilio retried the first request
    calls.call_started(key, call.caller, call.called or None)
    return _twiml(_advance(key, call.caller, None, None, _call_info(call)))


@bp.post(f"{PREFIX}/step")
@_webhook
def step() -> Response:
    call = forms.call_params(request.form)
    key = CallKey(PROVIDER, call.call_sid)
    stored = state.load(PROVIDER, call.call_sid)
    if stored is None:
        # The state expired or Redis lost it: start the menu again rather than drop the caller.
        log.warning("no menu state for call %s; starting over", call.call_sid)
        calls.call_started(key, call.caller, call.called or None)
        return _twiml(_advance(key, call.caller, None, None, _call_info(call)))
    if request.args.get("s") != str(stored.state.seq):
        return _twiml(stored.reply)  # a repeated or stale request: same answer as before
    event = _step_event()
    if isinstance(event, RecordingDone):
        calls.voicemail_left(key)
    try:
        return _twiml(_advance(key, call.caller, stored.state, event, _call_info(call)))
    except UnexpectedEvent as err:
        log.info("call %s: %s; repeating the last reply", call.call_sid, err)
        return _twiml(stored.reply)


def _step_event() -> Event:
    form = request.form
    if request.args.get("event") == "timeout":
        return NoInput()
    recording = forms.recording_action(form)
    if recording is not None:
        return RecordingDone(recording.url, recording.duration_seconds)
    if "Digits" not in form:
        raise MalformedPayload("Digits: missing")
    keys = forms.digits(form)
    return DigitsEntered(keys) if keys else NoInput()


# --- the queue ------------------------------------------------------------------------------------


@bp.post(f"{PREFIX}/wait")
@_webhook
def wait() -> Response:
    call = forms.call_params(request.form)
    position = forms.queue_wait(request.form)
    acd.request_dispatch()
    stored = state.load(PROVIDER, call.call_sid)
    voice = _settings().twilio
    if stored is None:
        return _twiml(twiml.hold(voice))
    try:
        menu_state, actions = Engine(_settings().menu).step(
            stored.state, QueueWait(position.position, position.size, position.queue_time)
        )
    except UnexpectedEvent:
        return _twiml(twiml.hold(voice))
    state.save(PROVIDER, call.call_sid, menu_state, stored.reply)
    return _twiml(_render(actions, menu_state, "wait"))


@bp.post(f"{PREFIX}/wait/keys")
@_webhook
def wait_keys() -> Response:
    call = forms.call_params(request.form)
    keys = forms.digits(request.form)
    stored = state.load(PROVIDER, call.call_sid)
    voice = _settings().twilio
    if stored is None:
        return _twiml(twiml.hold(voice))
    try:
        menu_state, actions = Engine(_settings().menu).step(stored.state, DigitsEntered(keys) if keys else NoInput())
    except UnexpectedEvent:
        return _twiml(twiml.hold(voice))
    state.save(PROVIDER, call.call_sid, menu_state, stored.reply)
    return _twiml(_render(actions, menu_state, "wait"))


@bp.post(f"{PREFIX}/queue-result")
@_webhook
def queue_result() -> Response:
    call = forms.call_params(request.form)
    result, queue_time = forms.queue_result(request.form)
    key = CallKey(PROVIDER, call.call_sid)
    stored = state.load(PROVIDER, call.call_sid)
    if result == "hangup":
        calls.abandoned(key, queue_time)
        if stored is not None:
            _step_quietly(key, stored.state, QueueLeft("hangup"))
        return _twiml()
    if result == "bridging-in-process":
        return _twiml()
    if stored is None:
        return _twiml(_goodbye())
    if result == "leave":
        outcome = QueueOutcome.CALLBACK if stored.state.pending == "callback" else QueueOutcome.VOICEMAIL
        calls.left_queue(key, outcome, queue_time)
        event = QueueLeft("leave")
    elif result in ("bridged", "redirected-from-bridged"):
        event = QueueLeft("bridged")
    else:
        log.warning("call %s left the queue: %s", call.call_sid, result)
        calls.left_queue(key, None, queue_time)
        event = QueueLeft("error")
    try:
        return _twiml(_advance(key, call.caller, stored.state, event, _call_info(call)))
    except UnexpectedEvent:
        return _twiml(_goodbye())


def _step_quietly(key: CallKey, current: CallState, event: Event) -> None:
    try:
        menu_state, _actions = Engine(_settings().menu).step(current, event)
    except UnexpectedEvent:
        return
    state.save(PROVIDER, key.call_id, menu_state, "")
    calls.record_path(key, menu_state.path, menu_state.lang)


def _goodbye() -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


# --- recordings and call status ------------------------------------------------------------------


@bp.post(f"{PREFIX}/recording")
@_webhook
def recording() -> Response:
    status = forms.recording_status(request.form)
    if status.status != "completed":
        log.info("recording %s of call %s is %s", status.recording_sid, status.call_sid, status.status)
        return Response(status=204)
    key = CallKey(PROVIDER, status.call_sid)
    stored = state.load(PROVIDER, status.call_sid)
    menu_state = stored.state if stored is not None else None
    suffix, content_type = RECORDING_FORMAT
    message = VoiceMessage(
        call=key,
        recording_id=status.recording_sid,
        url=status.url + suffix,
        content_type=content_type,
        caller_phone=calls.caller_of(key),
        duration_seconds=status.duration_seconds,
        lang=menu_state.lang if menu_state else _settings().menu.default_language,
        about_open_case=bool(menu_state and menu_state.about_open_case),
        raw=request.get_data(cache=True),
        raw_content_type=forms.FORM,
        menu_path=tuple(menu_state.path) if menu_state else (),
    )
    submit_voicemail(message)
    calls.voicemail_left(key)
    return Response(status=204)


@bp.post(f"{PREFIX}/status")
@_webhook
def call_status() -> Response:
    params = forms.status_callback(request.form)
    key = CallKey(PROVIDER, params.call_sid)
    changed = calls.status_changed(key, params.status, duration_seconds=params.duration_seconds, at=params.at)
    if changed and params.status in calls.FINAL_STATUSES:
        stored = state.load(PROVIDER, params.call_sid)
        if stored is not None:
            calls.record_path(key, stored.state.path, stored.state.lang)
    return Response(status=204)


# --- agents ---------------------------------------------------------------------------------------


def _agent(user_id: int) -> User | None:
    with runtime().db.transaction() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            return None
        session.expunge(user)
        return user


@bp.post(f"{PREFIX}/agent/<int:user_id>")
@_webhook
def agent_leg(user_id: int) -> Response:
    """The agent answered: connect them to the longest-waiting caller of the most urgent queue."""
    forms.call_params(request.form)
    settings = _settings()
    response = VoiceResponse()
    if _agent(user_id) is None:
        response.hangup()
        return _twiml(response, status=404, error=f"no active user {user_id}")
    with runtime().db.engine.connect() as conn:
        head = conn.execute(
            select(CallRecord.queue, CallRecord.priority)
            .where(CallRecord.provider == PROVIDER, CallRecord.queue_state == "waiting")
            .order_by(CallRecord.priority, CallRecord.enqueued_at, CallRecord.id)
            .limit(1)
        ).first()
    if head is None:
        acd.release(user_id)
        response.say("当前没有等待接听的来电。", language=settings.twilio.say_language["zh"])
        response.hangup()
        return _twiml(response)
    base = f"{runtime().config.public_url}{PREFIX}/agent/{user_id}"
    dial = Dial(action=f"{base}/dial", method="POST", timeout=settings.queue.agent_dial_timeout_seconds)
    dial.queue(twiml.queue_name(head.queue, head.priority or 3), url=f"{base}/bridged", method="POST")
    response.append(dial)
    return _twiml(response)


@bp.post(f"{PREFIX}/agent/<int:user_id>/bridged")
@_webhook
def bridged(user_id: int) -> Response:
    """<Queue url>, run on the caller's end: record who took the call, pop it up on their console."""
    caller_sid, queue_time = forms.dequeued(request.form)
    key = CallKey(PROVIDER, caller_sid)
    record = calls.agent_connected(key, user_id, queue_time)
    acd.agent_answered(user_id)
    if record is not None:
        publish_queue_event({"event": "call", "user_id": user_id, "call": record.id})
    stored = state.load(PROVIDER, caller_sid)
    if stored is None:
        response = VoiceResponse()
        return _twiml(response)
    try:
        menu_state, actions = Engine(_settings().menu).step(stored.state, Bridged(str(user_id)))
    except UnexpectedEvent:
        return _twiml(VoiceResponse())
    state.save(PROVIDER, caller_sid, menu_state, stored.reply)
    calls.record_path(key, menu_state.path, menu_state.lang)
    return _twiml(_render(actions, menu_state))


@bp.post(f"{PREFIX}/agent/<int:user_id>/dial")
@_webhook
def agent_dial(user_id: int) -> Response:
    """The agent's <Dial><Queue> ended (the call is over, or no caller was left to take)."""
    status = forms.dial_status(request.form)
    log.info("user %s: dial ended %s", user_id, status)
    response = VoiceResponse()
    response.hangup()
    return _twiml(response)


@bp.post(f"{PREFIX}/agent/<int:user_id>/status")
@_webhook
def agent_status(user_id: int) -> Response:
    """The agent leg's status: unanswered → the agent is away and the next one is rung; ended → free again."""
    params = forms.status_callback(request.form)
    if params.status not in calls.FINAL_STATUSES:
        return Response(status=204)
    rt = runtime()
    first = rt.redis.set(
        rt.key("ivr", "agent-leg", params.call_sid), params.status, nx=True, ex=AGENT_LEG_MEMORY_SECONDS
    )
    if not first:
        return Response(status=204)  # Twilio repeated it
    if params.status == "completed":
        acd.agent_done(user_id)
    else:
        acd.agent_missed(user_id)
    return Response(status=204)
