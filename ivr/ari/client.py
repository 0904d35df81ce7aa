"""Our ARI client: the REST side of ``ari-client``, our own event WebSocket with reconnection.

Why ``ari-client`` (PyPI ``ari-client`` 0.9, qalby-tech/asterisk-ari-client-py): asyncio-native, typed
(pydantic models of Channel, Bridge, Playback, LiveRecording), httpx underneath, maintained, runs on
Python 3.11. ``asyncari`` was the other candidate: it loads Swagger from Asterisk at start-up, handles
each event inline in the WebSocket reader and fails the client when a handler takes over a second; it
has no reconnection. ``ari-py``/``aioari`` are unmaintained (swagger-py).

What we take from ``ari-client`` is its REST controller (:class:`ari_client.controller.AriClientController`)
on an httpx client we build: our timeouts and pool size over aiohttp (:mod:`ivr.ari.transport` says
why), and a response hook that turns every non-2xx
answer into :class:`ivr.errors.AriRequestError` with the status (ari-client itself raises a mix of bare
``Exception``, ``AriError`` and ``httpx.HTTPStatusError``, which would hide "the channel is gone").

What we do not take is its WebSocket part (``ari_client.AriClient``): it never reconnects and starts one
unordered task per event. Here, one task reads ``/ari/events`` and only routes: every event goes to its
call's lane (:mod:`ivr.ari.lanes`), so one call's events keep their order and a slow step of one call
delays no other call and never the reader. When the socket drops, we reconnect with exponential back-off
and, since Asterisk does not replay missed events, hand the handler a fresh ``GET /channels`` and
``GET /bridges`` before routing any new event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect

from ivr.ari.lanes import Lanes
from ivr.ari.settings import AriSettings
from ivr.ari.transport import AiohttpTransport
from ivr.errors import AriError, AriRequestError

log = logging.getLogger(__name__)


def _import_controller() -> Any:
    # ari-client 0.9 calls logging.basicConfig(level=INFO) when imported; a handler on the root logger
    # for the duration of the import makes that call a no-op, so importing it changes no logging setup.
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)
    try:
        from ari_client.controller import AriClientController
    finally:
        root.removeHandler(guard)
    return AriClientController


AriClientController = _import_controller()

#: An ARI event as Asterisk sent it (``type``, ``timestamp``, ``application``, ``channel``, ...).
Event = dict[str, Any]

#: Seconds between WebSocket pings; a silent half-open TCP connection is noticed after twice this.
PING_INTERVAL_SECONDS = 10.0


class EventHandler(Protocol):
    """What the client needs from the Stasis application."""

    def lane_of(self, event: Event) -> str | None:
        """The lane (call) an event belongs to, or ``None`` to drop it. Must not block."""
        ...

    async def handle(self, item: Any) -> None:
        """Handle one item of a lane: an event, or whatever the application itself submitted."""
        ...

    def resync(self, channels: list[Any], bridges: list[Any]) -> None:
        """The WebSocket is (re)connected: this is Asterisk's state now. Must not block (submit to lanes)."""
        ...


class AriClient:
    """REST calls (``client.rest``) and the event stream of one Stasis application."""

    def __init__(self, settings: AriSettings, handler: EventHandler) -> None:
        self.settings = settings
        self._handler = handler
        self._http = httpx.AsyncClient(
            base_url=settings.url,
            auth=(settings.username, settings.password),
            transport=AiohttpTransport(settings.max_connections, settings.request_timeout_seconds),
            event_hooks={"response": [_raise_for_status]},
        )
        #: ari-client's REST controller: ``answer_channel``, ``play_channel``, ``create_bridge``, ...
        self.rest = AriClientController(self._http, settings.app)
        self.lanes = Lanes(handler.handle)
        #: Set while the event WebSocket is up and the state has been rebuilt.
        self.connected = asyncio.Event()
        #: Successful connections so far (1 after the first, +1 per reconnection).
        self.connections = 0
        self._stopping = asyncio.Event()
        self._ws: ClientConnection | None = None

    async def run(self) -> None:
        """Connect, rebuild state, route events; reconnect with back-off until :meth:`stop`."""
        failures = 0
        while not self._stopping.is_set():
            try:
                async with connect(
                    self._events_url(),
                    open_timeout=self.settings.request_timeout_seconds,
                    ping_interval=PING_INTERVAL_SECONDS,
                    ping_timeout=PING_INTERVAL_SECONDS,
                    max_size=None,
                ) as ws:
                    self._ws = ws
                    await self._rebuild()
                    failures = 0
                    self.connections += 1
                    self.connected.set()
                    log.info("ARI events connected (app %s, connection %d)", self.settings.app, self.connections)
                    async for message in ws:
                        self._route(message)
                if not self._stopping.is_set():
                    log.warning("ARI event WebSocket closed by Asterisk")
            except (OSError, TimeoutError, websockets.WebSocketException, httpx.HTTPError, AriError) as err:
                # Never log the URL: its query string holds the api_key.
                log.warning("ARI event WebSocket failed: %s: %s", type(err).__name__, err)
            finally:
                self._ws = None
                self.connected.clear()
            if self._stopping.is_set():
                break
            delay = min(self.settings.reconnect_max_seconds, self.settings.reconnect_min_seconds * 2**failures)
            failures += 1
            log.info("reconnecting to ARI in %.1f s", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    def stop(self) -> None:
        """Stop :meth:`run` (it closes the WebSocket and returns)."""
        self._stopping.set()
        if self._ws is not None:
            asyncio.get_running_loop().create_task(self._ws.close())

    async def aclose(self) -> None:
        self.stop()
        await self.lanes.cancel()
        await self._http.aclose()

    async def hang_up_quietly(self, channel_id: str) -> None:
        """Hang up a channel that may already be gone."""
        try:
            await self.rest.hangup_channel(channel_id, reason="normal")
        except AriRequestError as err:
            if not err.gone:
                raise

    async def fetch_recording(self, name: str) -> bytes:
        """The audio of a stored recording (``GET /recordings/stored/{name}/file``)."""
        data: bytes = await self.rest.download_recording(name)
        return data

    def _events_url(self) -> str:
        query = urlencode(
            {
                "app": self.settings.app,
                "subscribeAll": "false",
                "api_key": f"{self.settings.username}:{self.settings.password}",
            }
        )
        return f"{self.settings.events_url}?{query}"

    async def _rebuild(self) -> None:
        # After the WebSocket is up, so that nothing happening from now on can be missed; events that
        # arrive during these two requests wait in the socket and are routed after the resync items.
        channels, bridges = await asyncio.gather(self.rest.list_channels(), self.rest.list_bridges())
        log.info("ARI state: %d channels, %d bridges", len(channels), len(bridges))
        self._handler.resync(channels, bridges)

    def _route(self, message: str | bytes) -> None:
        try:
            event = json.loads(message)
        except ValueError:
            log.warning("ARI sent a message that is not JSON (%d bytes)", len(message))
            return
        if not isinstance(event, dict) or "type" not in event:
            log.warning("ARI sent a message without a type")
            return
        lane = self._handler.lane_of(event)
        if lane is not None:
            self.lanes.submit(lane, event)


async def _raise_for_status(response: httpx.Response) -> None:
    """httpx response hook: every non-2xx answer becomes an AriRequestError carrying its status."""
    if response.is_success:
        return
    await response.aread()
    detail = response.text[:200]
    with contextlib.suppress(ValueError, AttributeError):
        detail = str(json.loads(detail).get("message", detail))
    raise AriRequestError(response.request.method, response.request.url.path, response.status_code, detail)
