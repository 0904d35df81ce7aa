"""A minimal built-in menu, until the configured menu engine drives the ARI driver.

greeting → one key: 1 leave a message (record) · 2 wait for an agent (queue: the caller hears their
place; a message when no agent takes the call) · no input or a wrong key: the menu once more, then
goodbye. It goes through the same port (:mod:`ivr.ari.menu_port`) as the hotline's engine and uses the
same prompt names (so the same recordings), without a database: ``gridline ari --menu basic`` is a first
test of an Asterisk set-up, and the benchmark's menu.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ivr.ari.menu_port import (
    Action,
    CallInfo,
    Connected,
    Digits,
    Enqueue,
    Gather,
    Hangup,
    NoAgent,
    Outcome,
    QueueWait,
    Record,
    Recorded,
    Say,
)

#: Times the main menu is offered before the call ends.
MENU_TRIES = 2


@dataclass(frozen=True)
class _State:
    step: str = "menu"
    tries: int = 1


class BasicMenu:
    """Greeting, then record or queue."""

    def __init__(self, gather_timeout_seconds: float = 5.0) -> None:
        self._gather = Gather(("main",), max_digits=1, timeout_seconds=gather_timeout_seconds)

    def start(self, call: CallInfo) -> tuple[_State, list[Action]]:
        return _State(), [Say(("greeting",)), self._gather]

    def step(self, state: _State, outcome: Outcome) -> tuple[_State, list[Action]]:
        if state.step == "menu":
            if isinstance(outcome, Digits) and outcome.digits == "1":
                return replace(state, step="record"), [Record(("record",))]
            if isinstance(outcome, Digits) and outcome.digits == "2":
                return replace(state, step="queue"), [Say(("queue_enter",)), Enqueue()]
            if state.tries < MENU_TRIES:
                again = [Say(("invalid",))] if isinstance(outcome, Digits) else []
                return replace(state, tries=state.tries + 1), [*again, self._gather]
            return replace(state, step="done"), [Say(("goodbye",)), Hangup()]
        if state.step == "record" and isinstance(outcome, Recorded):
            return replace(state, step="done"), [Say(("record_thanks",)), Hangup()]
        if state.step == "queue" and isinstance(outcome, Connected):
            return replace(state, step="talking"), []
        if state.step == "queue" and isinstance(outcome, NoAgent):
            return replace(state, step="record"), [Say(("no_agents",)), Record(("record",))]
        if state.step == "queue" and isinstance(outcome, QueueWait):
            return state, [Say(("queue_position", f"number:{outcome.position}"))]
        if state.step in ("queue", "talking"):
            return state, []  # keys on hold, the caller hanging up in the queue: keep holding
        return replace(state, step="done"), [Say(("goodbye",)), Hangup()]
