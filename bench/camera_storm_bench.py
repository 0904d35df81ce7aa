"""Camera storm benchmark: 27,000 cameras raise an alarm within 60 s, then repeat it every second.

    .venv/bin/python bench/camera_storm_bench.py [--cameras 27000] [--ramp 60] [--interval 1]
        [--repeats 120] [--time-scale 1] [--connections 32] [--web-workers 2] [--rq-workers 2]

Everything runs as deployed: ``gridline web`` (gunicorn, sync workers) takes Hikvision ISAPI pushes
(``linedetection`` with a rising ``activePostCount``, HTTP Basic per camera) sent by wrk
(``bench/camera_storm.lua``) on the storm's schedule; ``gridline worker`` drains the stream, collapses
repeats into incidents and turns incidents into cases. The figures are set against ``GET /livez`` of
the same gunicorn measured in the same run. Checked: every accepted alarm stored, one incident per
camera and rule collecting every repeat, one case per incident, and the time from the storm's last
alarm until the queue has caught up (stream empty, every incident a case in the agents' queue).

PostgreSQL database ``bench_camera`` and Redis database 12 by default (dropped/flushed at the start;
``GRIDLINE_BENCH_DATABASE_URL`` / ``GRIDLINE_BENCH_REDIS_URL`` override them). See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intake_bench import BenchError, Processes, free_port, http

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "camera_storm.lua"
GRIDLINE = str(Path(sys.executable).parent / "gridline")
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))

DATABASE_URL = os.environ.get("GRIDLINE_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_camera")
REDIS_URL = os.environ.get("GRIDLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PASSWORD = "storm-camera-1"
#: Huairou's built-up area: the cameras' points.
LAT_RANGE = (40.28, 40.36)
LON_RANGE = (116.58, 116.68)
#: Target from the issue: the queue caught up within this many seconds of the storm's end.
TARGET_LAG_SECONDS = 10.0
POLL_SECONDS = 0.25


def say(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_database(url: str) -> None:
    import psycopg

    server, _, name = url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def make_env(args: argparse.Namespace, data_dir: Path, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GRIDLINE_")}
    empty_config = data_dir / "bench-config.yaml"
    empty_config.write_text("# bench: defaults plus GRIDLINE_* variables only\n")
    plan = args.repeats * args.interval * args.time_scale
    env.update(
        GRIDLINE_CONFIG=str(empty_config),
        GRIDLINE_DATA__DIR=str(data_dir),
        GRIDLINE_DATABASE__URL=DATABASE_URL,
        GRIDLINE_REDIS__URL=REDIS_URL,
        GRIDLINE_SERVER__HOST="127.0.0.1",
        GRIDLINE_SERVER__PORT=str(port),
        GRIDLINE_SERVER__SECRET_KEY=secrets.token_urlsafe(32),
        # Repeats must fall within the quiet period however much the storm stretches, and cameras that
        # have not yet raised their first alarm must not be reported offline meanwhile.
        GRIDLINE_CAMERA__QUIET_PERIOD_SECONDS=str(int(max(600, 20 * args.interval * args.time_scale))),
        GRIDLINE_CAMERA__OFFLINE_AFTER_SECONDS=str(int(max(86400, 10 * plan))),
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare(args: argparse.Namespace, env: dict[str, str], procs: Processes) -> Any:
    """A fresh schema, migrated, and the registry: one sender (own password) and one camera each."""
    os.environ.update(env)
    ensure_database(DATABASE_URL)
    from sqlalchemy import insert, text

    from channels.camera.auth import ha1
    from channels.camera.models import Camera, CameraSender
    from intake.config import load_config
    from intake.runtime import init_runtime

    runtime = init_runtime(load_config())
    with runtime.db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    runtime.redis.flushdb()
    upgrade = procs.start("db-upgrade", [GRIDLINE, "db", "upgrade"], env)
    if upgrade.wait(timeout=180) != 0:
        raise BenchError("gridline db upgrade failed:\n" + procs.log_tail("db-upgrade"))
    rng = random.Random(6)
    now = datetime.now(UTC)
    senders = [
        {
            "name": f"cam{index:05d}",
            "auth": "http",
            "ha1": ha1(f"cam{index:05d}", PASSWORD),
            "active": True,
            "created_at": now,
        }
        for index in range(args.cameras)
    ]
    with runtime.db.engine.begin() as conn:
        conn.execute(insert(CameraSender.__table__), senders)
        ids = dict(conn.execute(text("SELECT name, id FROM camera_senders")).all())
        conn.execute(
            insert(Camera.__table__),
            [
                {
                    "code": f"HR-{index:05d}",
                    "name": f"storm camera {index}",
                    "vendor": "hikvision",
                    "sender_id": ids[f"cam{index:05d}"],
                    "mac": mac_of(index),
                    "channel": 1,
                    "lat": rng.uniform(*LAT_RANGE),
                    "lon": rng.uniform(*LON_RANGE),
                    "address": f"怀柔区测试路{index}号",
                    "created_at": now,
                }
                for index in range(args.cameras)
            ],
        )
    return runtime


def mac_of(index: int) -> str:
    digest = hashlib.sha256(f"storm-{index}".encode()).digest()
    return ":".join(f"{byte:02x}" for byte in (b"\x02" + digest[:5]))


def write_camera_file(path: Path, cameras: int) -> None:
    with path.open("w") as out:
        for index in range(cameras):
            token = base64.b64encode(f"cam{index:05d}:{PASSWORD}".encode()).decode()
            out.write(f"Basic {token}\t{mac_of(index)}\n")


def start_services(args: argparse.Namespace, env: dict[str, str], procs: Processes, base_url: str) -> None:
    argv = [GRIDLINE, "web", "--workers", str(args.web_workers), "--worker-class", args.web_worker_class]
    web = procs.start("gunicorn", argv, env)
    procs.start("rq-workers", [GRIDLINE, "worker", "--count", str(args.rq_workers)], env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise BenchError("gunicorn exited at start-up:\n" + procs.log_tail("gunicorn"))
        try:
            if http(base_url + "/livez")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError("gunicorn did not answer /livez within 60 s:\n" + procs.log_tail("gunicorn"))


def warm_up(base_url: str) -> None:
    """Heartbeats (they open nothing): both gunicorn workers load the registry before the clock runs."""
    body = (
        b'<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">'
        b"<macAddress>" + mac_of(0).encode() + b"</macAddress><channelID>1</channelID>"
        b"<eventType>heartBeat</eventType><eventState>active</eventState></EventNotificationAlert>"
    )
    token = base64.b64encode(f"cam00000:{PASSWORD}".encode()).decode()
    headers = {"Content-Type": "application/xml", "Authorization": f"Basic {token}"}
    for _ in range(40):
        status, text = http(base_url + "/channels/camera/hikvision", body, headers)
        if status != 200:
            raise BenchError(f"warm-up heartbeat answered {status}: {text[:300]}")


def wrk(
    args: argparse.Namespace, url: str, duration: float, lua_args: list[str], procs: Processes, name: str
) -> subprocess.Popen[bytes]:
    argv = [
        args.wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{math.ceil(duration)}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        *lua_args,
    ]
    return procs.start(name, argv, dict(os.environ))


def wrk_result(procs: Processes, name: str) -> dict[str, Any]:
    for line in (procs.log_dir / f"{name}.log").read_text(errors="replace").splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise BenchError(f"{name} printed no result:\n" + procs.log_tail(name))


def baseline(args: argparse.Namespace, base_url: str, procs: Processes) -> dict[str, Any]:
    process = wrk(args, base_url + "/livez", args.baseline_seconds, ["livez"], procs, "wrk-livez")
    process.wait(timeout=args.baseline_seconds + 60)
    result = wrk_result(procs, "wrk-livez")
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def catch_up_state(runtime: Any) -> dict[str, int]:
    from sqlalchemy import text

    stream = runtime.key("camera", "alarms")
    pending = 0
    try:
        pending = int(runtime.redis.xpending(stream, "drainers")["pending"])
    except Exception:  # no group yet
        pending = 0
    with runtime.db.engine.connect() as conn:
        unsubmitted = conn.scalar(text("SELECT count(*) FROM camera_incidents WHERE case_number IS NULL"))
        received = conn.scalar(text("SELECT count(*) FROM cases WHERE channel = 'camera' AND status = 'received'"))
        incidents = conn.scalar(text("SELECT count(*) FROM camera_incidents"))
    return {
        "stream": int(runtime.redis.xlen(stream)),
        "pending": pending,
        "unsubmitted_incidents": int(unsubmitted or 0),
        "received_cases": int(received or 0),
        "incidents": int(incidents or 0),
    }


def caught_up(state: dict[str, int]) -> bool:
    return (
        state["stream"] == 0
        and state["pending"] == 0
        and state["unsubmitted_incidents"] == 0
        and state["received_cases"] == 0
        and state["incidents"] > 0
    )


def storm(args: argparse.Namespace, base_url: str, procs: Processes, runtime: Any, data_dir: Path) -> dict[str, Any]:
    camera_file = data_dir / "cameras.tsv"
    write_camera_file(camera_file, args.cameras)
    done_prefix = str(data_dir / "storm-done-")
    plan_seconds = (args.ramp + args.repeats * args.interval) * args.time_scale
    t0 = time.time() + 1.0
    lua_args = [
        "storm",
        str(camera_file),
        str(args.cameras),
        str(args.ramp),
        str(args.interval),
        str(args.repeats),
        f"{t0:.6f}",
        str(args.time_scale),
        done_prefix,
        str(args.threads),
    ]
    # wrk itself runs for a fixed time: give it far more than the plan, stop it once every thread is done.
    process = wrk(args, base_url + "/livez", plan_seconds * 20 + 600, lua_args, procs, "wrk-storm")
    say(f"storm: {args.cameras} cameras, {args.cameras * (args.repeats + 1)} alarms planned over {plan_seconds:.0f} s")
    samples: list[dict[str, Any]] = []
    storm_end: float | None = None
    caught: float | None = None
    last_report = time.monotonic()
    while caught is None:
        if process.poll() is not None:
            raise BenchError("wrk ended before the storm was done:\n" + procs.log_tail("wrk-storm"))
        # Sampled all along: the storm's end is only known once every thread has reported it (a thread
        # whose last answer never came reports a few seconds late), and the catch-up may come first.
        state = {"at": time.time(), **catch_up_state(runtime)}
        samples.append(state)
        done = [Path(f"{done_prefix}{thread}") for thread in range(args.threads)]
        if storm_end is None and all(path.exists() for path in done):
            storm_end = max(float(path.read_text()) for path in done)
        if storm_end is not None:
            caught = next((sample["at"] for sample in samples if sample["at"] >= storm_end and caught_up(sample)), None)
            if caught is None and time.time() > storm_end + args.lag_timeout:
                raise BenchError(f"the queue did not catch up within {args.lag_timeout} s of the storm's end: {state}")
        if time.monotonic() - last_report > 10:
            last_report = time.monotonic()
            say(
                f"  t+{time.time() - t0:.0f} s: stream backlog {state['stream']}, incidents {state['incidents']}, "
                f"not yet cases {state['unsubmitted_incidents']}, cases not yet queued {state['received_cases']}"
            )
        time.sleep(POLL_SECONDS)
    assert storm_end is not None
    at_end = next(sample for sample in samples if sample["at"] >= storm_end)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    result = wrk_result(procs, "wrk-storm")
    say(f"storm sent in {storm_end - t0:.1f} s; caught up {caught - storm_end:.2f} s after its end")
    return {
        "t0": t0,
        "storm_end": storm_end,
        "caught_up": caught,
        "lag_seconds": caught - storm_end,
        "storm_seconds": storm_end - t0,
        "plan_seconds": plan_seconds,
        "at_storm_end": at_end,
        "samples": samples[:: max(1, len(samples) // 200)],
        "wrk": result,
    }


def verify(args: argparse.Namespace, runtime: Any, result: dict[str, Any]) -> dict[str, Any]:
    from sqlalchemy import text

    expected = args.cameras * (args.repeats + 1)
    with runtime.db.engine.connect() as conn:
        stored = conn.scalar(text("SELECT count(*) FROM camera_alarms"))
        incidents = conn.scalar(text("SELECT count(*) FROM camera_incidents"))
        cameras_with_incident = conn.scalar(text("SELECT count(DISTINCT camera_id) FROM camera_incidents"))
        doubled = conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT camera_id FROM camera_incidents GROUP BY camera_id, rule "
                "HAVING count(*) > 1) AS doubled"
            )
        )
        # An incident counts every alarm of its camera and rule: its stored alarms, not the plan (wrk
        # drops a request now and then when a connection breaks under it; that alarm was never sent).
        wrong_count = conn.scalar(
            text(
                "SELECT count(*) FROM camera_incidents i WHERE post_count <> "
                "(SELECT count(*) FROM camera_alarms a WHERE a.incident_id = i.id)"
            )
        )
        linked = conn.scalar(text("SELECT count(*) FROM camera_alarms WHERE incident_id IS NULL"))
        cases = conn.scalar(text("SELECT count(*) FROM cases WHERE channel = 'camera'"))
        queued = conn.scalar(text("SELECT count(*) FROM cases WHERE channel = 'camera' AND status = 'verifying'"))
        rejected = conn.scalar(text("SELECT count(*) FROM camera_alarms WHERE status <> 'ok'"))
    wrk_result = result["wrk"]
    checks = {
        "every alarm answered was accepted (2xx)": wrk_result["s2xx"] == wrk_result["answered"],
        "every accepted alarm stored": stored == wrk_result["s2xx"],
        "no alarm refused or flagged": rejected == 0,
        "one incident per camera and rule": incidents == args.cameras == cameras_with_incident and doubled == 0,
        "every incident collected all its repeats": wrong_count == 0 and linked == 0,
        "one case per incident, all in the agents' queue": cases == queued == args.cameras,
        f"queue caught up within {TARGET_LAG_SECONDS:.0f} s": result["lag_seconds"] <= TARGET_LAG_SECONDS,
    }
    return {
        "expected_alarms": expected,
        "sent_alarms": wrk_result["sent"],
        "unanswered_alarms": wrk_result["sent"] - wrk_result["answered"],
        "stored_alarms": stored,
        "incidents": incidents,
        "cases": cases,
        "queued_cases": queued,
        "incidents_with_wrong_count": wrong_count,
        "checks": checks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=27000)
    parser.add_argument("--ramp", type=float, default=60.0, help="seconds over which the cameras raise their alarm")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two repeats of one camera")
    parser.add_argument("--repeats", type=int, default=120, help="repeats after the first alarm (120: two minutes)")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="stretch every time of the schedule (2: half as fast)"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--web-worker-class",
        choices=["sync", "gthread"],
        default="sync",
        help="sync: the webhook pool as deployed; gthread for a schedule slower than the server (wrk then "
        "holds connections idle, which a sync worker waits on)",
    )
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--lag-timeout", type=float, default=600.0)
    parser.add_argument("--wrk", default="/usr/bin/wrk")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, camera file)")
    args = parser.parse_args()
    if not Path(args.wrk).exists():
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    data_dir = Path(tempfile.mkdtemp(prefix="gl-camera-storm-"))
    procs = Processes(data_dir)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = make_env(args, data_dir, port)
    failed = True
    try:
        say(f"setting up {args.cameras} cameras in {DATABASE_URL} (Redis {REDIS_URL})")
        runtime = prepare(args, env, procs)
        start_services(args, env, procs, base_url)
        warm_up(base_url)
        say(f"baseline: wrk GET /livez for {args.baseline_seconds:.0f} s")
        livez = baseline(args, base_url, procs)
        result = storm(args, base_url, procs, runtime, data_dir)
        result["livez"] = livez
        result["verify"] = verify(args, runtime, result)
        failed = not all(result["verify"]["checks"].values())
        report(args, result)
        return 1 if failed else 0
    finally:
        procs.stop_all()
        if args.keep or failed:
            print(f"logs and data kept in {data_dir}")


def report(args: argparse.Namespace, result: dict[str, Any]) -> None:
    wrk_result, livez, verify_result = result["wrk"], result["livez"], result["verify"]
    alarms_per_s = wrk_result["s2xx"] / result["storm_seconds"]
    figures = {
        "cameras": args.cameras,
        "alarms": wrk_result["s2xx"],
        "scale": {
            "ramp_s": args.ramp,
            "interval_s": args.interval,
            "repeats": args.repeats,
            "time_scale": args.time_scale,
        },
        "planned_storm_s": round(result["plan_seconds"], 1),
        "actual_storm_s": round(result["storm_seconds"], 1),
        "offered_peak_alarms_per_s": round(args.cameras / (args.interval * args.time_scale)),
        "accepted_alarms_per_s": round(alarms_per_s, 1),
        "livez_req_per_s": round(livez["rps"], 1),
        "alarms_per_livez": round(alarms_per_s / livez["rps"], 3),
        "latency_p50_ms": wrk_result["latency_p50_us"] / 1000,
        "latency_p99_ms": wrk_result["latency_p99_us"] / 1000,
        "livez_p50_ms": livez["latency_p50_us"] / 1000,
        "lag_s": round(result["lag_seconds"], 2),
        "at_storm_end": result["at_storm_end"],
    }
    print("\nCamera storm")
    for key, value in figures.items():
        print(f"  {key:28} {value}")
    for check, ok in verify_result["checks"].items():
        print(f"  {'ok  ' if ok else 'FAIL'} {check}")
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"camera-storm-{stamp}.json"
    load = os.getloadavg()
    path.write_text(
        json.dumps(
            {
                "figures": figures,
                "verify": verify_result,
                "raw": result,
                "machine": {"cpus": os.cpu_count(), "load": load, "python": platform.python_version()},
            },
            indent=2,
            default=str,
        )
    )
    print(f"  written to {path.relative_to(REPO_DIR)}")


if __name__ == "__main__":
    sys.exit(main())
