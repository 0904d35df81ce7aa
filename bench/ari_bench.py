"""500 simultaneous calls through the ARI Stasis application, against the ARI test server.

The application runs as deployed: ``gridline ari --menu basic`` in its own process, configured by
``GRIDLINE_IVR__ARI__*`` variables, talking HTTP and WebSocket to ``tests/ari_server.py`` in this process
(every request checked against Asterisk's ARI description, as in the tests). The basic menu is the
hotline's shape without a database: greeting, main menu (one key), then

* key 1 (most calls): record a message (the caller presses ``#``), thanks, goodbye, the app hangs up;
* key 2 (every ``--queue-every``-th call): holding bridge with music, the caller hears their place, the
  app's queue offers the call to a free endpoint of ``GRIDLINE_IVR__ARI__AGENT_ENDPOINTS`` (one call per
  endpoint at a time), which is originated, answers, is bridged with the caller, and hangs up after
  ``--talk-seconds``.

All calls are dialled within ``--ramp-seconds`` (20: 25 calls a second) and last about 25 s (5 s prompts),
so all 500 are in progress at once; each presses its key ``--key-delay`` after its main menu starts
(barge-in: the key stops the prompt). ``--ramp-seconds 2 --prompt-seconds 1 --record-seconds 1
--talk-seconds 1`` is the burst case: 250 calls a second, whose steps all fall in the same second. Measured:

* **key → prompt**: from the DTMF event leaving the server to the app's next ``POST .../play`` arriving
  (the key's event → WebSocket → the call's lane → stop the prompt → menu step → play request);
* **baseline, same run**: a minimal ARI client in this process (one WebSocket, one httpx client, no
  menu, no lanes) answering each key of its own calls with a play request, and ``GET /asterisk/ping``
  round trips, both during the load;
* **no call lost or stuck**: every call must reach its end (the app hangs up, or the agent does) with
  nothing left over (channels, bridges, playbacks, recordings), within ``--deadline`` seconds.

Results go to ``bench/results/ari-<time>.json``. Loopback only; the run stops by itself.
``BENCH_PY_ARGS="-m cProfile -o app.prof"`` runs the app under a profiler.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import websockets  # noqa: E402

from tests.ari_server import AriTestServer, Logged, Timing  # noqa: E402

#: The baseline client's own Stasis application name.
ECHO_APP = "bench-echo"


def ms(samples: list[float], q: int) -> float | None:
    if len(samples) < 2:
        return None
    return round(statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000, 2)


class Caller:
    """The callers' side of the simulation: reacts to the app's requests on the server's loop."""

    def __init__(self, server: AriTestServer, args: argparse.Namespace) -> None:
        self.server = server
        self.args = args
        self.keys: dict[str, str] = {}
        self.outcome: dict[str, str] = {}
        self.agent_legs: set[str] = set()

    def __call__(self, request: Logged) -> None:
        loop = self.server.loop
        op, a = request.operation, request.args
        if op == "POST /channels/{channelId}/play":
            channel, media = a["channelId"], a["media"][0]
            if channel in self.keys and media == "sound:gridline/main":
                loop.call_later(self.args.key_delay, self.server.press_on_loop, channel, self.keys[channel])
        elif op == "POST /channels/{channelId}/record":
            loop.call_later(self.args.record_seconds, self.server.press_on_loop, a["channelId"], "#")
        elif op == "POST /bridges/{bridgeId}/addChannel":
            for leg in a["channel"]:
                if leg in self.agent_legs:
                    loop.call_later(self.args.talk_seconds, self.server.hang_up_on_loop, leg)
        elif op == "POST /channels" and a.get("app") == "gridline":
            self.agent_legs.add(a["channelId"])
        elif op == "DELETE /channels/{channelId}" and a["channelId"] in self.keys:
            self.outcome[a["channelId"]] = "hung up by the app"


class EchoClient:
    """The baseline: the least an ARI client can do between a key and a play request."""

    def __init__(self, server: AriTestServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        auth = f"{self.server.username}:{self.server.password}"
        url = f"ws://127.0.0.1:{self.server.port}/ari/events?" + urlencode({"app": ECHO_APP, "api_key": auth})
        async with (
            httpx.AsyncClient(base_url=self.server.url, auth=(self.server.username, self.server.password)) as http,
            websockets.connect(url) as ws,
        ):
            self.ready.set()
            async for message in ws:
                event = json.loads(message)
                if event["type"] == "ChannelDtmfReceived":
                    channel = event["channel"]["id"]
                    await http.post(f"/channels/{channel}/play", params={"media": "sound:beep"})
                    await http.delete(f"/channels/{channel}")


def run_app(server: AriTestServer, agents: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GRIDLINE_CONFIG": os.devnull,
        "GRIDLINE_IVR__ARI__URL": server.url,
        "GRIDLINE_IVR__ARI__USERNAME": server.username,
        "GRIDLINE_IVR__ARI__PASSWORD": server.password,
        "GRIDLINE_IVR__ARI__AGENT_ENDPOINTS": json.dumps([f"PJSIP/agent{n}" for n in range(1, agents + 1)]),
        "GRIDLINE_IVR__ARI__MAX_CONNECTIONS": "64",
    }
    profiler = os.environ.get("BENCH_PY_ARGS", "").split()
    command = [sys.executable, *profiler, "-m", "intake.cli", "--log-level", "WARNING", "ari", "--menu", "basic"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)


def wait(predicate: Callable[[], Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--ramp-seconds", type=float, default=20.0, help="all calls are dialled within this")
    parser.add_argument("--queue-every", type=int, default=5, help="every n-th call asks for an agent")
    parser.add_argument("--prompt-seconds", type=float, default=5.0, help="length of every prompt")
    parser.add_argument("--key-delay", type=float, default=0.3, help="seconds into the main menu the key comes")
    parser.add_argument("--record-seconds", type=float, default=5.0, help="a message lasts this long")
    parser.add_argument("--talk-seconds", type=float, default=10.0, help="an agent talks this long")
    parser.add_argument("--echo-calls", type=int, default=100, help="baseline calls during the load")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds for every call to end")
    args = parser.parse_args()

    timing = Timing(prompt=args.prompt_seconds, recording=60.0, agent_answer=0.2)
    server = AriTestServer(timing=timing).start()
    caller = Caller(server, args)
    server.on_request = caller
    workdir = Path(tempfile.mkdtemp(prefix="gl-ari-bench-"))
    app = run_app(server, agents=args.calls, log_path=workdir / "app.log")
    result: dict[str, Any] = {"args": vars(args), "started_at": datetime.now(UTC).isoformat()}
    try:
        if not wait(lambda: server.connected() > 0, 30):
            print("FAILURE: the app did not connect; its log:", (workdir / "app.log").read_text()[-2000:])
            return 1
        echo = EchoClient(server)
        echo.start()

        channels: list[str] = []
        echo_channels: list[str] = []
        pings: list[float] = []
        started = time.perf_counter()
        gap = args.ramp_seconds / max(args.calls, 1)
        echo_every = max(args.calls // max(args.echo_calls, 1), 1)
        with httpx.Client(base_url=server.url, auth=(server.username, server.password)) as http:
            for n in range(args.calls):
                channel = server.dial_in(f"+86138{n:08d}")
                assert channel is not None
                caller.keys[channel] = "2" if args.queue_every and n % args.queue_every == 0 else "1"
                channels.append(channel)
                if n % echo_every == 0 and len(echo_channels) < args.echo_calls:
                    echo_channel = server.dial_in(f"+86139{n:08d}", app=ECHO_APP)
                    assert echo_channel is not None
                    echo_channels.append(echo_channel)
                    server.loop.call_soon_threadsafe(
                        server.loop.call_later, args.key_delay, server.press_on_loop, echo_channel, "5"
                    )
                begin = time.perf_counter()
                http.get("/asterisk/ping")
                pings.append(time.perf_counter() - begin)
                time.sleep(max(0.0, started + (n + 1) * gap - time.perf_counter()))
            dialled = time.perf_counter() - started
            peak = [0]

            def finished() -> bool:
                live = server.call(lambda: len(server.sim.channels))
                peak[0] = max(peak[0], live)
                begin = time.perf_counter()
                http.get("/asterisk/ping")
                pings.append(time.perf_counter() - begin)
                return server.call(lambda: all(c in server.sim.ended for c in channels) and not server.sim.channels)

            done = wait(finished, args.deadline)
        elapsed = time.perf_counter() - started

        requests = list(server.requests)
        app_samples = samples_for(server, set(channels))
        echo_samples = samples_for(server, set(echo_channels))
        stuck = sorted(set(channels) - set(server.sim.ended))
        unfinished = [c for c in channels if c not in caller.outcome and c not in stuck]
        counts = {
            "calls": len(channels),
            "ended": sum(1 for c in channels if c in server.sim.ended),
            "hung_up_by_app": sum(1 for c in channels if caller.outcome.get(c)),
            "stuck": len(stuck),
            "left_over": server.call(
                lambda: {
                    "channels": len(server.sim.channels),
                    "bridges": len(server.sim.bridges),
                    "playbacks": len(server.sim.playbacks),
                    "recordings": len(server.sim.live),
                }
            ),
            "queue_calls": sum(1 for c in channels if caller.keys[c] == "2"),
            "recordings_stored": len(server.sim.stored),
            "peak_channels": peak[0],
            "requests": len(requests),
            "events": len(server.events),
            "violations": len(server.violations),
        }
        result.update(
            counts=counts,
            dial_seconds=round(dialled, 2),
            elapsed_seconds=round(elapsed, 2),
            all_done=done,
            key_to_prompt_ms={"n": len(app_samples), "p50": ms(app_samples, 50), "p99": ms(app_samples, 99)},
            baseline_echo_ms={"n": len(echo_samples), "p50": ms(echo_samples, 50), "p99": ms(echo_samples, 99)},
            baseline_ping_ms={"n": len(pings), "p50": ms(pings, 50), "p99": ms(pings, 99)},
            violations=server.violations[:20],
            stuck_examples=stuck[:10],
            not_hung_up_by_app=unfinished[:10],
            load_average=os.getloadavg(),
        )
    finally:
        app.terminate()
        try:
            app.wait(15)
        except subprocess.TimeoutExpired:
            app.kill()
        server.stop()

    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    out = results / f"ari-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("args",)}, indent=2))
    print(f"written to {out}; app log in {workdir / 'app.log'}")
    failed = not result["all_done"] or result["counts"]["stuck"] or result["counts"]["violations"]
    if failed:
        print("FAILURE: calls lost or stuck, or requests outside the ARI description")
    return 1 if failed else 0


def samples_for(server: AriTestServer, channels: set[str]) -> list[float]:
    """Key → next-prompt delays of the given channels (the server records them per channel)."""
    return [seconds for channel, seconds in server.key_to_prompt if channel in channels]


if __name__ == "__main__":
    raise SystemExit(main())
