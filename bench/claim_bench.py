"""Claim-next latency with many agents pressing "next" at once, on PostgreSQL (issue 3's bench).

    .venv/bin/python bench/claim_bench.py [--agents 200] [--cases 20000] [--seconds 10] [--processes 4]

Each agent claims the head of the queue, finishes the case (it leaves the queue), thinks for about
``--think-ms`` (uniformly 0.5x to 1.5x; 0 makes it a tight loop), and claims again, for ``--seconds``.
Agents share a small connection pool per process (``--pool``), as web processes do.
Reported: claims/s, claim latency p50/p99, and the same percentiles of a
bare ``SELECT 1`` round trip measured in the same run (the baseline), plus a check that no case
was ever handed to two agents. Uses the database ``bench`` (its schema is re-created).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import insert, select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("GRIDLINE_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench")
REDIS_URL = os.environ.get("GRIDLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
TARGET_P99_MS = 20.0


def _runtime(pool: int):  # type: ignore[no-untyped-def]
    from intake.config import load_config
    from intake.runtime import init_runtime

    return init_runtime(
        load_config(
            database={"url": DATABASE_URL, "pool_size": pool}, redis={"url": REDIS_URL}, data={"dir": "/tmp/gl-bench"}
        )
    )


def prepare(agents: int, cases: int) -> list[int]:
    from intake import migrate
    from intake.auth import hash_password
    from intake.models import Case, User, utcnow

    rt = _runtime(5)
    with rt.db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(rt)
    password = hash_password("bench-password")
    now = utcnow()
    with rt.db.engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {
                    "username": f"agent{i}",
                    "role": "agent",
                    "password_hash": password,
                    "display_name": f"agent{i}",
                    "active": True,
                    "failed_logins": 0,
                    "presence": "available",
                    "created_at": now,
                }
                for i in range(agents)
            ],
        )
        conn.execute(
            insert(Case),
            [
                {
                    "number": f"20991231-{i:06d}",
                    "status": "verifying",
                    "channel": "web",
                    "priority": 1 + i % 4,
                    "summary": "bench",
                    "description": "bench",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for i in range(cases)
            ],
        )
        ids = list(conn.scalars(select(User.id).order_by(User.id)))
    rt.close()
    return ids


def agent_process(
    user_ids: list[int], seconds: float, start_at: float, think_ms: float, pool: int, out: multiprocessing.Queue
) -> None:
    from agent_ui.queue import claim_next
    from intake.models import Case, User

    rt = _runtime(pool)
    rng = random.Random(os.getpid())
    with rt.db.transaction() as session:
        users = list(session.scalars(select(User).where(User.id.in_(user_ids))))
        for user in users:
            session.expunge(user)
    latencies: list[float] = []
    baseline: list[float] = []
    claimed: list[str] = []
    lock = threading.Lock()

    def work(user: User) -> None:
        mine_l, mine_c, mine_b = [], [], []
        while time.time() < start_at:
            time.sleep(0.001)
        time.sleep(think_ms / 1000 * rng.uniform(0, 1))  # agents do not all start in the same millisecond
        deadline = start_at + seconds
        while time.time() < deadline:
            t0 = time.perf_counter()
            with rt.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            mine_b.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            claim = claim_next(user)
            mine_l.append(time.perf_counter() - t0)
            if claim is None:
                break
            mine_c.append(claim.number)
            with rt.db.engine.begin() as conn:  # finished: it leaves the queue
                conn.execute(
                    update(Case).where(Case.id == claim.case_id).values(status="dispatched", claimed_by_id=None)
                )
            if think_ms:
                time.sleep(think_ms / 1000 * rng.uniform(0.5, 1.5))
        with lock:
            latencies.extend(mine_l)
            claimed.extend(mine_c)
            baseline.extend(mine_b)

    threads = [threading.Thread(target=work, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put({"latencies": latencies, "claimed": claimed, "baseline": baseline})


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] * 1000 if len(values) > 1 else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--think-ms", type=float, default=1000.0)
    parser.add_argument("--pool", type=int, default=6, help="connections per process (overflow: twice as many)")
    args = parser.parse_args()
    ids = prepare(args.agents, args.cases)
    queue: multiprocessing.Queue = multiprocessing.Queue()
    start_at = time.time() + 3
    chunks = [ids[i :: args.processes] for i in range(args.processes)]
    procs = [
        multiprocessing.Process(target=agent_process, args=(c, args.seconds, start_at, args.think_ms, args.pool, queue))
        for c in chunks
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=args.seconds + 120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    latencies = [x for r in results for x in r["latencies"]]
    baseline = [x for r in results for x in r["baseline"]]
    claimed = [x for r in results for x in r["claimed"]]
    duplicates = len(claimed) - len(set(claimed))
    summary = {
        "agents": args.agents,
        "processes": args.processes,
        "seconds": args.seconds,
        "think_ms": args.think_ms,
        "claims": len(claimed),
        "claims_per_s": round(len(claimed) / args.seconds, 1),
        "claim_p50_ms": round(percentile(latencies, 50), 2),
        "claim_p99_ms": round(percentile(latencies, 99), 2),
        "select1_p50_ms": round(percentile(baseline, 50), 2),
        "select1_p99_ms": round(percentile(baseline, 99), 2),
        "duplicates": duplicates,
        "target_claim_p99_ms": TARGET_P99_MS,
    }
    summary["claim_p99_over_select1_p99"] = round(summary["claim_p99_ms"] / summary["select1_p99_ms"], 2)
    print(json.dumps(summary, indent=2))
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / f"claims-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json").write_text(json.dumps(summary))
    return 1 if duplicates else 0


if __name__ == "__main__":
    sys.exit(main())
