"""The Stasis application ``gridline``: every call Asterisk hands us, driven by a menu engine.

It runs as its own process (``gridline ari``), never inside the web server: it holds one WebSocket to
Asterisk for as long as it lives and keeps every call's state in memory. Events are routed to the call
they concern (the caller's channel, its playbacks and recordings, the agent leg we originated for it);
see :mod:`ivr.ari.client` for the reader, lanes and reconnection.

**Agents (ACD): how offers cross processes.** They do not: the web and worker processes run
:mod:`ivr.acd` for Twilio's calls, but only this process can ring an agent for an Asterisk call and
bridge them, so it finds agents itself (:mod:`ivr.ari.queue`) with the same :mod:`ivr.acd` functions and
the same sources of truth. Whenever a call joins the queue or an offer ends, and every
``ivr.ari.dispatch_poll_seconds`` while calls wait, it asks :class:`~ivr.ari.agents.PresencePool` for
agents: who is available is the console's presence in the database (``users.presence``, longest
available first), and an agent being rung is claimed in Redis with an expiry (:func:`ivr.acd.claim`),
shared with Twilio's offers, so no agent rings for two calls. No offer exists only as a message between
processes, so a restart loses none: a dead process's claims lapse after the ring time, its agent legs
are hung up when the application is back (``GET /channels``), the agents are offered again, and the
records of calls that ended meanwhile are closed (:class:`~ivr.ari.menu_port.Reconciler`: a caller who
hung up in the queue leaves a call-back task).

The agent who answers is bridged with the caller, is ``busy`` until the call ends (then ``available``
again), and their console pops the call up (the ``{"event": "call", "user_id": ...}`` that
:mod:`ivr.ari.call_services` publishes with :func:`ivr.calls.agent_connected`, as the Twilio driver
does). One who lets it ring ``ivr.queue.agent_ring_seconds`` is hung up on and goes to
``ivr.queue.missed_call_presence``, and the call goes to the next available agent. With
``ivr.ari.agent_endpoints`` set the agents are those endpoints instead (:class:`~ivr.ari.agents.StaticPool`:
no console, no database).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from intake.phones import mask_phone
from ivr.ari.agents import AgentPool, default_pool
from ivr.ari.call import AGENT_ARG, BRIDGE_PREFIX, Announce, AriCall, CallRecord, Resync, RingTimeout, Timeout
from ivr.ari.client import AriClient, Event
from ivr.ari.menu_port import CallInfo, MenuEngine, Reconciler
from ivr.ari.queue import CallQueue, NoAgentLeft, Offered
from ivr.ari.settings import AriSettings
from ivr.errors import AriRequestError

log = logging.getLogger(__name__)

#: Called with the record of each finished call, in a worker thread (it may write to the database).
CallEndHook = Callable[[CallRecord], None]
#: Media targets in playback/recording events: ``channel:<id>`` (``bridge:<id>`` are not ours).
_CHANNEL_TARGET = "channel:"
#: Items the application puts in a call's lane itself (each has a ``call_id``).
_CALL_ITEMS = (Timeout, Resync, Announce, RingTimeout, Offered, NoAgentLeft)


@dataclass(frozen=True)
class _Orphan:
    """A channel in our application (``channel`` set) or a bridge of ours that no call of this process owns."""

    id: str
    channel: dict[str, Any] | None


class StasisApp:
    """Owns the ARI client and the calls in progress."""

    def __init__(
        self,
        settings: AriSettings,
        engine: MenuEngine,
        on_call_end: CallEndHook | None = None,
        agents: AgentPool | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.client = AriClient(settings, self)
        self.calls: dict[str, AriCall] = {}
        #: Agent legs we originated → the caller's call id (their events go to the caller's lane).
        self.agent_legs: dict[str, str] = {}
        #: The callers waiting for an agent, and the task that offers them to agents.
        pool = agents or default_pool(settings)
        self.queue = CallQueue(pool, self.client.lanes.submit, settings.dispatch_poll_seconds)
        #: Calls finished since start (for the bench and the log).
        self.finished = 0
        self._on_call_end = on_call_end
        self._background: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Serve calls until :meth:`stop`."""
        dispatcher = asyncio.get_running_loop().create_task(self.queue.run(), name="call-queue")
        try:
            await self.client.run()
        finally:
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
            await self.client.aclose()

    def stop(self) -> None:
        self.client.stop()

    # --- the client's EventHandler -----------------------------------------------------------------

    def lane_of(self, event: Event) -> str | None:
        target = event.get("playback") or event.get("recording")
        if target is not None:
            uri = str(target.get("target_uri", ""))
            return uri[len(_CHANNEL_TARGET) :] if uri.startswith(_CHANNEL_TARGET) else None
        channel = event.get("channel")
        if channel is None:
            return None  # bridge-only events (BridgeCreated, ...): the calls already know their bridges
        channel_id = str(channel["id"])
        if event["type"] == "StasisStart" and event.get("args", [])[:1] == [AGENT_ARG]:
            return str(event["args"][1]) if len(event["args"]) > 1 else None
        return self.agent_legs.get(channel_id, channel_id)

    async def handle(self, item: Any) -> None:
        if isinstance(item, _Orphan):
            await self._adopt(item)
            return
        if isinstance(item, _CALL_ITEMS):
            call = self.calls.get(item.call_id)
            if call is not None:
                await self._guarded(call, call.on_item(item))
            elif isinstance(item, Offered):
                # The caller hung up before their offer arrived: the agent goes back.
                await asyncio.to_thread(self.queue.pool.release, item.agent)
                self.queue.poke()
            return
        lane = self.lane_of(item)
        call = self.calls.get(lane) if lane is not None else None
        if call is not None:
            await self._guarded(call, call.on_event(item))
        elif item["type"] != "StasisStart":
            return  # the rest of a call that has ended
        elif item.get("args", [])[:1] != [AGENT_ARG]:
            await self._start_call(item)
        else:
            # An agent answered after the caller left: do not leave the agent in silence.
            log.info("agent leg %s answered for a call that has ended; hanging up", item["channel"]["id"])
            await self.client.hang_up_quietly(str(item["channel"]["id"]))

    def resync(self, channels: list[Any], bridges: list[Any]) -> None:
        states = {str(channel.id): str(channel.state) for channel in channels}
        bridge_ids = frozenset(str(bridge.id) for bridge in bridges)
        for call_id in list(self.calls):
            self.client.lanes.submit(call_id, Resync(call_id, states, bridge_ids))
        # What this process does not know of (it was restarted): callers in our application start the
        # menu again, agent legs and our bridges whose call is gone are released. Each in its own lane,
        # ahead of any event that arrived meanwhile.
        known = set(self.calls) | set(self.agent_legs)
        for channel in channels:
            dialplan = channel.dialplan
            in_app = dialplan.app_name == "Stasis" and (dialplan.app_data or "").split(",")[0] == self.settings.app
            if in_app and str(channel.id) not in known:
                self.client.lanes.submit(str(channel.id), _Orphan(str(channel.id), channel.model_dump(mode="json")))
        for bridge in bridges:
            call_id = str(bridge.id).rsplit("-", 1)[0]
            if str(bridge.name).startswith(BRIDGE_PREFIX) and call_id not in self.calls:
                self.client.lanes.submit(str(bridge.id), _Orphan(str(bridge.id), None))
        if isinstance(self.engine, Reconciler):
            # The records of calls that ended while nobody watched (this process was down, or the socket).
            coroutine = self._reconcile(self.engine, frozenset(states), frozenset(self.calls), time.time())
            task = asyncio.get_running_loop().create_task(coroutine)
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _reconcile(self, engine: Reconciler, live: frozenset[str], ours: frozenset[str], before: float) -> None:
        try:
            await asyncio.to_thread(engine.reconcile, live, ours, before)
        except Exception:
            log.exception("could not bring the call records up to date with Asterisk")

    async def _adopt(self, orphan: _Orphan) -> None:
        if orphan.channel is None:
            log.info("destroying bridge %s left by an earlier run", orphan.id)
            with contextlib.suppress(AriRequestError):
                await self.client.rest.stop_bridge(orphan.id)
        elif orphan.id in self.calls or orphan.id in self.agent_legs:
            return  # its StasisStart got here first
        elif f"-{AGENT_ARG}-" in orphan.id:
            log.info("hanging up agent leg %s left by an earlier run", orphan.id)
            await self.client.hang_up_quietly(orphan.id)
        else:
            log.info("call %s was in the application before it restarted: the menu starts again", orphan.id)
            await self._start_call({"type": "StasisStart", "args": [], "channel": orphan.channel})

    # --- calls -------------------------------------------------------------------------------------

    async def _start_call(self, event: Event) -> None:
        channel = event["channel"]
        info = CallInfo(
            call_id=str(channel["id"]),
            caller_number=str(channel.get("caller", {}).get("number", "")),
            called_number=str(channel.get("dialplan", {}).get("exten", "")),
            # The dialplan sets CHANNEL(language); a menu's Prompt may name another.
            language=str(channel.get("language") or "zh"),
        )
        call = self.calls[info.call_id] = AriCall(self, info)
        await self._guarded(call, call.start())

    async def _guarded(self, call: AriCall, step: Awaitable[None]) -> None:
        try:
            await step
        except Exception:
            # An unexpected ARI answer or a bug: the caller must not be left in silence.
            log.exception("call %s: step failed; hanging up", call.id)
            await call.abort()

    async def call_ended(self, call: AriCall) -> None:
        self.calls.pop(call.id, None)
        self.finished += 1
        record = call.record
        log.info(
            "call %s from %s ended by %s: %s",
            call.id,
            mask_phone(record.caller_number),
            record.ended_by,
            " > ".join(record.path) or "-",
        )
        if self._on_call_end is not None:
            await asyncio.to_thread(self._on_call_end, record)


def serve(
    settings: AriSettings, engine: MenuEngine, on_call_end: CallEndHook | None = None, agents: AgentPool | None = None
) -> None:
    """Run the Stasis application in this process until SIGINT/SIGTERM (``gridline ari``).

    ``agents`` defaults to :func:`~ivr.ari.agents.default_pool`: the console's agents by presence, or
    ``ivr.ari.agent_endpoints`` when set.
    """

    # httpx logs every request at INFO: hundreds a second under load, and nothing we would not log ourselves.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    async def main() -> None:
        app = StasisApp(settings, engine, on_call_end, agents)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, app.stop)
        log.info("Stasis application %s on %s", settings.app, settings.url)
        await app.run()

    asyncio.run(main())
