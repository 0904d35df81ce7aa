"""The hotline's menu engine (:class:`ivr.menu.Engine`) on the ARI port (:mod:`ivr.ari.menu_port`).

The engine's actions become the port's: Say → Say, Gather → Gather (its prompts one playlist, so a key
stops them all), Record → Record, Enqueue → Enqueue, Hangup → Hangup; the port's outcomes become the
engine's events (Digits → DigitsEntered, Recorded → RecordingDone, Connected → Bridged, NoAgent →
QueueUnavailable). Actions the engine wants answered at once (Lookup, FindOpenCase, RequestCallback)
never reach Asterisk: they are carried out here through :class:`CallServices` (the database, see
:mod:`ivr.ari.call_services`) and their answers fed straight back to the engine.

A prompt is played as the recording of its name (:mod:`ivr.ari.prompts`, ``sound:gridline/<name>`` in the
prompt's language folder); the digits it was filled with (a case number, a queue position) follow it as
``digits:``/``number:`` media. Words filled in (a case's status) have no recording yet and are not played.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol

from ivr import menu
from ivr.ari import menu_port as port
from ivr.errors import MenuError

log = logging.getLogger(__name__)

#: Immediate answers the engine may ask for in a row before the driver gets something to do.
MAX_IMMEDIATE_STEPS = 10
_SPOKEN_DIGITS = re.compile(r"^[\d ,]+$")


class CallServices(Protocol):
    """What the menu needs from the rest of Gridline while a call runs (called off the event loop)."""

    def call_started(self, call: port.CallInfo) -> None: ...

    def case_status(self, call: port.CallInfo, case_number: str) -> str | None: ...

    def open_case(self, call: port.CallInfo) -> str | None: ...

    def request_callback(self, call: port.CallInfo, reason: str) -> None: ...

    def progress(self, call: port.CallInfo, state: menu.CallState) -> None: ...

    def queued(self, call: port.CallInfo, state: menu.CallState, queue: str, priority: int) -> None: ...

    def voice_message(self, call: port.CallInfo, state: menu.CallState, name: str, duration: int) -> None: ...


@dataclass(frozen=True)
class HotlineState:
    call: port.CallInfo
    menu: menu.CallState


class HotlineMenu:
    """:class:`ivr.ari.menu_port.MenuEngine` over the hotline's engine."""

    def __init__(self, engine: menu.Engine, services: CallServices) -> None:
        self.engine = engine
        self.services = services

    def start(self, call: port.CallInfo) -> tuple[HotlineState, list[port.Action]]:
        self.services.call_started(call)
        # The channel's language is Asterisk's default, not the caller's choice: let the menu ask.
        state, actions = self.engine.start(menu.CallInfo(call.call_id, call.caller_number, call.called_number))
        return self._translate(call, state, actions)

    def step(self, state: HotlineState, outcome: port.Outcome) -> tuple[HotlineState, list[port.Action]]:
        call = state.call
        if isinstance(outcome, port.Recorded):
            self.services.voice_message(call, state.menu, outcome.name, outcome.duration_seconds)
        new, actions = self.engine.step(state.menu, _event(outcome))
        self.services.progress(call, new)
        return self._translate(call, new, actions)

    def _translate(
        self, call: port.CallInfo, state: menu.CallState, actions: list[menu.Action]
    ) -> tuple[HotlineState, list[port.Action]]:
        done: list[port.Action] = []
        for _ in range(MAX_IMMEDIATE_STEPS):
            event: menu.Event | None = None
            for action in actions:
                if isinstance(action, menu.Lookup):
                    event = menu.LookupDone(self.services.case_status(call, action.case_number))
                elif isinstance(action, menu.FindOpenCase):
                    event = menu.OpenCaseFound(self.services.open_case(call))
                elif isinstance(action, menu.RequestCallback):
                    self.services.request_callback(call, action.reason)
                elif isinstance(action, menu.LeaveQueue):
                    # Only asked for after a QueueWait, which this driver does not report yet.
                    event = menu.QueueLeft("leave")
                else:
                    if isinstance(action, menu.Enqueue):
                        self.services.queued(call, state, action.queue, action.priority)
                    done.append(self._port_action(action))
            if event is None:
                return HotlineState(call, state), done
            state, actions = self.engine.step(state, event)
        raise MenuError(f"call {call.call_id}: more than {MAX_IMMEDIATE_STEPS} immediate steps in a row")

    def _port_action(self, action: menu.Action) -> port.Action:
        if isinstance(action, menu.Say):
            return port.Say(_media(action))
        if isinstance(action, menu.Gather):
            return port.Gather(
                _playlist(action.prompts),
                max_digits=action.num_digits,
                timeout_seconds=float(action.timeout_seconds),
                inter_digit_seconds=float(self.engine.menu.digit_timeout_seconds),
                finish_on_key=action.finish_on_key,
            )
        if isinstance(action, menu.Record):
            return port.Record(
                _playlist(action.prompts),
                max_seconds=action.max_seconds,
                max_silence_seconds=action.silence_seconds,
            )
        if isinstance(action, menu.Enqueue):
            return port.Enqueue(action.queue)
        if isinstance(action, menu.Hangup):
            return port.Hangup()
        raise MenuError(f"the ARI driver cannot carry out {type(action).__name__}")


def _event(outcome: port.Outcome) -> menu.Event:
    if isinstance(outcome, port.Digits):
        return menu.DigitsEntered(outcome.digits)
    if isinstance(outcome, port.Recorded):
        return menu.RecordingDone(outcome.name, outcome.duration_seconds)
    if isinstance(outcome, port.Connected):
        return menu.Bridged(outcome.agent)
    if isinstance(outcome, port.NoAgent):
        return menu.QueueUnavailable()
    return menu.NoInput()


def _media(say: menu.Say) -> tuple[port.Prompt, ...]:
    media = [port.Prompt(say.prompt, say.lang)]
    for value in say.values.values():
        if value.isdigit():
            media.append(port.Prompt(f"number:{value}", say.lang))
        elif _SPOKEN_DIGITS.match(value):
            media.append(port.Prompt("digits:" + re.sub(r"\D", "", value), say.lang))
    return tuple(media)


def _playlist(says: tuple[menu.Say, ...]) -> tuple[port.Prompt, ...]:
    return tuple(media for say in says for media in _media(say))
