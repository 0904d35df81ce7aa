"""Baseline for the worker phase: RQ's default forking ``Worker`` running no-op jobs.

Run by ``bench/intake_bench.py`` as ``python bench/rq_noop.py REDIS_URL JOBS`` with ``bench/`` on
``PYTHONPATH`` (the forked work-horse imports :func:`noop` as ``rq_noop.noop``). It enqueues JOBS
no-op jobs on a queue of its own, drains them with ``Worker(...).work(burst=True)`` exactly as
``gridline worker --burst`` does (same class, same scheduler flag), and prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

QUEUE = "bench-noop"


def noop() -> None:
    """The job: nothing at all, so what is measured is RQ's own cost per job (dequeue, fork, bookkeeping)."""


def main(redis_url: str, jobs: int) -> int:
    import redis
    from rq import Queue, Worker
    from rq.registry import FailedJobRegistry, FinishedJobRegistry

    connection = redis.Redis.from_url(redis_url)
    queue = Queue(QUEUE, connection=connection)
    queue.empty()
    for _ in range(jobs):
        queue.enqueue("rq_noop.noop", result_ttl=600)
    worker = Worker([queue], connection=connection)
    started = time.perf_counter()
    worker.work(burst=True, with_scheduler=True)
    seconds = time.perf_counter() - started
    finished = FinishedJobRegistry(queue=queue).count
    failed = FailedJobRegistry(queue=queue).count
    print(json.dumps({"jobs": jobs, "finished": finished, "failed": failed, "seconds": seconds}), flush=True)
    return 0 if finished == jobs and not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
