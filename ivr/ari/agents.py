"""Who takes the calls waiting in the Asterisk queue: the console's agents by presence, or fixed endpoints.

An :class:`AgentPool` pairs waiting calls with agents (:meth:`~AgentPool.assign`) and hears how each offer
ended. Its methods block (database, Redis): the Stasis application calls them in a worker thread.

* :class:`PresencePool` (the hotline): the agents are the console's users whose presence is
  ``available``, longest available first, exactly as :mod:`ivr.acd` offers Twilio calls. Each offer claims
  the agent in Redis (:func:`ivr.acd.claim`), so a Twilio call and an Asterisk call never ring one agent at
  once; an agent who lets it ring out goes to ``ivr.queue.missed_call_presence``
  (:func:`ivr.acd.agent_missed`), one who answers is ``busy`` until the call ends.
* :class:`StaticPool` (``ivr.ari.agent_endpoints``, no console): a fixed list of endpoints, each ringing
  for one call at a time; a call that has rung every endpoint without an answer gets none
  (:class:`Assignment` ``exhausted``), and its caller is offered a message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from intake.errors import ConfigError
from intake.runtime import get_runtime
from ivr import acd
from ivr.ari.settings import AriSettings
from ivr.settings import ivr_settings

log = logging.getLogger(__name__)

#: ``calls.provider`` of calls carried by Asterisk (and the provider of its agents' claims).
PROVIDER = "asterisk"


@dataclass(frozen=True)
class AgentOffer:
    """An agent a waiting call is offered to."""

    #: What is originated (``PJSIP/agent1``).
    endpoint: str
    #: The console user (``None`` for an endpoint of the fixed list).
    user_id: int | None = None


@dataclass(frozen=True)
class Candidate:
    """A waiting call that rings nobody now."""

    call_id: str
    #: Endpoints this call has rung without an answer.
    tried: frozenset[str] = frozenset()


@dataclass
class Assignment:
    """What one round of :meth:`AgentPool.assign` decided."""

    #: (call id, agent): ring this agent for this call; the agent is reserved until the offer ends.
    offers: list[tuple[str, AgentOffer]] = field(default_factory=list)
    #: Calls no agent of the pool will ever take.
    exhausted: list[str] = field(default_factory=list)


class AgentPool(Protocol):
    """Agents for the Asterisk queue. Every method may block: call it off the event loop."""

    def ring_seconds(self) -> float:
        """Seconds an agent's phone rings before the call goes to the next agent."""
        ...

    def available(self) -> bool:
        """Whether anyone takes calls at all (no: the caller is offered a message or a call back at once)."""
        ...

    def assign(self, candidates: Sequence[Candidate]) -> Assignment:
        """Pair waiting calls (most urgent first) with free agents, reserving each agent offered."""
        ...

    def answered(self, agent: AgentOffer) -> None:
        """The agent took the call."""
        ...

    def missed(self, agent: AgentOffer) -> None:
        """The agent let it ring out, refused it, or could not be rung."""
        ...

    def done(self, agent: AgentOffer) -> None:
        """The agent's call (answered) ended."""
        ...

    def release(self, agent: AgentOffer) -> None:
        """The offer was withdrawn before the agent answered (the caller left the queue): no fault of theirs."""
        ...


class PresencePool:
    """The console's available agents (:mod:`ivr.acd`), rung at ``ivr.ari.agent_endpoint``."""

    def __init__(self, endpoint_pattern: str, ring_seconds: float | None = None) -> None:
        self.endpoint_pattern = endpoint_pattern
        self._ring_seconds = ring_seconds

    def ring_seconds(self) -> float:
        if self._ring_seconds is not None:
            return self._ring_seconds
        return float(ivr_settings(get_runtime().config).queue.agent_ring_seconds)

    def available(self) -> bool:
        return acd.agents_available()

    def assign(self, candidates: Sequence[Candidate]) -> Assignment:
        assignment = Assignment()
        if not candidates:
            return assignment
        agents = acd.free_agents()
        for call in candidates:
            while agents:
                agent = agents.pop(0)
                # A claim fails while another call (of this process, another one, or Twilio's) rings them.
                if acd.claim(agent.user_id, PROVIDER):
                    endpoint = self.endpoint_pattern.format(username=agent.username, user_id=agent.user_id)
                    assignment.offers.append((call.call_id, AgentOffer(endpoint, agent.user_id)))
                    break
            if not agents:
                break
        return assignment

    def answered(self, agent: AgentOffer) -> None:
        if agent.user_id is not None:
            acd.agent_answered(agent.user_id)

    def missed(self, agent: AgentOffer) -> None:
        if agent.user_id is not None:
            acd.agent_missed(agent.user_id)

    def done(self, agent: AgentOffer) -> None:
        if agent.user_id is not None:
            acd.agent_done(agent.user_id)

    def release(self, agent: AgentOffer) -> None:
        if agent.user_id is not None:
            acd.release(agent.user_id)


class StaticPool:
    """A fixed list of endpoints, in order, each ringing for one call at a time (in this process)."""

    def __init__(self, endpoints: Sequence[str], ring_seconds: float) -> None:
        self.endpoints = tuple(endpoints)
        self._ring_seconds = ring_seconds
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def ring_seconds(self) -> float:
        return self._ring_seconds

    def available(self) -> bool:
        return bool(self.endpoints)

    def assign(self, candidates: Sequence[Candidate]) -> Assignment:
        assignment = Assignment()
        with self._lock:
            for call in candidates:
                left = [endpoint for endpoint in self.endpoints if endpoint not in call.tried]
                if not left:
                    assignment.exhausted.append(call.call_id)
                    continue
                free = next((endpoint for endpoint in left if endpoint not in self._busy), None)
                if free is not None:
                    self._busy.add(free)
                    assignment.offers.append((call.call_id, AgentOffer(free)))
        return assignment

    def answered(self, agent: AgentOffer) -> None:
        pass  # busy until done

    def missed(self, agent: AgentOffer) -> None:
        self._free(agent)

    def done(self, agent: AgentOffer) -> None:
        self._free(agent)

    def release(self, agent: AgentOffer) -> None:
        self._free(agent)

    def _free(self, agent: AgentOffer) -> None:
        with self._lock:
            self._busy.discard(agent.endpoint)


def default_pool(settings: AriSettings) -> AgentPool:
    """``agent_endpoints`` when set; otherwise the console's agents (which needs Gridline's runtime)."""
    if settings.agent_endpoints:
        return StaticPool(settings.agent_endpoints, settings.agent_ring_seconds)
    try:
        get_runtime()
    except ConfigError:
        log.warning("no Gridline runtime and no ivr.ari.agent_endpoints: queued calls will find no agent")
        return StaticPool((), settings.agent_ring_seconds)
    return PresencePool(settings.agent_endpoint)
