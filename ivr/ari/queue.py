"""The Asterisk call queue of this process: who waits, in what order, and which agent each is offered.

Callers join when their menu asks for the queue (they are then in a holding bridge with music on hold)
and leave when an agent takes them, when they leave for a message or a call back, or when they hang up.
Their place is (priority, time of joining): 1 urgent … 4 low, then first come, first served.

One task (:meth:`CallQueue.run`) makes the offers: whenever a call joins or an offer ends, and every
``ivr.ari.dispatch_poll_seconds`` while calls wait (an agent may have become available in the console), it
hands the waiting calls that ring nobody to the :class:`~ivr.ari.agents.AgentPool` in a worker thread and
puts each answer in the call's lane (:class:`Offered`, :class:`NoAgentLeft`), where the call rings the
agent, or gives the agent back when it has left the queue meanwhile. Rounds never overlap, so a call is
offered to one agent at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ivr.ari.agents import AgentOffer, AgentPool, Candidate

log = logging.getLogger(__name__)

#: ``submit(call id, item)``: put an item in a call's lane.
Submit = Callable[[str, Any], None]


@dataclass(frozen=True)
class Offered:
    """Lane item: ring ``agent`` for the call (the agent is reserved for it until the offer ends)."""

    call_id: str
    agent: AgentOffer


@dataclass(frozen=True)
class NoAgentLeft:
    """Lane item: no agent of the pool will ever take the call (every endpoint of a fixed list was tried)."""

    call_id: str


@dataclass
class _Waiting:
    priority: int
    since: float
    order: int
    #: An offer is out (the call rings an agent, or its Offered item is on the way).
    ringing: bool = False
    tried: set[str] = field(default_factory=set)

    def place(self) -> tuple[int, float, int]:
        return (self.priority, self.since, self.order)


class CallQueue:
    """The waiting calls of one Stasis application and the task that offers them to agents."""

    def __init__(self, pool: AgentPool, submit: Submit, poll_seconds: float) -> None:
        self.pool = pool
        self._submit = submit
        self._poll_seconds = poll_seconds
        self._waiting: dict[str, _Waiting] = {}
        self._order = itertools.count()
        self._wake = asyncio.Event()
        #: Dispatch rounds run so far (for tests and the log).
        self.rounds = 0

    def __len__(self) -> int:
        return len(self._waiting)

    def join(self, call_id: str, priority: int) -> None:
        if call_id not in self._waiting:
            self._waiting[call_id] = _Waiting(priority, time.monotonic(), next(self._order))
        self.poke()

    def leave(self, call_id: str) -> None:
        self._waiting.pop(call_id, None)

    def position(self, call_id: str) -> tuple[int, int]:
        """(place of the call, 1 = next; calls waiting)."""
        entry = self._waiting.get(call_id)
        if entry is None:
            return (1, len(self._waiting))
        ahead = sum(1 for other in self._waiting.values() if other.place() < entry.place())
        return (ahead + 1, len(self._waiting))

    def offer_ended(self, call_id: str, tried: str | None = None) -> None:
        """The call's offer is over without the agent taking it (``tried``: the endpoint that did not answer)."""
        entry = self._waiting.get(call_id)
        if entry is not None:
            entry.ringing = False
            if tried is not None:
                entry.tried.add(tried)
        self.poke()

    def poke(self) -> None:
        """Look for agents now (soon: after the round in progress)."""
        self._wake.set()

    async def run(self) -> None:
        """Offer waiting calls to agents until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            self._wake.clear()
            try:
                await self._round()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database or Redis is away: the calls keep waiting, the next round tries again.
                log.exception("could not offer waiting calls to agents")

    async def _round(self) -> None:
        candidates = [
            Candidate(call_id, frozenset(entry.tried))
            for call_id, entry in sorted(self._waiting.items(), key=lambda item: item[1].place())
            if not entry.ringing
        ]
        if not candidates:
            return
        self.rounds += 1
        assignment = await asyncio.to_thread(self.pool.assign, candidates)
        for call_id, agent in assignment.offers:
            entry = self._waiting.get(call_id)
            if entry is not None:
                entry.ringing = True
            # Even for a call that left meanwhile: its lane gives the agent back.
            self._submit(call_id, Offered(call_id, agent))
        for call_id in assignment.exhausted:
            if self._waiting.pop(call_id, None) is not None:
                self._submit(call_id, NoAgentLeft(call_id))
