"""The phone menu as a pure state machine, driven the same way by every telephony driver.

No Flask, no database, no clock: the engine turns a call's state and what the caller just did (an
*event*) into the next state and what the driver must do now (*actions*). Drivers keep the state per
call (it is a small JSON-safe dict: ``state.to_dict()`` / ``CallState.from_dict``, e.g. in Redis keyed
by call id with a TTL), carry out the actions in order, and report the outcome of the last one::

    engine = Engine(ivr_settings(config).menu)
    state, actions = engine.start(CallInfo(call_id, caller_number, called_number))
    ...                                     # perform actions; the last one says what to wait for
    state, actions = engine.step(state, DigitsEntered("1"))

**Actions** (what the driver does):

* :class:`Say` — speak one prompt: ``prompt`` is its name (Asterisk plays a recording of that name),
  ``text`` the rendered text in ``lang`` (Twilio speaks it), ``values`` what was filled in.
* :class:`Gather` — play ``prompts`` (a key interrupts them: barge-in) and collect up to ``num_digits``
  keys; ``finish_on_key`` ends early; ``timeout_seconds`` of silence after the prompts end it. Report
  :class:`DigitsEntered` or :class:`NoInput`.
* :class:`Record` — play ``prompts``, then record up to ``max_seconds`` (``silence_seconds`` of silence or
  ``finish_on_key`` ends it). Report :class:`RecordingDone`, or :class:`NoInput` when nothing was recorded.
* :class:`Enqueue` — put the caller in the call queue (``queue``, ``priority``: 1 urgent … 4 low). If no
  agent is available, report :class:`QueueUnavailable` at once instead. While the caller waits, report
  :class:`QueueWait` now and then (the engine answers with the position announcement and a
  :class:`Gather` for "1 message / 2 call back"; report its keys as :class:`DigitsEntered`, its
  silence as :class:`NoInput`). Report :class:`Bridged` as an agent takes the call (the engine answers
  with a "connecting" prompt), and :class:`QueueLeft` when the caller leaves the queue.
* :class:`LeaveQueue` — take the caller out of the queue, keeping the call; then report
  ``QueueLeft("leave")``.
* :class:`Lookup` — look ``case_number`` up *for this caller* (only a case this number reported counts);
  report :class:`LookupDone` with the case's status value, or ``None``, at once.
* :class:`FindOpenCase` — find this caller's open case; report :class:`OpenCaseFound` at once.
* :class:`RequestCallback` — record a call-back task for this call (no event follows).
* :class:`Hangup` — end the call.

Every action list ends with at most one action that waits for an event (Gather, Record, Enqueue,
LeaveQueue, Lookup, FindOpenCase); Say and RequestCallback never wait. An empty list means "nothing to
do, keep waiting" (e.g. silence while queued). ``state.seq`` grows by one each step: a driver may tag
its requests with it to tell a repeated webhook from a new one. ``state.path`` lists the caller's way
through the menu (``lang:zh``, ``main:1``, ``queue:3``, ...), for the call record.

An event the current node does not expect raises :class:`~ivr.errors.UnexpectedEvent` and leaves the
state as it was.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, NamedTuple

from intake.i18n import translate
from ivr.errors import InvalidCallState, UnexpectedEvent
from ivr.settings import MenuSettings

# --- what the driver tells the engine ----------------------------------------------------------------


@dataclass(frozen=True)
class CallInfo:
    """What the engine learns when a call starts."""

    call_id: str
    caller_number: str = ""
    called_number: str = ""
    #: A language already known (e.g. from the number dialled); empty: ask the caller.
    language: str = ""


@dataclass(frozen=True)
class DigitsEntered:
    """Keys pressed during a :class:`Gather` (without the finishing key)."""

    digits: str


@dataclass(frozen=True)
class NoInput:
    """A :class:`Gather` or :class:`Record` ended without keys or audio."""


@dataclass(frozen=True)
class RecordingDone:
    """A voice message was recorded: ``recording`` identifies it for the driver (a URL or a stored name)."""

    recording: str
    duration_seconds: int | None = None


@dataclass(frozen=True)
class LookupDone:
    """The answer to :class:`Lookup`: the case's status value (``verifying``, ...) or ``None``."""

    status: str | None


@dataclass(frozen=True)
class OpenCaseFound:
    """The answer to :class:`FindOpenCase`: the number of the caller's open case, or ``None``."""

    number: str | None


@dataclass(frozen=True)
class QueueWait:
    """The caller is waiting in the queue at ``position`` (1: next)."""

    position: int
    size: int | None = None
    wait_seconds: int | None = None


@dataclass(frozen=True)
class QueueUnavailable:
    """:class:`Enqueue` could not queue the caller: no agent is available (or the queue is full)."""


@dataclass(frozen=True)
class Bridged:
    """An agent is taking the call."""

    agent: str = ""


@dataclass(frozen=True)
class QueueLeft:
    """The caller left the queue: ``leave`` (asked to), ``hangup`` (gave up), ``bridged`` (the agent's
    call ended), or ``error``."""

    result: str


Event = (
    DigitsEntered
    | NoInput
    | RecordingDone
    | LookupDone
    | OpenCaseFound
    | QueueWait
    | QueueUnavailable
    | Bridged
    | QueueLeft
)

# --- what the engine asks the driver to do -----------------------------------------------------------


@dataclass(frozen=True)
class Say:
    prompt: str
    text: str
    lang: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Gather:
    prompts: tuple[Say, ...]
    num_digits: int = 1
    timeout_seconds: int = 5
    finish_on_key: str = ""
    barge_in: bool = True


@dataclass(frozen=True)
class Record:
    prompts: tuple[Say, ...]
    max_seconds: int = 120
    silence_seconds: int = 5
    finish_on_key: str = "#"


@dataclass(frozen=True)
class Enqueue:
    queue: str
    priority: int = 3


@dataclass(frozen=True)
class LeaveQueue:
    pass


@dataclass(frozen=True)
class Lookup:
    case_number: str


@dataclass(frozen=True)
class FindOpenCase:
    pass


@dataclass(frozen=True)
class RequestCallback:
    #: ``requested`` from the menu, ``queue`` when the caller left the queue for it.
    reason: str


@dataclass(frozen=True)
class Hangup:
    pass


Action = Say | Gather | Record | Enqueue | LeaveQueue | Lookup | FindOpenCase | RequestCallback | Hangup
#: Actions after which the driver reports an event.
WAITING_ACTIONS = (Gather, Record, Enqueue, LeaveQueue, Lookup, FindOpenCase)

# --- the state kept per call -------------------------------------------------------------------------

#: Nodes of the menu (``CallState.node``).
NODES = (
    "language",  # greeting, "1 中文 / 2 English"
    "main",  # the main menu
    "case_entry",  # keying a case number
    "lookup",  # waiting for LookupDone
    "message",  # "1 leave a message / 2 call back"
    "find_case",  # waiting for OpenCaseFound
    "about_case",  # "is the message about your open case?"
    "record",  # recording a voice message
    "queued",  # waiting for an agent
    "leaving",  # asked to leave the queue (LeaveQueue), waiting for QueueLeft
    "connected",  # talking to an agent
    "done",  # the menu's part is over
)


@dataclass
class CallState:
    call_id: str
    node: str = "language"
    lang: str = "zh"
    #: Failed attempts (no input, wrong key) at the current node.
    retries: int = 0
    seq: int = 0
    path: list[str] = field(default_factory=list)
    #: Queue priority once queued.
    priority: int | None = None
    #: What the caller asked for while leaving the queue: ``voicemail`` or ``callback``.
    pending: str | None = None
    #: The case number being looked up.
    case_number: str | None = None
    #: Whether the voice message is about the caller's open case (None: not asked).
    about_open_case: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallState:
        try:
            state = cls(**data)
        except TypeError as err:
            raise InvalidCallState(f"not a call state: {err}") from err
        if state.node not in NODES:
            raise InvalidCallState(f"unknown node {state.node!r}")
        return state


class Step(NamedTuple):
    state: CallState
    actions: list[Action]


_DIGITS = re.compile(r"\d+")


class Engine:
    """The menu of one configuration. Stateless: every call's state travels in :class:`CallState`."""

    def __init__(self, menu: MenuSettings) -> None:
        self.menu = menu

    # -- entry points -------------------------------------------------------------------------------

    def start(self, call: CallInfo) -> Step:
        lang = call.language if call.language in self.menu.languages.values() else ""
        state = CallState(call_id=call.call_id, lang=lang or self.menu.default_language)
        if lang:
            state.path.append(f"lang:{lang}")
            return self._to_main(state, [self._say("greeting", lang)])
        greeting = [self._say("greeting", language) for language in self._languages()]
        return self._ask(state, "language", greeting)

    def step(self, state: CallState, event: Event) -> Step:
        handler = getattr(self, f"_on_{state.node}", None)
        if handler is None:
            raise InvalidCallState(f"unknown node {state.node!r}")
        new = replace(state, path=list(state.path), seq=state.seq + 1)
        step: Step = handler(new, event)
        return step

    # -- nodes --------------------------------------------------------------------------------------

    def _on_language(self, state: CallState, event: Event) -> Step:
        if isinstance(event, DigitsEntered) and event.digits in self.menu.languages:
            state.lang = self.menu.languages[event.digits]
            state.path.append(f"lang:{state.lang}")
            return self._to_main(state, [])
        if isinstance(event, DigitsEntered | NoInput):
            return self._retry(state, event, fallback=self._language_fallback)
        raise self._unexpected(state, event)

    def _language_fallback(self, state: CallState) -> Step:
        state.lang = self.menu.default_language
        state.path.append("lang:default")
        return self._to_main(state, [])

    def _on_main(self, state: CallState, event: Event) -> Step:
        if isinstance(event, DigitsEntered) and event.digits in self.menu.options:
            option = self.menu.options[event.digits]
            state.path.append(f"main:{event.digits}")
            state.retries = 0
            if option.action == "queue":
                return self._enqueue(state, option.priority)
            if option.action == "status":
                return self._ask(state, "case_entry", [])
            if option.action == "message":
                return self._ask(state, "message", [])
            if option.action == "voicemail":
                return self._voicemail(state)
            return self._callback(state, "requested")
        if isinstance(event, DigitsEntered | NoInput):
            return self._retry(state, event, fallback=self._main_fallback)
        raise self._unexpected(state, event)

    def _main_fallback(self, state: CallState) -> Step:
        state.path.append("main:fallback")
        if self.menu.no_input_fallback == "voicemail":
            return self._voicemail(state)
        return self._goodbye(state, [])

    def _on_case_entry(self, state: CallState, event: Event) -> Step:
        if isinstance(event, DigitsEntered):
            digits = event.digits.strip("#*")
            if _DIGITS.fullmatch(digits) and len(digits) == self.menu.case_number_digits:
                number = f"{digits[:8]}-{digits[8:]}"
                state.case_number = number
                state.node = "lookup"
                state.retries = 0
                return Step(state, [Lookup(number)])
            return self._retry(state, event, fallback=self._back_to_main, invalid="case_invalid")
        if isinstance(event, NoInput):
            return self._retry(state, event, fallback=self._back_to_main)
        raise self._unexpected(state, event)

    def _on_lookup(self, state: CallState, event: Event) -> Step:
        if not isinstance(event, LookupDone):
            raise self._unexpected(state, event)
        number = state.case_number or ""
        spoken = spoken_digits(number)
        if event.status is None:
            state.path.append("status:not_found")
            said = self._say("case_not_found", state.lang, number=spoken)
        else:
            state.path.append("status:found")
            status = translate(f"status.{event.status}", state.lang)
            said = self._say("case_status", state.lang, number=spoken, status=status)
        state.case_number = None
        return self._to_main(state, [said])

    def _on_message(self, state: CallState, event: Event) -> Step:
        if isinstance(event, DigitsEntered) and event.digits in ("1", "2"):
            state.path.append(f"message:{event.digits}")
            state.retries = 0
            return self._voicemail(state) if event.digits == "1" else self._callback(state, "requested")
        if isinstance(event, DigitsEntered | NoInput):
            return self._retry(state, event, fallback=lambda s: self._goodbye(s, []))
        raise self._unexpected(state, event)

    def _on_find_case(self, state: CallState, event: Event) -> Step:
        if not isinstance(event, OpenCaseFound):
            raise self._unexpected(state, event)
        if event.number is None:
            state.about_open_case = False
            return self._record(state, [])
        return self._ask(state, "about_case", [])

    def _on_about_case(self, state: CallState, event: Event) -> Step:
        if isinstance(event, DigitsEntered) and event.digits in ("1", "2"):
            state.about_open_case = event.digits == "1"
            state.path.append(f"about_case:{event.digits}")
            return self._record(state, [])
        if isinstance(event, DigitsEntered | NoInput):

            def new_problem(s: CallState) -> Step:
                s.about_open_case = False
                return self._record(s, [])

            return self._retry(state, event, fallback=new_problem)
        raise self._unexpected(state, event)

    def _on_record(self, state: CallState, event: Event) -> Step:
        if isinstance(event, RecordingDone):
            state.path.append("voicemail")
            return self._goodbye(state, [self._say("record_thanks", state.lang)])
        if isinstance(event, NoInput):
            state.retries += 1
            if state.retries > self.menu.max_retries:
                state.path.append("voicemail:empty")
                return self._goodbye(state, [])
            return self._record(state, [self._say("no_input", state.lang)], keep_retries=True)
        raise self._unexpected(state, event)

    def _on_queued(self, state: CallState, event: Event) -> Step:
        if isinstance(event, QueueWait):
            position = self._say(
                "queue_position",
                state.lang,
                position=str(max(event.position, 1)),
                size=str(event.size or event.position),
                minutes=str(round((event.wait_seconds or 0) / 60)),
            )
            options = self._say("queue_options", state.lang)
            return Step(state, [Gather((position, options), 1, self.menu.queue_key_seconds)])
        if isinstance(event, DigitsEntered):
            if event.digits in ("1", "2"):
                state.pending = "voicemail" if event.digits == "1" else "callback"
                state.path.append(f"queue:leave:{state.pending}")
                state.node = "leaving"
                return Step(state, [LeaveQueue()])
            return Step(state, [self._say("invalid", state.lang)])
        if isinstance(event, NoInput):
            return Step(state, [])
        if isinstance(event, QueueUnavailable):
            state.path.append("queue:no_agents")
            return self._ask(state, "message", [self._say("no_agents", state.lang)])
        if isinstance(event, Bridged):
            state.path.append("agent")
            state.node = "connected"
            return Step(state, [self._say("connecting", state.lang)])
        if isinstance(event, QueueLeft):
            return self._left(state, event)
        raise self._unexpected(state, event)

    def _on_leaving(self, state: CallState, event: Event) -> Step:
        if isinstance(event, QueueLeft) and event.result == "leave":
            pending, state.pending = state.pending, None
            if pending == "callback":
                return self._callback(state, "queue")
            return self._voicemail(state)
        if isinstance(event, QueueLeft):
            return self._left(state, event)
        if isinstance(event, QueueWait | DigitsEntered | NoInput):
            return Step(state, [LeaveQueue()])  # the first request to leave got lost: ask again
        if isinstance(event, Bridged):
            state.node = "connected"
            state.path.append("agent")
            return Step(state, [self._say("connecting", state.lang)])
        raise self._unexpected(state, event)

    def _on_connected(self, state: CallState, event: Event) -> Step:
        if isinstance(event, Bridged):
            return Step(state, [self._say("connecting", state.lang)])
        state.node = "done"
        return Step(state, [Hangup()])

    def _on_done(self, state: CallState, event: Event) -> Step:
        return Step(state, [Hangup()])

    # -- helpers ------------------------------------------------------------------------------------

    def _left(self, state: CallState, event: QueueLeft) -> Step:
        if event.result == "hangup":
            state.path.append("queue:abandoned")
            state.node = "done"
            return Step(state, [])
        if event.result == "bridged":
            state.node = "done"
            return Step(state, [Hangup()])
        state.path.append(f"queue:{event.result}")
        return self._ask(state, "message", [self._say("no_agents", state.lang)])

    def _enqueue(self, state: CallState, priority: int) -> Step:
        state.node = "queued"
        state.priority = priority
        state.path.append(f"queue:{priority}")
        return Step(state, [self._say("queue_enter", state.lang), Enqueue(self.menu.queue, priority)])

    def _voicemail(self, state: CallState) -> Step:
        state.node = "find_case"
        state.retries = 0
        return Step(state, [FindOpenCase()])

    def _record(self, state: CallState, before: list[Say], *, keep_retries: bool = False) -> Step:
        state.node = "record"
        if not keep_retries:
            state.retries = 0
        prompts = (*before, self._say("record", state.lang))
        record = Record(prompts, self.menu.record_max_seconds, self.menu.record_silence_seconds, finish_on_key="#")
        return Step(state, [record])

    def _callback(self, state: CallState, reason: str) -> Step:
        state.path.append("callback")
        return self._goodbye(state, [RequestCallback(reason), self._say("callback_ok", state.lang)])

    def _goodbye(self, state: CallState, before: list[Action]) -> Step:
        state.node = "done"
        return Step(state, [*before, self._say("goodbye", state.lang), Hangup()])

    def _to_main(self, state: CallState, before: list[Action]) -> Step:
        state.retries = 0
        return self._ask(state, "main", before)

    def _back_to_main(self, state: CallState) -> Step:
        state.case_number = None
        return self._to_main(state, [])

    def _ask(self, state: CallState, node: str, before: list[Action], *, keep_retries: bool = False) -> Step:
        """Move to a question node and ask it; Says in ``before`` become part of the barge-in prompts."""
        if node != state.node and not keep_retries:
            state.retries = 0
        state.node = node
        says = tuple(action for action in before if isinstance(action, Say))
        others = [action for action in before if not isinstance(action, Say)]
        return Step(state, [*others, self._gather(state, node, says)])

    def _gather(self, state: CallState, node: str, before: tuple[Say, ...]) -> Gather:
        menu = self.menu
        if node == "language":
            prompts = tuple(self._say("language", lang) for lang in self._languages())
            return Gather((*before, *prompts), 1, menu.timeout_seconds)
        if node == "case_entry":
            prompt = self._say("case_entry", state.lang)
            return Gather((*before, prompt), menu.case_number_digits, menu.digit_timeout_seconds, finish_on_key="#")
        key = {"main": "main", "message": "message_menu", "about_case": "about_case"}[node]
        return Gather((*before, self._say(key, state.lang)), 1, menu.timeout_seconds)

    def _retry(self, state: CallState, event: Event, *, fallback: Any, invalid: str = "invalid") -> Step:
        """Repeat the node's question after no input or a wrong key, or give up after ``max_retries``."""
        wrong = isinstance(event, DigitsEntered)
        state.path.append(f"{state.node}:{'invalid' if wrong else 'no_input'}")
        state.retries += 1
        if state.retries > self.menu.max_retries:
            state.retries = 0
            step: Step = fallback(state)
            return step
        key = invalid if wrong else "no_input"
        langs = self._languages() if state.node == "language" else (state.lang,)
        return self._ask(state, state.node, [self._say(key, lang) for lang in langs], keep_retries=True)

    def _languages(self) -> list[str]:
        seen: list[str] = []
        for lang in self.menu.languages.values():
            if lang not in seen:
                seen.append(lang)
        return seen

    def _say(self, prompt: str, lang: str, **values: str) -> Say:
        text = self.menu.prompt(prompt, lang)
        return Say(prompt, text.format(**values) if values else text, lang, values)

    @staticmethod
    def _unexpected(state: CallState, event: Event) -> UnexpectedEvent:
        return UnexpectedEvent(f"{type(event).__name__} at node {state.node!r}")


def spoken_digits(number: str) -> str:
    """``20261126-000123`` → ``2 0 2 6 1 1 2 6, 0 0 0 1 2 3``: text-to-speech reads each digit."""
    return ", ".join(" ".join(part) for part in number.split("-") if part)
