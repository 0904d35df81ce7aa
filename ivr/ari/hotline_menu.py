"""The hotline's menu engine (:class:`ivr.menu.Engine`) on the ARI port (:mod:`ivr.ari.menu_port`).

The engine's actions become the port's: Say → Say, Gather → Gather (its prompts one playlist, so a key
stops them all), Record → Record, Enqueue → Enqueue, LeaveQueue → LeaveQueue, Hangup → Hangup; the port's
outcomes become the engine's events (Digits → DigitsEntered, Recorded → RecordingDone, QueueWait →
QueueWait, Connected → Bridged, NoAgent → QueueUnavailable, QueueLeft → QueueLeft). Actions the engine
wants answered at once (Lookup, FindOpenCase, RequestCallback) never reach Asterisk: they are carried out
here through :class:`CallServices` (the database, see :mod:`ivr.ari.call_services`) and their answers fed
straight back to the engine. So is the question the Twilio driver asks before queueing a caller: when no
agent is available the engine hears QueueUnavailable at once (the caller is offered a message or a call
back) and its "please hold" is dropped.

A prompt is played as the recording of its name (:mod:`ivr.ari.prompts`, ``sound:gridline/<name>`` in the
prompt's language folder); the digits it was filled with (a case number, a queue position) follow it as
``digits:``/``number:`` media. Words filled in (a case's status) have no recording yet and are not played.
"""

from __future__ import annotations

import logging
import re
import string
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

    def agents_available(self) -> bool: ...

    def agent_connected(self, call: port.CallInfo, user_id: int, wait_seconds: int | None) -> None: ...

    def left_queue(self, call: port.CallInfo, pending: str | None, wait_seconds: int | None) -> None: ...

    def reconcile(self, live: frozenset[str], ours: frozenset[str], before: float) -> None: ...


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

    def reconcile(self, live: frozenset[str], ours: frozenset[str], before: float) -> None:
        """Close the records of calls that ended while no process was watching (:class:`port.Reconciler`)."""
        self.services.reconcile(live, ours, before)

    def step(self, state: HotlineState, outcome: port.Outcome) -> tuple[HotlineState, list[port.Action]]:
        call = state.call
        if isinstance(outcome, port.Recorded):
            self.services.voice_message(call, state.menu, outcome.name, outcome.duration_seconds)
        elif isinstance(outcome, port.Connected) and outcome.user_id is not None:
            self.services.agent_connected(call, outcome.user_id, outcome.wait_seconds)
        elif isinstance(outcome, port.QueueLeft) and outcome.result == "leave":
            self.services.left_queue(call, state.menu.pending, outcome.wait_seconds)
        new, actions = self.engine.step(state.menu, _event(outcome))
        if new.path != state.menu.path:
            self.services.progress(call, new)
        return self._translate(call, new, actions)

    def _translate(
        self, call: port.CallInfo, state: menu.CallState, actions: list[menu.Action]
    ) -> tuple[HotlineState, list[port.Action]]:
        done: list[port.Action] = []
        for _ in range(MAX_IMMEDIATE_STEPS):
            event: menu.Event | None = None
            batch: list[port.Action] = []
            for action in actions:
                if isinstance(action, menu.Lookup):
                    event = menu.LookupDone(self.services.case_status(call, action.case_number))
                elif isinstance(action, menu.FindOpenCase):
                    event = menu.OpenCaseFound(self.services.open_case(call))
                elif isinstance(action, menu.RequestCallback):
                    self.services.request_callback(call, action.reason)
                elif isinstance(action, menu.Enqueue) and not self.services.agents_available():
                    # The "please hold" that came with it would be wrong: say there is nobody instead.
                    event, batch = menu.QueueUnavailable(), []
                else:
                    if isinstance(action, menu.Enqueue):
                        self.services.queued(call, state, action.queue, action.priority)
                    batch.append(self._port_action(action))
            done.extend(batch)
            if event is None:
                return HotlineState(call, state), done
            state, actions = self.engine.step(state, event)
            self.services.progress(call, state)
        raise MenuError(f"call {call.call_id}: more than {MAX_IMMEDIATE_STEPS} immediate steps in a row")

    def _port_action(self, action: menu.Action) -> port.Action:
        if isinstance(action, menu.Say):
            return port.Say(self._media(action))
        if isinstance(action, menu.Gather):
            return port.Gather(
                self._playlist(action.prompts),
                max_digits=action.num_digits,
                timeout_seconds=float(action.timeout_seconds),
                inter_digit_seconds=float(self.engine.menu.digit_timeout_seconds),
                finish_on_key=action.finish_on_key,
            )
        if isinstance(action, menu.Record):
            return port.Record(
                self._playlist(action.prompts),
                max_seconds=action.max_seconds,
                max_silence_seconds=action.silence_seconds,
            )
        if isinstance(action, menu.Enqueue):
            return port.Enqueue(action.queue, action.priority)
        if isinstance(action, menu.LeaveQueue):
            return port.LeaveQueue()
        if isinstance(action, menu.Hangup):
            return port.Hangup()
        raise MenuError(f"the ARI driver cannot carry out {type(action).__name__}")

    def _media(self, say: menu.Say) -> tuple[port.Prompt, ...]:
        """The prompt's recording, then the numbers filled into its text, in the order the text has them."""
        media = [port.Prompt(say.prompt, say.lang)]
        template = self.engine.menu.prompt(say.prompt, say.lang)
        for name in [field for _text, field, _spec, _conv in string.Formatter().parse(template) if field]:
            value = say.values.get(name, "")
            if value.isdigit():
                media.append(port.Prompt(f"number:{value}", say.lang))
            elif _SPOKEN_DIGITS.match(value):
                media.append(port.Prompt("digits:" + re.sub(r"\D", "", value), say.lang))
        return tuple(media)

    def _playlist(self, says: tuple[menu.Say, ...]) -> tuple[port.Prompt, ...]:
        return tuple(media for say in says for media in self._media(say))


def _event(outcome: port.Outcome) -> menu.Event:
    if isinstance(outcome, port.Digits):
        return menu.DigitsEntered(outcome.digits)
    if isinstance(outcome, port.Recorded):
        return menu.RecordingDone(outcome.name, outcome.duration_seconds)
    if isinstance(outcome, port.QueueWait):
        return menu.QueueWait(outcome.position, outcome.size, outcome.wait_seconds)
    if isinstance(outcome, port.Connected):
        return menu.Bridged(str(outcome.user_id) if outcome.user_id is not None else outcome.agent)
    if isinstance(outcome, port.NoAgent):
        return menu.QueueUnavailable()
    if isinstance(outcome, port.QueueLeft):
        return menu.QueueLeft(outcome.result)
    return menu.NoInput()
