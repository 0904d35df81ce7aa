"""The port between a phone-menu engine and the ARI driver.

A menu engine is driver-independent: ``start(call)`` and ``step(state, outcome)`` return the engine's
next state and a list of actions (say, gather, record, enqueue, leave the queue, hang up). The ARI driver
carries out the actions one after the other and reports what came of the last one (keys, no input, a
recording, the queue, an agent) as the next outcome. Nothing here knows about Asterisk; :mod:`ivr.ari.call`
is the ARI side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

# --- actions: what the menu asks the driver to do -----------------------------------------------------


class Prompt(NamedTuple):
    """A prompt in a given language (a bare ``str`` prompt is in the call's language)."""

    #: A prompt name or a media URI (:mod:`ivr.ari.prompts`).
    name: str
    #: Language folder of the sound (``zh``, ``en``).
    language: str


Prompts = tuple[str | Prompt, ...]


@dataclass(frozen=True)
class Say:
    """Play prompts to the end (keys pressed meanwhile are ignored)."""

    #: Played one after the other.
    prompts: Prompts


@dataclass(frozen=True)
class Gather:
    """Play prompts and collect keys; a key stops the prompts (barge-in).

    Ends with :class:`Digits` when ``max_digits`` keys came or ``finish_on_key`` was pressed, or after
    ``inter_digit_seconds`` without a further key; with :class:`NoInput` when no key came within
    ``timeout_seconds`` of the prompts' end.
    """

    prompts: Prompts
    max_digits: int = 1
    #: Seconds of silence after the prompt before giving up.
    timeout_seconds: float = 5.0
    #: Seconds allowed between two keys.
    inter_digit_seconds: float = 3.0
    #: The key that ends the input early (not part of the digits); empty for none.
    finish_on_key: str = "#"


@dataclass(frozen=True)
class Record:
    """Play prompts, then record the caller (``#`` or silence ends it); outcome :class:`Recorded`."""

    prompts: Prompts
    #: Longest message, in seconds.
    max_seconds: int = 120
    #: Silence that ends the message, in seconds.
    max_silence_seconds: int = 5


@dataclass(frozen=True)
class Enqueue:
    """Hold the caller (music on hold) in the queue and offer the call to agents.

    The driver reports :class:`QueueWait` at once and then after every ``queue_announce_seconds`` on hold
    (the menu answers with the caller's place and its options; a key pressed on hold is reported as
    :class:`Digits` too), :class:`Connected` when an agent takes the call, :class:`NoAgent` when no agent
    ever will. An empty action list while queued means: keep holding.
    """

    queue: str = "hotline"
    #: 1 urgent … 4 low: lower numbers are offered to agents first.
    priority: int = 3


@dataclass(frozen=True)
class LeaveQueue:
    """Take the caller out of the queue, keeping the call; outcome ``QueueLeft("leave")``."""


@dataclass(frozen=True)
class Hangup:
    """End the call."""


Action = Say | Gather | Record | Enqueue | LeaveQueue | Hangup


# --- outcomes: what the driver reports back -----------------------------------------------------------


@dataclass(frozen=True)
class Digits:
    digits: str


@dataclass(frozen=True)
class NoInput:
    pass


@dataclass(frozen=True)
class Recorded:
    #: Name of the stored recording (``GET /recordings/stored/{name}/file``).
    name: str
    duration_seconds: int


@dataclass(frozen=True)
class QueueWait:
    """The caller is on hold at ``position`` (1: next) of ``size`` waiting calls."""

    position: int
    size: int
    wait_seconds: int = 0


@dataclass(frozen=True)
class Connected:
    """The caller is talking to an agent; the menu's part is over until someone hangs up."""

    #: The endpoint that answered.
    agent: str
    #: The console user who answered (``None``: an endpoint of ``ivr.ari.agent_endpoints``).
    user_id: int | None = None
    #: Seconds the caller waited in the queue.
    wait_seconds: int | None = None


@dataclass(frozen=True)
class NoAgent:
    """No agent takes the call: none is on, or every endpoint was tried and none answered."""


@dataclass(frozen=True)
class QueueLeft:
    """The caller left the queue: ``leave`` (after :class:`LeaveQueue`) or ``hangup`` (they hung up)."""

    result: str
    wait_seconds: int | None = None


Outcome = Digits | NoInput | Recorded | QueueWait | Connected | NoAgent | QueueLeft


@dataclass(frozen=True)
class CallInfo:
    """What the menu learns when a call starts."""

    call_id: str
    caller_number: str
    called_number: str
    language: str = "zh"


class MenuEngine(Protocol):
    """A driver-independent phone menu."""

    def start(self, call: CallInfo) -> tuple[Any, list[Action]]: ...

    def step(self, state: Any, outcome: Outcome) -> tuple[Any, list[Action]]: ...


@runtime_checkable
class Reconciler(Protocol):
    """A menu engine that keeps records of calls, told after each (re)connection what Asterisk has.

    ``live``: the channels Asterisk has now; ``ours``: the calls this process holds; ``before``: the time
    (epoch seconds) Asterisk was asked, so that a call recorded later is left alone. Called in a thread.
    """

    def reconcile(self, live: frozenset[str], ours: frozenset[str], before: float) -> None: ...
