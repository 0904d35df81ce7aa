"""Running the Stasis application against the ARI test server, for the ARI tests and the benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ivr.ari.agents import AgentPool
from ivr.ari.app import CallEndHook, StasisApp
from ivr.ari.call import CallRecord
from ivr.ari.menu_port import MenuEngine
from ivr.ari.settings import AriSettings
from tests.ari_server import AriTestServer, Timing


@pytest.fixture
def server() -> Iterator[AriTestServer]:
    """The ARI test server; the test fails if anything was sent outside Asterisk's ARI description."""
    srv = AriTestServer(timing=Timing(prompt=0.05, recording=0.1)).start()
    yield srv
    srv.stop()
    assert not srv.violations, "outside Asterisk's ARI description:\n" + "\n".join(srv.violations)


def plays(server: AriTestServer, channel_id: str) -> list[str]:
    """The media of every play request for one channel, in order."""
    requests = server.requests_to("POST /channels/{channelId}/play")
    return [r.args["media"][0] for r in requests if r.args["channelId"] == channel_id]


class AppThread:
    """A :class:`StasisApp` on its own event loop in a thread, with the records of finished calls."""

    def __init__(
        self,
        server: AriTestServer,
        engine: MenuEngine,
        on_call_end: CallEndHook | None = None,
        agents: AgentPool | None = None,
        **settings: Any,
    ) -> None:
        values = {
            "url": server.url,
            "username": server.username,
            "password": server.password,
            "reconnect_min_seconds": 0.05,
            "reconnect_max_seconds": 0.4,
            **settings,
        }
        self.settings = AriSettings(**values)
        self.engine = engine
        self.agents = agents
        self._on_call_end = on_call_end
        self.records: list[CallRecord] = []
        self.app: StasisApp | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="stasis-app", daemon=True)
        self._started = threading.Event()
        self.error: BaseException | None = None

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self.app = StasisApp(self.settings, self.engine, on_call_end=self._ended, agents=self.agents)
            self._started.set()
            await self.app.run()

        try:
            asyncio.run(main())
        except BaseException as err:  # surfaced by stop(): a crash of the app must fail the test
            self.error = err
            self._started.set()

    def _ended(self, record: CallRecord) -> None:
        if self._on_call_end is not None:
            self._on_call_end(record)
        self.records.append(record)

    def start(self) -> AppThread:
        self._thread.start()
        self._started.wait(5)
        return self

    def stop(self) -> None:
        if self._loop is not None and self.app is not None:
            self._loop.call_soon_threadsafe(self.app.stop)
        self._thread.join(10)
        if self.error is not None:
            raise self.error

    def run(self, coroutine: Any) -> Any:
        """Run a coroutine on the app's loop (the client's REST calls, reading its state) and return its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(5)

    @property
    def connections(self) -> int:
        return self.app.client.connections if self.app is not None else 0


@contextlib.contextmanager
def running_app(
    server: AriTestServer,
    engine: MenuEngine,
    on_call_end: CallEndHook | None = None,
    agents: AgentPool | None = None,
    **settings: Any,
) -> Iterator[AppThread]:
    """The app, connected to ``server`` (its WebSocket is up) for the duration of the block."""
    thread = AppThread(server, engine, on_call_end, agents, **settings).start()
    try:
        server.wait_for(lambda: server.connected() > 0, what="the app's event WebSocket")
        yield thread
    finally:
        thread.stop()
