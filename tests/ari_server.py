"""An ARI test server: Asterisk's REST and WebSocket protocol over simulated channels, checked against the spec.

It speaks what Asterisk 22 speaks on ``/ari``: REST requests with Basic auth (or ``api_key``), JSON
objects shaped like the description's models, and the event WebSocket ``GET /ari/events?app=...``. Every
request is read by :class:`tests.ari_spec.AriSpec`; anything the description does not allow (unknown
path, wrong method, unknown, missing or ill-typed parameter) is answered as Asterisk would (404, 405, 400)
and recorded in :attr:`AriTestServer.violations`, which the tests assert empty. Every object it sends
(responses and events) is checked against the models too, so the simulator cannot drift either.

What it simulates: callers dialling in (StasisStart with the caller id), keys (ChannelDtmfReceived),
playbacks that finish (PlaybackStarted/PlaybackFinished) or are stopped, recordings that finish
(RecordingStarted/RecordingFinished, then a WAV under ``/recordings/stored/{name}/file``), bridges
(holding with music on hold, mixing), originating to agents who answer (StasisStart with the appArgs),
do not answer or are busy (ChannelDestroyed), hang-ups from either side (ChannelHangupRequest, StasisEnd,
ChannelDestroyed). Events go only to WebSockets connected at that moment: like Asterisk, nothing is
replayed after :meth:`AriTestServer.drop_websockets`.

It runs its own event loop in a thread; the control methods (``dial_in``, ``press``, ``hang_up``, ...)
are called from the test's thread. ``python -m tests.ari_server --port 8088`` runs it alone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.ari_spec import AriSpec, Request, SpecViolation

#: The ``asterisk_id`` of every event and ping (Asterisk uses the machine's MAC address).
ASTERISK_ID = "02:00:00:00:00:01"
#: Audio formats the simulated Asterisk can record (others: 422, as Asterisk answers).
RECORD_FORMATS = ("wav", "gsm", "ulaw", "alaw", "sln", "g722")
#: Sample rate of the stored recordings' WAV files, in Hz.
SAMPLE_RATE = 8000


@dataclass
class Timing:
    """How long simulated things take, in seconds."""

    #: A prompt's length unless :attr:`media` says otherwise.
    prompt: float = 0.05
    #: Per media URI (``sound:gridline/main_menu``) lengths.
    media: dict[str, float] = field(default_factory=dict)
    #: A caller's message, from the record request to RecordingFinished.
    recording: float = 0.05
    #: An agent who answers does so after this long.
    agent_answer: float = 0.05
    #: An agent who does not answer: the originate's timeout is cut to this.
    agent_no_answer: float = 0.1


@dataclass
class Sim:
    """The simulated Asterisk's state (touched only from the server's loop)."""

    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Channel id → the Stasis application it is in.
    in_stasis: dict[str, str] = field(default_factory=dict)
    bridges: dict[str, dict[str, Any]] = field(default_factory=dict)
    moh: dict[str, str] = field(default_factory=dict)
    playbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    stored: dict[str, bytes] = field(default_factory=dict)
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    #: Endpoint → "answer" | "no_answer" | "busy" (default "answer").
    agents: dict[str, str] = field(default_factory=dict)
    #: Terminating key of each live recording.
    terminate_on: dict[str, str] = field(default_factory=dict)
    #: Callers' channels that reached StasisEnd (the call left our application).
    ended: list[str] = field(default_factory=list)


@dataclass
class Logged:
    """One request as the server saw it."""

    at: float
    method: str
    path: str
    operation: str
    args: dict[str, Any]


class AriTestServer:
    """Start with :meth:`start`; ``url`` is the ARI base URL (``http://127.0.0.1:<port>/ari``)."""

    def __init__(self, username: str = "gridline", password: str = "test-secret", timing: Timing | None = None):
        self.spec = AriSpec()
        self.username = username
        self.password = password
        self.timing = timing or Timing()
        self.sim = Sim()
        self.violations: list[str] = []
        self.requests: list[Logged] = []
        self.events: list[dict[str, Any]] = []
        #: (channel, seconds) from a key press (its DTMF event sent) to the channel's next play request.
        self.key_to_prompt: list[tuple[str, float]] = []
        #: Refuse WebSocket upgrades (503) while set: Asterisk unreachable.
        self.refuse_websockets = False
        #: Called on the server's loop with each request it accepted (a benchmark's automatic caller).
        self.on_request: Callable[[Logged], None] | None = None
        self.port = 0
        #: App name → its connected event sockets, each with its outbound queue and request (to cut it).
        self._sockets: dict[str, dict[web.WebSocketResponse, tuple[asyncio.Queue[str], web.Request]]] = {}
        self._pressed_at: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # --- life cycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ari"

    def start(self, port: int = 0) -> AriTestServer:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve(port))
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="ari-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the ARI test server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        self.call(self._shutdown)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = None

    async def _serve(self, port: int) -> None:
        app = web.Application()
        app.router.add_route("*", "/ari/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _shutdown(self) -> None:
        for timer in self.sim.timers.values():
            timer.cancel()
        for sockets in self._sockets.values():
            for ws in list(sockets):
                await ws.close()
        await asyncio.sleep(0)
        if self._runner is not None:
            await self._runner.cleanup()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` (a function or coroutine function) on the server's loop and return its result."""
        assert self._loop is not None

        async def invoke() -> Any:
            result = fn(*args)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(10)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
        """Poll ``predicate`` (run on the server's loop) until it is truthy; fail with ``what`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.call(predicate)
            if value:
                return value
            time.sleep(0.01)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    # --- control (from the test's thread) ----------------------------------------------------------

    def dial_in(self, caller: str, exten: str = "12345", app: str = "gridline", language: str = "zh") -> str | None:
        """A call arrives and the dialplan runs ``Stasis(app)``; ``None`` when the app is not connected."""
        return self.call(self._dial_in, caller, exten, app, language)

    def press(self, channel_id: str, digits: str) -> None:
        for digit in digits:
            self.call(self.press_on_loop, channel_id, digit)

    def hang_up(self, channel_id: str) -> None:
        """The caller hangs up."""
        self.call(self.hang_up_on_loop, channel_id)

    def drop_websockets(self) -> int:
        """Cut every event WebSocket (TCP abort, as when Asterisk restarts or the network fails)."""
        return int(self.call(self._drop))

    def connected(self, app: str = "gridline") -> int:
        return len(self._sockets.get(app, ()))

    def requests_to(self, operation: str) -> list[Logged]:
        """Requests of one operation, e.g. ``"DELETE /playbacks/{playbackId}"``."""
        return [r for r in list(self.requests) if r.operation == operation]

    # --- simulation (server loop) ------------------------------------------------------------------

    def _dial_in(self, caller: str, exten: str, app: str, language: str) -> str | None:
        if not self._sockets.get(app):
            return None  # Stasis() fails: the dialplan's fallback takes the call
        channel = self._new_channel(f"PJSIP/trunk-{next(self._ids):08x}", caller, "Ring", language)
        channel["dialplan"] = _dialplan("hotline", exten, 3, "Stasis", app)
        self._enter_stasis(channel["id"], app, [])
        return str(channel["id"])

    # Control from the server's own loop (an on_request hook, a timer): press_on_loop, hang_up_on_loop.

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    def press_on_loop(self, channel_id: str, digit: str) -> None:
        channel = self.sim.channels.get(channel_id)
        if channel is None:
            return  # hung up meanwhile
        self._pressed_at[channel_id] = time.perf_counter()
        self._emit_channel(channel_id, "ChannelDtmfReceived", digit=digit, duration_ms=120, channel=channel)
        for name, key in list(self.sim.terminate_on.items()):
            recording = self.sim.live.get(name)
            if recording and recording["target_uri"] == f"channel:{channel_id}" and key in (digit, "any"):
                self._finish_recording(name)

    def hang_up_on_loop(self, channel_id: str) -> None:
        self._hang_up(channel_id, 16, True)

    def _new_channel(self, name: str, number: str, state: str, language: str = "zh") -> dict[str, Any]:
        # Asterisk's unique ids are "<epoch>.<sequence>": the dot is part of the id.
        channel_id = f"{int(time.time())}.{next(self._ids)}"
        channel = {
            "id": channel_id,
            "protocol_id": "",
            "name": f"{name}",
            "state": state,
            "caller": {"name": "", "number": number},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": _dialplan("default", "s", 1, "", ""),
            "creationtime": _now(),
            "language": language,
        }
        self.sim.channels[channel_id] = channel
        return channel

    def _enter_stasis(self, channel_id: str, app: str, args: list[str]) -> None:
        self.sim.in_stasis[channel_id] = app
        self._emit(app, "StasisStart", args=args, channel=self.sim.channels[channel_id])

    def _hang_up(self, channel_id: str, cause: int, by_caller: bool) -> None:
        channel = self.sim.channels.get(channel_id)
        if channel is None:
            return
        app = self.sim.in_stasis.get(channel_id)
        if by_caller:
            self._emit_channel(channel_id, "ChannelHangupRequest", cause=cause, channel=channel)
        for playback_id, playback in list(self.sim.playbacks.items()):
            if playback["target_uri"] == f"channel:{channel_id}":
                self._finish_playback(playback_id)
        for name, recording in list(self.sim.live.items()):
            if recording["target_uri"] == f"channel:{channel_id}":
                self._finish_recording(name)
        for bridge_id, bridge in list(self.sim.bridges.items()):
            if channel_id in bridge["channels"]:
                self._leave_bridge(bridge_id, channel_id)
        if app is not None:
            self._emit(app, "StasisEnd", channel=channel)
            del self.sim.in_stasis[channel_id]
            self.sim.ended.append(channel_id)
        channel["state"] = "Down"
        self._emit_channel(channel_id, "ChannelDestroyed", cause=cause, cause_txt=_CAUSES[cause], channel=channel)
        self._cancel(channel_id)
        del self.sim.channels[channel_id]

    def _finish_playback(self, playback_id: str) -> None:
        playback = self.sim.playbacks.pop(playback_id, None)
        if playback is None:
            return
        self._cancel(playback_id)
        playback["state"] = "done"
        self._emit_target(playback["target_uri"], "PlaybackFinished", playback=playback)

    def _finish_recording(self, name: str) -> None:
        recording = self.sim.live.pop(name, None)
        if recording is None:
            return
        self._cancel(name)
        self.sim.terminate_on.pop(name, None)
        seconds = max(0.0, time.monotonic() - recording.pop("_started"))
        recording.update(state="done", duration=round(seconds))
        self.sim.stored[name] = _wav(seconds)
        self._emit_target(recording["target_uri"], "RecordingFinished", recording=recording)

    def _leave_bridge(self, bridge_id: str, channel_id: str) -> None:
        bridge = self.sim.bridges[bridge_id]
        bridge["channels"].remove(channel_id)
        self._emit_channel(channel_id, "ChannelLeftBridge", bridge=bridge, channel=self.sim.channels[channel_id])

    def _agent_outcome(self, channel_id: str, app: str, args: list[str], behaviour: str) -> None:
        if channel_id not in self.sim.channels:
            return
        if behaviour == "answer":
            channel = self.sim.channels[channel_id]
            channel["state"] = "Up"
            channel["dialplan"] = _dialplan("default", "s", 1, "Stasis", ",".join([app, *args]))
            self._enter_stasis(channel_id, app, args)
        else:
            self._hang_up(channel_id, 17 if behaviour == "busy" else 19, by_caller=False)

    def _later(self, key: str, seconds: float, fn: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        self._cancel(key)
        self.sim.timers[key] = self._loop.call_later(seconds, fn, *args)

    def _cancel(self, key: str) -> None:
        timer = self.sim.timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    async def _drop(self) -> int:
        count = 0
        for sockets in self._sockets.values():
            for _queue, request in sockets.values():
                if request.transport is not None:
                    request.transport.abort()
                count += 1
            sockets.clear()
        return count

    # --- events ------------------------------------------------------------------------------------

    def _emit_channel(self, channel_id: str, kind: str, **body: Any) -> None:
        app = self.sim.in_stasis.get(channel_id) or self._subscriber(channel_id)
        if app is not None:
            self._emit(app, kind, **body)

    def _emit_target(self, target_uri: str, kind: str, **body: Any) -> None:
        self._emit_channel(target_uri.split(":", 1)[1], kind, **body)

    def _subscriber(self, channel_id: str) -> str | None:
        # An originated channel is subscribed to the app named in the originate request.
        channel = self.sim.channels.get(channel_id)
        return channel.get("_app") if channel else None

    def _emit(self, app: str, kind: str, **body: Any) -> None:
        event = {"type": kind, "timestamp": _now(), "application": app, "asterisk_id": ASTERISK_ID}
        event.update({key: _public(value) for key, value in body.items()})
        for problem in self.spec.check_event(event):
            self.violations.append(f"server sent a bad event: {problem}")
        self.events.append(event)
        text = json.dumps(event)
        for queue, _request in self._sockets.get(app, {}).values():
            queue.put_nowait(text)

    # --- HTTP --------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        try:
            if not self._authorized(request):
                raise SpecViolation(401, "authentication required")
            body: Any = None
            if request.can_read_body:
                raw = await request.read()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError as err:
                        raise SpecViolation(400, f"the body is not JSON: {err}") from err
            parsed = self.spec.read(request.method, path, list(request.query.items()), body)
        except SpecViolation as err:
            self.violations.append(f"{request.method} {path}: {err}")
            return _error(err.status, str(err))
        logged = Logged(time.perf_counter(), request.method, path, parsed.operation.key, parsed.args)
        self.requests.append(logged)
        if parsed.operation.key == "GET /events":
            return await self._events(request, parsed)
        handler = _HANDLERS.get(parsed.operation.key)
        if handler is None:
            self.violations.append(f"{parsed.operation.key}: allowed by the spec but not simulated")
            return _error(501, "not simulated")
        try:
            status, payload = handler(self, parsed)
        except SpecViolation as err:
            return _error(err.status, str(err))
        if self.on_request is not None:
            self.on_request(logged)
        if isinstance(payload, bytes):
            return web.Response(status=status, body=payload, content_type="audio/wav")
        if payload is None:
            return web.Response(status=status)
        payload = _public(payload)
        for problem in self.spec.check_model(parsed.operation.response_class, payload, parsed.operation.key):
            self.violations.append(f"server sent a bad response: {problem}")
        return web.json_response(payload, status=status)

    def _authorized(self, request: web.Request) -> bool:
        expected = f"{self.username}:{self.password}"
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            with contextlib.suppress(ValueError):
                return base64.b64decode(header[6:]).decode() == expected
        return request.query.get("api_key") == expected

    async def _events(self, request: web.Request, parsed: Request) -> web.StreamResponse:
        if self.refuse_websockets:
            return _error(503, "unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        apps = list(parsed.args["app"])
        # One writer per socket keeps the events in the order they were emitted.
        queue: asyncio.Queue[str] = asyncio.Queue()
        writer = asyncio.ensure_future(_write(ws, queue))
        for app in apps:
            self._sockets.setdefault(app, {})[ws] = (queue, request)
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            writer.cancel()
            for app in apps:
                self._sockets.get(app, {}).pop(ws, None)
        return ws

    # --- operations ----------------------------------------------------------------------------------

    def _channel(self, channel_id: str, in_stasis: bool = True) -> dict[str, Any]:
        channel = self.sim.channels.get(channel_id)
        if channel is None:
            raise SpecViolation(404, "Channel not found")
        if in_stasis and channel_id not in self.sim.in_stasis:
            raise SpecViolation(409, "Channel not in a Stasis application")
        return channel

    def _bridge(self, bridge_id: str) -> dict[str, Any]:
        bridge = self.sim.bridges.get(bridge_id)
        if bridge is None:
            raise SpecViolation(404, "Bridge not found")
        return bridge

    def op_list_channels(self, r: Request) -> tuple[int, Any]:
        return 200, list(self.sim.channels.values())

    def op_get_channel(self, r: Request) -> tuple[int, Any]:
        return 200, self._channel(r.args["channelId"], in_stasis=False)

    def op_list_bridges(self, r: Request) -> tuple[int, Any]:
        return 200, list(self.sim.bridges.values())

    def op_ping(self, r: Request) -> tuple[int, Any]:
        return 200, {"asterisk_id": ASTERISK_ID, "ping": "pong", "timestamp": _now()}

    def op_answer(self, r: Request) -> tuple[int, Any]:
        channel = self._channel(r.args["channelId"])
        if channel["state"] != "Up":
            channel["state"] = "Up"
            self._emit_channel(channel["id"], "ChannelStateChange", channel=channel)
        return 204, None

    def op_hangup(self, r: Request) -> tuple[int, Any]:
        channel = self._channel(r.args["channelId"], in_stasis=False)
        self._hang_up(channel["id"], 16, by_caller=False)
        return 204, None

    def op_play(self, r: Request) -> tuple[int, Any]:
        channel_id = r.args["channelId"]
        self._channel(channel_id)
        pressed = self._pressed_at.pop(channel_id, None)
        if pressed is not None:
            self.key_to_prompt.append((channel_id, time.perf_counter() - pressed))
        playback_id = r.args.get("playbackId") or f"pb-{next(self._ids)}"
        if playback_id in self.sim.playbacks:
            raise SpecViolation(409, "Playback id in use")
        media = list(r.args["media"])
        playback = {
            "id": playback_id,
            "media_uri": media[0],
            "target_uri": f"channel:{channel_id}",
            "language": r.args.get("lang", "en"),
            "state": "queued",
        }
        self.sim.playbacks[playback_id] = playback
        seconds = sum(self.timing.media.get(uri, self.timing.prompt) for uri in media)
        assert self._loop is not None
        self._loop.call_soon(self._start_playback, playback_id)
        self._later(playback_id, seconds, self._finish_playback, playback_id)
        return 201, playback

    def _start_playback(self, playback_id: str) -> None:
        playback = self.sim.playbacks.get(playback_id)
        if playback is not None:
            playback["state"] = "playing"
            self._emit_target(playback["target_uri"], "PlaybackStarted", playback=playback)

    def op_get_playback(self, r: Request) -> tuple[int, Any]:
        playback = self.sim.playbacks.get(r.args["playbackId"])
        if playback is None:
            raise SpecViolation(404, "The playback cannot be found")
        return 200, playback

    def op_stop_playback(self, r: Request) -> tuple[int, Any]:
        if r.args["playbackId"] not in self.sim.playbacks:
            raise SpecViolation(404, "The playback cannot be found")
        self._finish_playback(r.args["playbackId"])
        return 204, None

    def op_record(self, r: Request) -> tuple[int, Any]:
        channel_id, name = r.args["channelId"], r.args["name"]
        self._channel(channel_id)
        if any(channel_id in bridge["channels"] for bridge in self.sim.bridges.values()):
            raise SpecViolation(409, "Channel is currently bridged")
        if r.args["format"] not in RECORD_FORMATS:
            raise SpecViolation(422, "The format specified is unknown on this system")
        if name in self.sim.live or (name in self.sim.stored and r.args.get("ifExists", "fail") == "fail"):
            raise SpecViolation(409, "A recording with the same name already exists")
        recording = {"name": name, "format": r.args["format"], "target_uri": f"channel:{channel_id}"}
        recording.update(state="recording", _started=time.monotonic())
        self.sim.live[name] = recording
        self.sim.terminate_on[name] = r.args.get("terminateOn", "none")
        self._emit_channel(channel_id, "RecordingStarted", recording=recording)
        limit = r.args.get("maxDurationSeconds") or 0
        seconds = min(self.timing.recording, limit) if limit else self.timing.recording
        self._later(name, seconds, self._finish_recording, name)
        return 201, recording

    def op_get_live(self, r: Request) -> tuple[int, Any]:
        recording = self.sim.live.get(r.args["recordingName"])
        if recording is None:
            raise SpecViolation(404, "Recording not found")
        return 200, recording

    def op_stored(self, r: Request) -> tuple[int, Any]:
        name = r.args["recordingName"]
        if name not in self.sim.stored:
            raise SpecViolation(404, "Recording not found")
        return 200, {"name": name, "format": "wav"}

    def op_stored_file(self, r: Request) -> tuple[int, Any]:
        data = self.sim.stored.get(r.args["recordingName"])
        if data is None:
            raise SpecViolation(404, "Recording not found")
        return 200, data

    def op_create_bridge(self, r: Request) -> tuple[int, Any]:
        bridge_id = r.args.get("bridgeId") or f"bridge-{next(self._ids)}"
        if bridge_id in self.sim.bridges:
            raise SpecViolation(409, "Bridge with the same bridgeId already exists")
        kinds = str(r.args.get("type", "mixing")).split(",")
        holding = "holding" in kinds
        bridge = {
            "id": bridge_id,
            "technology": "holding_bridge" if holding else "simple_bridge",
            "bridge_type": "holding" if holding else "mixing",
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": r.args.get("name", ""),
            "channels": [],
            "creationtime": _now(),
            "video_mode": "none",
        }
        self.sim.bridges[bridge_id] = bridge
        return 200, bridge

    def op_add_channel(self, r: Request) -> tuple[int, Any]:
        bridge = self._bridge(r.args["bridgeId"])
        for channel_id in r.args["channel"]:
            if channel_id not in self.sim.channels:
                raise SpecViolation(400, "Channel not found")
            if channel_id not in self.sim.in_stasis:
                raise SpecViolation(422, "Channel not in Stasis application")
        for channel_id in r.args["channel"]:
            for other_id, other in self.sim.bridges.items():
                if channel_id in other["channels"] and other_id != bridge["id"]:
                    self._leave_bridge(other_id, channel_id)  # Asterisk moves a bridged channel
            if channel_id not in bridge["channels"]:
                bridge["channels"].append(channel_id)
                self._emit_channel(
                    channel_id, "ChannelEnteredBridge", bridge=bridge, channel=self.sim.channels[channel_id]
                )
        return 204, None

    def op_remove_channel(self, r: Request) -> tuple[int, Any]:
        bridge = self._bridge(r.args["bridgeId"])
        for channel_id in r.args["channel"]:
            if channel_id not in bridge["channels"]:
                raise SpecViolation(422, "Channel not in this bridge")
            self._leave_bridge(bridge["id"], channel_id)
        return 204, None

    def op_start_moh(self, r: Request) -> tuple[int, Any]:
        bridge = self._bridge(r.args["bridgeId"])
        self.sim.moh[bridge["id"]] = r.args.get("mohClass", "default")
        return 204, None

    def op_destroy_bridge(self, r: Request) -> tuple[int, Any]:
        bridge = self._bridge(r.args["bridgeId"])
        for channel_id in list(bridge["channels"]):
            self._leave_bridge(bridge["id"], channel_id)
        del self.sim.bridges[bridge["id"]]
        self.sim.moh.pop(bridge["id"], None)
        return 204, None

    def op_originate(self, r: Request) -> tuple[int, Any]:
        channel_id = r.args.get("channelId")
        if channel_id and channel_id in self.sim.channels:
            raise SpecViolation(409, "Channel with given unique ID already exists.")
        app = r.args.get("app")
        if not app:
            raise SpecViolation(400, "this simulator only originates into a Stasis application")
        endpoint = r.args["endpoint"]
        tech, _, resource = endpoint.partition("/")
        if not resource:
            raise SpecViolation(400, "Invalid endpoint")
        channel = self._new_channel(f"{tech}/{resource}-{next(self._ids):08x}", r.args.get("callerId", ""), "Down")
        if channel_id:
            del self.sim.channels[channel["id"]]
            channel["id"] = channel_id
            self.sim.channels[channel_id] = channel
        channel["_app"] = app
        args = str(r.args.get("appArgs", "")).split(",") if r.args.get("appArgs") else []
        behaviour = self.sim.agents.get(endpoint, "answer")
        timeout = int(r.args.get("timeout", 30))
        delay = {
            "answer": self.timing.agent_answer,
            "busy": self.timing.agent_answer,
            "no_answer": min(float(timeout), self.timing.agent_no_answer),
        }[behaviour]
        self._later(channel["id"], delay, self._agent_outcome, channel["id"], app, args, behaviour)
        return 200, channel


_HANDLERS: dict[str, Callable[[AriTestServer, Request], tuple[int, Any]]] = {
    "GET /channels": AriTestServer.op_list_channels,
    "GET /channels/{channelId}": AriTestServer.op_get_channel,
    "GET /bridges": AriTestServer.op_list_bridges,
    "GET /asterisk/ping": AriTestServer.op_ping,
    "POST /channels/{channelId}/answer": AriTestServer.op_answer,
    "DELETE /channels/{channelId}": AriTestServer.op_hangup,
    "POST /channels/{channelId}/play": AriTestServer.op_play,
    "GET /playbacks/{playbackId}": AriTestServer.op_get_playback,
    "DELETE /playbacks/{playbackId}": AriTestServer.op_stop_playback,
    "POST /channels/{channelId}/record": AriTestServer.op_record,
    "GET /recordings/live/{recordingName}": AriTestServer.op_get_live,
    "GET /recordings/stored/{recordingName}": AriTestServer.op_stored,
    "GET /recordings/stored/{recordingName}/file": AriTestServer.op_stored_file,
    "POST /bridges": AriTestServer.op_create_bridge,
    "POST /bridges/{bridgeId}/addChannel": AriTestServer.op_add_channel,
    "POST /bridges/{bridgeId}/removeChannel": AriTestServer.op_remove_channel,
    "POST /bridges/{bridgeId}/moh": AriTestServer.op_start_moh,
    "DELETE /bridges/{bridgeId}": AriTestServer.op_destroy_bridge,
    "POST /channels": AriTestServer.op_originate,
    "POST /channels/{channelId}": AriTestServer.op_originate,
}

#: Q.850 causes the simulator uses, with Asterisk's texts.
_CAUSES = {16: "Normal Clearing", 17: "User busy", 19: "No answer"}


def _dialplan(context: str, exten: str, priority: int, app_name: str, app_data: str) -> dict[str, Any]:
    return {"context": context, "exten": exten, "priority": priority, "app_name": app_name, "app_data": app_data}


def _now() -> str:
    # Asterisk's format: milliseconds and a +hhmm offset.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _public(value: Any) -> Any:
    """A copy without the simulator's own ``_keys``."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


async def _write(ws: web.WebSocketResponse, queue: asyncio.Queue[str]) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        while True:
            await ws.send_str(await queue.get())


def _wav(seconds: float) -> bytes:
    """A valid 16-bit mono PCM WAV of silence."""
    frames = int(SAMPLE_RATE * max(seconds, 0.01))
    data = b"\x00\x00" * frames
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8088)
    server = AriTestServer().start(parser.parse_args().port)
    print(f"ARI test server on {server.url} (user {server.username}, password {server.password}); Ctrl-C stops")
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)
    server.stop()
