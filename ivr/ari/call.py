"""One call on the ARI side: carries out the menu's actions and turns ARI events into outcomes.

Every method runs in the call's lane (:mod:`ivr.ari.lanes`), one at a time, so a call needs no locks.
Ids are chosen here, before each request (``playbackId``, recording ``name``, ``bridgeId``, the agent
leg's ``channelId``), so that an event answering a request is recognised even when it arrives before the
request's own response.

In the queue the caller is in a holding bridge with music on hold; prompts are played to their channel
there (Asterisk plays to a bridged channel over the bridge's audio). The queue's task
(:mod:`ivr.ari.queue`) sends an agent at a time (:class:`~ivr.ari.queue.Offered`): the call originates to
the agent's endpoint, hangs the leg up itself after the pool's ring time (the originate's own timeout, a
little longer, is Asterisk's backstop should this process die), and bridges caller and agent in a mixing
bridge when the agent's leg enters the application.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from intake.phones import mask_phone
from ivr.ari.agents import AgentOffer
from ivr.ari.menu_port import (
    Action,
    CallInfo,
    Connected,
    Digits,
    Enqueue,
    Gather,
    Hangup,
    LeaveQueue,
    NoAgent,
    NoInput,
    Outcome,
    Prompt,
    Prompts,
    QueueLeft,
    QueueWait,
    Record,
    Recorded,
    Say,
)
from ivr.ari.prompts import media_for
from ivr.ari.queue import NoAgentLeft, Offered
from ivr.errors import AriError, AriRequestError

if TYPE_CHECKING:
    from ivr.ari.app import StasisApp

log = logging.getLogger(__name__)

#: Audio format of voice messages (Asterisk writes ``<name>.wav``; the console plays WAV).
RECORDING_FORMAT = "wav"
#: ``appArgs`` marker of an agent leg originated by us: ``agent,<call id>`` (its id: ``<call id>-agent-<n>``).
AGENT_ARG = "agent"
#: Name prefix of the bridges we create (their ids: ``<call id>-hold``, ``<call id>-talk``).
BRIDGE_PREFIX = "gridline-"
#: Seconds the originate's own timeout adds to the ring time we keep ourselves (Asterisk's backstop).
RING_BACKSTOP_SECONDS = 5
#: Outcomes the menu may answer with another Enqueue in a row before the call gives up (a menu's bug).
MAX_MENU_STEPS = 10


@dataclass(frozen=True)
class Timeout:
    """A gather timer fired (``token`` tells a current timer from one already replaced)."""

    call_id: str
    token: int


@dataclass(frozen=True)
class Announce:
    """Time to tell a caller on hold their place again (``token`` as for :class:`Timeout`)."""

    call_id: str
    token: int


@dataclass(frozen=True)
class RingTimeout:
    """The agent leg ``leg`` has rung for the pool's ring time."""

    call_id: str
    leg: str


@dataclass(frozen=True)
class Resync:
    """After a reconnection: the channels Asterisk has now (id → state) and its bridges."""

    call_id: str
    channels: dict[str, str]
    bridges: frozenset[str]


@dataclass
class CallRecord:
    """What a call leaves behind, for the case it belongs to."""

    call_id: str
    caller_number: str
    called_number: str
    started_at: float
    answered_at: float | None = None
    ended_at: float | None = None
    #: The menu's path: ``gather:1``, ``record:<name>``, ``queue``, ``hold-key:1``, ``agent:<endpoint>``,
    #: ``no-agent``, ``left-queue``, ...
    path: list[str] = field(default_factory=list)
    #: Seconds in the queue before an agent answered (or until the caller left it).
    wait_seconds: float | None = None
    agent: str | None = None
    recordings: list[str] = field(default_factory=list)
    #: Who ended the call: ``caller``, ``menu``, ``agent`` or ``error``.
    ended_by: str = ""


class AriCall:
    """The caller's channel in our Stasis application, from StasisStart to StasisEnd."""

    def __init__(self, app: StasisApp, info: CallInfo) -> None:
        self.app = app
        self.info = info
        self.id = info.call_id
        self.record = CallRecord(self.id, info.caller_number, info.called_number, started_at=time.time())
        self.ended = False
        self._state: Any = None
        self._pending: deque[Action] = deque()
        self._current: Action | None = None
        self._seq = 0
        self._playback: str | None = None
        #: Playlists still to play for the current action, one per language (after the current playback).
        self._playlists: deque[tuple[list[str], str]] = deque()
        self._digits = ""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_token = 0
        self._recording: str | None = None
        self._hold_bridge: str | None = None
        self._talk_bridge: str | None = None
        #: In the queue (holding bridge), waiting for an agent.
        self._queued = False
        self._queued_at: float | None = None
        self._announce: asyncio.TimerHandle | None = None
        self._announce_token = 0
        #: The agent offered the call (ringing, then talking) and their leg.
        self._offer: AgentOffer | None = None
        self._agent_leg: str | None = None
        self._ring_timer: asyncio.TimerHandle | None = None

    # --- start and outcomes -------------------------------------------------------------------------

    async def start(self) -> None:
        log.info("call %s from %s: answering", self.id, mask_phone(self.info.caller_number))
        await self._rest("answer_channel", self.id)
        self.record.answered_at = time.time()
        try:
            self._state, actions = await asyncio.to_thread(self.app.engine.start, self.info)
        except Exception:
            log.exception("call %s: the menu failed to start", self.id)
            await self.abort()
            return
        self._pending.extend(actions)
        await self._next()

    async def _advance(self, outcome: Outcome) -> None:
        self._current = None
        try:
            # The engine may look things up (a case's status): off the event loop, so other calls go on.
            self._state, actions = await asyncio.to_thread(self.app.engine.step, self._state, outcome)
        except Exception:
            log.exception("call %s: the menu failed on %s", self.id, type(outcome).__name__)
            await self.abort()
            return
        self._pending = deque(actions)
        await self._next()

    async def _next(self) -> None:
        if self.ended:
            return
        if not self._pending:
            self._current = None
            if self._queued:
                self._arm_announce()  # on hold until the next announcement, a key or an agent
            elif self._talk_bridge is None:
                # The menu ran out of actions without asking for input: nothing more will happen.
                await self._hang_up("menu")
            return
        action = self._current = self._pending.popleft()
        if isinstance(action, Say | Gather | Record):
            self._digits = ""
            await self._play(action.prompts)
        elif isinstance(action, Enqueue):
            await self._enqueue(action)
        elif isinstance(action, LeaveQueue):
            await self._leave_for_menu()
        elif isinstance(action, Hangup):
            await self._hang_up("menu")

    # --- events ------------------------------------------------------------------------------------

    async def on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        channel_id = event.get("channel", {}).get("id")
        if kind == "ChannelDtmfReceived" and channel_id == self.id:
            await self._on_key(event["digit"])
        elif kind == "PlaybackFinished":
            if event["playback"]["id"] == self._playback:
                self._playback = None
                if not await self._play_next():
                    await self._on_prompt_done()
        elif kind in ("RecordingFinished", "RecordingFailed"):
            recording = event["recording"]
            if recording["name"] == self._recording:
                ok = kind == "RecordingFinished"
                await self._on_recorded(int(recording.get("duration") or 0) if ok else None)
        elif kind == "StasisStart":
            if channel_id == self._agent_leg:
                await self._on_agent_answered()
            elif channel_id is not None and event.get("args", [])[:1] == [AGENT_ARG]:
                # A leg we gave up on (it rang out, or the caller left the queue) answered after all.
                log.info("call %s: agent leg %s answered too late; hanging up", self.id, channel_id)
                await self.app.client.hang_up_quietly(str(channel_id))
        elif kind in ("StasisEnd", "ChannelDestroyed", "ChannelHangupRequest"):
            if channel_id == self.id:
                await self.finish("caller")
            elif channel_id == self._agent_leg:
                await self._on_agent_gone(kind)

    async def on_item(self, item: Any) -> None:
        """An item the application itself put in this call's lane: a timer, a resync, the queue's answer."""
        if isinstance(item, Timeout):
            await self.on_timeout(item)
        elif isinstance(item, Resync):
            await self.on_resync(item)
        elif isinstance(item, Announce):
            await self._on_announce(item)
        elif isinstance(item, RingTimeout):
            await self._on_ring_timeout(item)
        elif isinstance(item, Offered):
            await self._on_offered(item.agent)
        elif isinstance(item, NoAgentLeft):
            await self._on_no_agent_left()

    async def on_timeout(self, item: Timeout) -> None:
        if item.token != self._timer_token or not isinstance(self._current, Gather):
            return  # replaced or no longer gathering
        self._timer = None
        await self._end_gather()

    async def on_resync(self, item: Resync) -> None:
        """Catch up with what happened while the event WebSocket was down."""
        if self.id not in item.channels:
            await self.finish("caller")
            return
        if self._agent_leg is not None:
            state = item.channels.get(self._agent_leg)
            if state is None:
                await self._on_agent_gone("missing after reconnection")
            elif state == "Up" and self._talk_bridge is None:
                await self._on_agent_answered()
        if self._playback is not None and await self._gone("get_playback", self._playback):
            self._playback = None
            if not await self._play_next():
                await self._on_prompt_done()
        if self._recording is not None and await self._gone("get_live_recording", self._recording):
            await self._on_recorded(0)

    # --- prompts and keys --------------------------------------------------------------------------

    async def _play(self, prompts: Prompts) -> None:
        # One playback per run of prompts in one language (ARI's ``lang`` applies to a whole request):
        # a key stops the current one and drops the rest.
        self._playlists.clear()
        for prompt in prompts:
            name, lang = (prompt.name, prompt.language) if isinstance(prompt, Prompt) else (prompt, "")
            lang = lang or self.info.language
            media = media_for(name, self.app.settings.prompts)
            if self._playlists and self._playlists[-1][1] == lang:
                self._playlists[-1][0].append(media)
            else:
                self._playlists.append(([media], lang))
        if not await self._play_next():
            await self._on_prompt_done()  # nothing to play

    async def _play_next(self) -> bool:
        """Start the next playlist; ``False`` when there is none left."""
        if not self._playlists:
            return False
        media, lang = self._playlists.popleft()
        self._seq += 1
        self._playback = f"{self.id}-pb-{self._seq}"
        if not await self._rest("play_channel", self.id, media, lang=lang, playback_id=self._playback):
            self._playback = None
            self._playlists.clear()
        return True

    async def _on_prompt_done(self) -> None:
        action = self._current
        if isinstance(action, Say):
            await self._next()
        elif isinstance(action, Gather):
            if not self._digits:
                self._arm(action.timeout_seconds)
        elif isinstance(action, Record):
            await self._start_recording(action)

    async def _on_key(self, digit: str) -> None:
        action = self._current
        if not isinstance(action, Gather):
            if action is None and self._queued:
                # On hold between two announcements: the queue's keys (1 message, 2 call back) work too.
                self._disarm_announce()
                self.record.path.append(f"hold-key:{digit}")
                await self._advance(Digits(digit))
            return  # keys outside a gather are not input (a Say plays on; '#' ends a recording in Asterisk)
        if self._playback is not None:
            # Barge-in: a key stops the prompt (and the ones queued after it).
            await self._stop_prompts()
        if action.finish_on_key and digit == action.finish_on_key:
            await self._end_gather()
            return
        self._digits += digit
        if len(self._digits) >= action.max_digits:
            await self._end_gather()
        else:
            self._arm(action.inter_digit_seconds)

    async def _stop_prompts(self) -> None:
        self._playlists.clear()
        if self._playback is not None:
            playback, self._playback = self._playback, None
            await self._rest("stop_playback", playback)

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_token += 1
        item = Timeout(self.id, self._timer_token)
        self._timer = asyncio.get_running_loop().call_later(seconds, self.app.client.lanes.submit, self.id, item)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_token += 1

    async def _end_gather(self) -> None:
        self._disarm()
        await self._stop_prompts()
        digits, self._digits = self._digits, ""
        self.record.path.append(f"gather:{digits or '-'}")
        await self._advance(Digits(digits) if digits else NoInput())

    # --- recording ---------------------------------------------------------------------------------

    async def _start_recording(self, action: Record) -> None:
        self._seq += 1
        # Recording names become file names: no dots (Asterisk's default channel ids have one).
        self._recording = f"gridline-{self.id.replace('.', '-')}-{self._seq}"
        started = await self._rest(
            "record_channel",
            self.id,
            self._recording,
            RECORDING_FORMAT,
            max_duration_seconds=action.max_seconds,
            max_silence_seconds=action.max_silence_seconds,
            if_exists="overwrite",
            beep=True,
            terminate_on="#",
        )
        if not started:
            self._recording = None

    async def _on_recorded(self, duration: int | None) -> None:
        name, self._recording = self._recording, None
        if name is None:
            return
        if duration is None:
            log.warning("call %s: recording failed", self.id)
            self.record.path.append("record:failed")
            await self._advance(NoInput())
            return
        self.record.recordings.append(name)
        self.record.path.append(f"record:{name}")
        await self._advance(Recorded(name, duration))

    # --- queue and agents --------------------------------------------------------------------------

    async def _enqueue(self, action: Enqueue) -> None:
        self.record.path.append("queue")
        self._queued_at = time.time()
        bridge = await self._create_bridge("hold", "holding")
        if bridge is None:
            return
        self._hold_bridge = bridge
        await self._rest("bridge_add_channel", bridge, self.id)
        await self._rest("start_bridge_moh", bridge, moh_class=self.app.settings.moh_class)
        self._queued = True
        self.app.queue.join(self.id, action.priority)
        await self._advance(self._queue_wait())

    def _queue_wait(self) -> QueueWait:
        position, size = self.app.queue.position(self.id)
        waited = round(time.time() - self._queued_at) if self._queued_at is not None else 0
        return QueueWait(position, size, waited)

    def _arm_announce(self) -> None:
        self._disarm_announce()
        item = Announce(self.id, self._announce_token)
        seconds = self.app.settings.queue_announce_seconds
        self._announce = asyncio.get_running_loop().call_later(seconds, self.app.client.lanes.submit, self.id, item)

    def _disarm_announce(self) -> None:
        if self._announce is not None:
            self._announce.cancel()
            self._announce = None
        self._announce_token += 1

    async def _on_announce(self, item: Announce) -> None:
        if item.token != self._announce_token or not self._queued or self._current is not None:
            return  # replaced, out of the queue, or busy with a prompt (the hold after it re-arms)
        self._announce = None
        await self._advance(self._queue_wait())

    async def _create_bridge(self, role: str, bridge_type: str) -> str | None:
        bridge = f"{self.id}-{role}"
        name = f"{BRIDGE_PREFIX}{role}-{self.id}"
        return bridge if await self._rest("create_bridge", type=bridge_type, bridge_id=bridge, name=name) else None

    async def _on_offered(self, agent: AgentOffer) -> None:
        if self.ended or not self._queued or self._offer is not None:
            # Left the queue (or rings someone) since the offer was made: the agent goes back.
            await self._agents("release", agent)
            self.app.queue.poke()
            return
        self._seq += 1
        leg = f"{self.id}-{AGENT_ARG}-{self._seq}"
        self._offer, self._agent_leg = agent, leg
        self.app.agent_legs[leg] = self.id
        ring_seconds = self.app.queue.pool.ring_seconds()
        log.info("call %s: ringing %s (user %s)", self.id, agent.endpoint, agent.user_id)
        try:
            rung = await self._rest(
                "originate",
                agent.endpoint,
                channel_id=leg,
                app_args=f"{AGENT_ARG},{self.id}",
                caller_id=self.info.caller_number,
                timeout=int(ring_seconds) + RING_BACKSTOP_SECONDS,
            )
        except AriRequestError as err:
            log.warning("call %s: could not ring %s: %s", self.id, agent.endpoint, err)
            rung = False
        if not rung:
            await self._agent_missed("could not be rung")
            return
        item = RingTimeout(self.id, leg)
        loop = asyncio.get_running_loop()
        self._ring_timer = loop.call_later(ring_seconds, self.app.client.lanes.submit, self.id, item)

    async def _on_ring_timeout(self, item: RingTimeout) -> None:
        if item.leg != self._agent_leg or self._talk_bridge is not None:
            return
        self._ring_timer = None
        state = await self._leg_state(item.leg)
        if state == "Up":
            # Answered, but its StasisStart has not reached us (late, or lost while the socket was down).
            await self._on_agent_answered()
            return
        await self._agent_missed("rang out", hang_up=state is not None)

    async def _leg_state(self, leg: str) -> str | None:
        """The agent leg's channel state (``Ring``, ``Up``, ...), ``None`` when it is gone, ``""`` if unknown."""
        try:
            channel = await self.app.client.rest.get_channel(leg)
        except AriRequestError as err:
            if err.status == 404:
                return None
            log.warning("call %s: could not look at agent leg %s: %s", self.id, leg, err)
            return ""
        except (AriError, httpx.HTTPError) as err:
            log.warning("call %s: could not look at agent leg %s: %s", self.id, leg, type(err).__name__)
            return ""
        return str(channel.state)

    async def _agent_missed(self, why: str, *, hang_up: bool = False) -> None:
        """The agent offered the call did not take it: they are away, and the call waits for the next one."""
        agent, leg = self._offer, self._agent_leg
        self._disarm_ring()
        self._forget_agent_leg()  # first: the leg's own hang-up events are then no longer this call's
        self._offer = None
        if hang_up and leg is not None:
            try:
                await self.app.client.hang_up_quietly(leg)
            except (AriError, httpx.HTTPError) as err:
                # Asterisk's own ring timeout (RING_BACKSTOP_SECONDS later) ends the leg then.
                log.warning("call %s: could not hang up agent leg %s: %s", self.id, leg, type(err).__name__)
        if agent is None:
            return
        log.info("call %s: %s did not answer (%s)", self.id, agent.endpoint, why)
        await self._agents("missed", agent)
        self.app.queue.offer_ended(self.id, agent.endpoint)

    async def _withdraw_offer(self) -> None:
        """The caller leaves the queue while an agent's phone rings: stop it, and the agent is free again."""
        agent, leg = self._offer, self._agent_leg
        if agent is None or self._talk_bridge is not None:
            return
        self._disarm_ring()
        self._forget_agent_leg()
        self._offer = None
        if leg is not None:
            await self.app.client.hang_up_quietly(leg)
        await self._agents("release", agent)
        self.app.queue.poke()

    async def _on_agent_answered(self) -> None:
        if self._talk_bridge is not None or self._agent_leg is None or self._offer is None:
            return
        leg, agent = self._agent_leg, self._offer
        self._disarm_ring()
        # The caller leaves the queue, and whatever they were hearing there, for the agent.
        await self._leave_hold()
        self._pending.clear()
        self._disarm()
        await self._stop_prompts()
        self._current = None
        bridge = await self._create_bridge("talk", "mixing")
        if bridge is None:
            return
        self._talk_bridge = bridge
        # One request per channel: ari-client sends ``channel`` in a JSON body, where Asterisk takes a
        # comma-separated string as one channel id (only the query string form is split on commas).
        await self._rest("bridge_add_channel", bridge, self.id)
        await self._rest("bridge_add_channel", bridge, leg)
        self.record.agent = agent.endpoint
        self.record.path.append(f"agent:{agent.endpoint}")
        log.info("call %s: connected to %s (user %s)", self.id, agent.endpoint, agent.user_id)
        await self._agents("answered", agent)
        wait = round(self.record.wait_seconds) if self.record.wait_seconds is not None else None
        await self._advance(Connected(agent.endpoint, agent.user_id, wait))

    async def _on_agent_gone(self, why: str) -> None:
        if self._talk_bridge is None:
            await self._agent_missed(why)
            return
        log.info("call %s: the agent hung up", self.id)
        agent = self._offer
        self._forget_agent_leg()
        self._offer = None
        if agent is not None:
            await self._agents("done", agent)
        await self._hang_up("agent")

    async def _on_no_agent_left(self) -> None:
        if not self._queued or self._offer is not None:
            return
        await self._leave_hold()
        self._pending.clear()
        self._disarm()
        await self._stop_prompts()
        self.record.path.append("no-agent")
        await self._advance(NoAgent())

    async def _leave_for_menu(self) -> None:
        """The menu takes the caller out of the queue (for a message or a call back)."""
        await self._withdraw_offer()
        await self._leave_hold()
        self.record.path.append("left-queue")
        wait = round(self.record.wait_seconds) if self.record.wait_seconds is not None else None
        await self._advance(QueueLeft("leave", wait))

    def _forget_agent_leg(self) -> None:
        if self._agent_leg is not None:
            self.app.agent_legs.pop(self._agent_leg, None)
        self._agent_leg = None

    def _disarm_ring(self) -> None:
        if self._ring_timer is not None:
            self._ring_timer.cancel()
            self._ring_timer = None

    async def _leave_hold(self) -> None:
        """Out of the queue: the holding bridge (and its music) goes."""
        if self._queued:
            self._queued = False
            self.app.queue.leave(self.id)
            self._disarm_announce()
        if self._queued_at is not None and self.record.wait_seconds is None:
            self.record.wait_seconds = round(time.time() - self._queued_at, 3)
        if self._hold_bridge is not None:
            bridge, self._hold_bridge = self._hold_bridge, None
            # Destroying the holding bridge stops its music and lets the caller go.
            await self._rest("stop_bridge", bridge)

    async def _agents(self, what: str, agent: AgentOffer) -> None:
        """Tell the agent pool how an offer went (``answered``, ``missed``, ``done``, ``release``).

        Off the event loop (it writes the agent's presence); a failure is logged, never the caller's problem.
        """
        try:
            await asyncio.to_thread(getattr(self.app.queue.pool, what), agent)
        except Exception:
            log.exception("call %s: could not record that %s %s", self.id, agent.endpoint, what)

    # --- the end -----------------------------------------------------------------------------------

    async def _hang_up(self, by: str) -> None:
        if self.ended:
            return
        self.record.ended_by = self.record.ended_by or by
        await self._rest("hangup_channel", self.id, reason="normal")
        # StasisEnd follows and finishes the call.

    async def abort(self) -> None:
        """Something went wrong: hang up whatever the channel's state, and finish."""
        self.record.ended_by = self.record.ended_by or "error"
        with contextlib.suppress(Exception):
            await self.app.client.hang_up_quietly(self.id)
        await self.finish("error")

    async def finish(self, by: str) -> None:
        """The caller's channel left: release what the call holds and report the call (once)."""
        if self.ended:
            return
        self.ended = True
        self._disarm()
        self._disarm_announce()
        self._disarm_ring()
        self.record.ended_by = self.record.ended_by or by
        self.record.ended_at = time.time()
        abandoned = self._queued and by == "caller"
        agent, talking = self._offer, self._talk_bridge is not None
        self._offer = None
        if self._agent_leg is not None:
            await self._rest("hangup_channel", self._agent_leg, reason="normal")
            self._forget_agent_leg()
        await self._leave_hold()
        if self._talk_bridge is not None:
            bridge, self._talk_bridge = self._talk_bridge, None
            await self._rest("stop_bridge", bridge)
        if agent is not None:
            await self._agents("done" if talking else "release", agent)
            if not talking:
                self.app.queue.poke()
        if abandoned:
            wait = round(self.record.wait_seconds) if self.record.wait_seconds is not None else None
            await self._tell_menu(QueueLeft("hangup", wait))
        await self.app.call_ended(self)

    async def _tell_menu(self, outcome: Outcome) -> None:
        """Let the menu hear an outcome after the call ended (it records the path); what it asks is moot."""
        try:
            self._state, _actions = await asyncio.to_thread(self.app.engine.step, self._state, outcome)
        except Exception:
            log.exception("call %s: the menu failed on %s after the call ended", self.id, type(outcome).__name__)

    # --- helpers -----------------------------------------------------------------------------------

    async def _rest(self, method: str, *args: Any, **kwargs: Any) -> bool:
        """Call ari-client's controller; ``False`` when the target is gone (the hang-up race)."""
        try:
            await getattr(self.app.client.rest, method)(*args, **kwargs)
        except AriRequestError as err:
            if not err.gone:
                raise
            log.debug("call %s: %s: %s", self.id, method, err)
            return False
        return True

    async def _gone(self, method: str, target: str) -> bool:
        try:
            await getattr(self.app.client.rest, method)(target)
        except AriRequestError as err:
            if err.status == 404:
                return True
            raise
        return False
