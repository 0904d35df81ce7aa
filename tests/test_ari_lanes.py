"""A slow step of one call delays neither other calls nor the WebSocket reader, and drops nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ivr.ari.basic_menu import BasicMenu
from ivr.ari.lanes import Lanes
from ivr.ari.menu_port import Action, CallInfo, Outcome
from tests import aio
from tests.ari_harness import plays, running_app, server
from tests.ari_server import AriTestServer

__all__ = ["server"]  # the fixture

SLOW_CALLER = "+8613800000001"
#: How long the slow call's menu step takes, in seconds.
SLOW_SECONDS = 1.5


class SlowForOneCaller:
    """The basic menu, whose step takes 1.5 s for one caller (a slow case lookup, say)."""

    def __init__(self) -> None:
        self._menu = BasicMenu()

    def start(self, call: CallInfo) -> tuple[Any, list[Action]]:
        state, actions = self._menu.start(call)
        return (call.caller_number, state), actions

    def step(self, state: Any, outcome: Outcome) -> tuple[Any, list[Action]]:
        caller, inner = state
        if caller == SLOW_CALLER:
            time.sleep(SLOW_SECONDS)  # blocking on purpose: the driver must keep it off the event loop
        inner, actions = self._menu.step(inner, outcome)
        return (caller, inner), actions


def test_slow_step_of_one_call_does_not_delay_another(server: AriTestServer) -> None:
    with running_app(server, SlowForOneCaller()) as app:
        slow = server.dial_in(SLOW_CALLER)
        fast = server.dial_in("+8613900000002")
        for channel in (slow, fast):
            server.wait_for(lambda c=channel: "sound:gridline/main" in plays(server, c), what="the menus")
        server.press(slow, "1")
        time.sleep(0.05)
        pressed = time.perf_counter()
        server.press(fast, "1")
        server.wait_for(lambda: "sound:gridline/record" in plays(server, fast), what="the fast call")
        fast_reply = time.perf_counter() - pressed
        assert "sound:gridline/record" not in plays(server, slow)  # still in its slow step
        # The slow call's events kept arriving meanwhile (its stopped prompt's PlaybackFinished, ...) and
        # waited in its lane: once the step is done the call goes on to its end.
        server.wait_for(lambda: len(app.records) == 2, timeout=10, what="both calls to finish")
    assert fast_reply < 0.5, f"the fast call waited {fast_reply:.2f} s for the slow one"
    assert all(record.path[0] == "gather:1" and record.recordings for record in app.records)


def test_lanes_keep_order_per_key_and_run_keys_side_by_side() -> None:
    seen: list[tuple[str, int]] = []

    async def worker(item: tuple[str, int]) -> None:
        key, n = item
        if key == "slow" and n == 0:
            await asyncio.sleep(0.5)
        seen.append(item)

    async def scenario() -> float:
        lanes = Lanes(worker)
        for n in range(200):
            lanes.submit("slow", ("slow", n))
            lanes.submit("fast", ("fast", n))
        start = time.perf_counter()
        while len([item for item in seen if item[0] == "fast"]) < 200:
            await asyncio.sleep(0.001)
        fast_done = time.perf_counter() - start
        await lanes.join()
        assert lanes.busy == 0
        return fast_done

    fast_done = aio.run(scenario)
    assert fast_done < 0.3
    assert [n for key, n in seen if key == "slow"] == list(range(200))
    assert [n for key, n in seen if key == "fast"] == list(range(200))


def test_a_failing_step_does_not_stop_its_lane() -> None:
    seen: list[int] = []

    async def worker(n: int) -> None:
        if n == 1:
            raise RuntimeError("boom")
        seen.append(n)

    async def scenario() -> None:
        lanes = Lanes(worker)
        for n in range(3):
            lanes.submit("call", n)
        await lanes.join()

    aio.run(scenario)
    assert seen == [0, 2]
