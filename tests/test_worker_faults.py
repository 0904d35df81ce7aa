"""A worker killed in the middle of a job loses nothing: the reports are stored and the work runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rq import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select, text

from intake import Contact, Report, submit
from intake.models import Case, CaseEvent
from intake.processing import sweep
from intake.queue import QUEUE_INTAKE
from intake.runtime import Runtime
from intake.states import CaseStatus

REPORTS = 50


def worker_env(runtime: Runtime) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GRIDLINE_DATABASE__URL=runtime.config.database_url,
        GRIDLINE_REDIS__URL=runtime.redis_url,
        GRIDLINE_DATA__DIR=str(runtime.config.data.dir),
    )
    return env


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


@contextmanager
def write_lock(runtime: Runtime) -> Iterator[threading.Event]:
    """Hold a lock that makes the worker's batch wait inside its transaction until released."""
    release = threading.Event()
    connection = runtime.db.engine.raw_connection()
    cursor = connection.cursor()
    if runtime.db.is_sqlite:
        cursor.execute("BEGIN IMMEDIATE")
    else:
        cursor.execute("BEGIN")
        cursor.execute("LOCK TABLE case_events IN ACCESS EXCLUSIVE MODE")
    try:
        yield release
    finally:
        connection.rollback()
        connection.close()


def wait_for(condition, timeout: float = 30.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_worker_loses_nothing_and_the_work_runs_again(runtime: Runtime) -> None:
    numbers = [
        submit(
            Report(channel="sms", source_id=f"SM{i:032d}", text="路灯不亮", contact=Contact(phone=f"+86138{i:08d}"))
        ).case_number
        for i in range(REPORTS)
    ]
    started = StartedJobRegistry(queue=Queue(QUEUE_INTAKE, connection=runtime.redis))
    with write_lock(runtime):
        worker = subprocess.Popen(
            [sys.executable, "-m", "intake.cli", "--log-level", "WARNING", "worker"],
            env=worker_env(runtime),
            start_new_session=True,
        )
        try:
            wait_for(lambda: started.count == 1, what="the worker to start the intake job")
            time.sleep(0.3)  # let it get as far as the lock
        finally:
            # The worker and its work-horse (RQ puts the horse in a session of its own), mid-job.
            for pid in [*child_pids(worker.pid), worker.pid]:
                os.kill(pid, signal.SIGKILL)
            worker.wait(timeout=10)
    with runtime.db.transaction() as session:
        statuses = session.scalars(select(Case.status)).all()
    assert len(statuses) == REPORTS and set(statuses) == {CaseStatus.RECEIVED}

    # The scheduler's sweeper finds the stale received cases and wakes a new worker.
    time.sleep(runtime.config.worker.stale_after_seconds + 0.1)
    assert sweep()["received"] == REPORTS
    subprocess.run(
        [sys.executable, "-m", "intake.cli", "--log-level", "WARNING", "worker", "--burst"],
        env=worker_env(runtime),
        timeout=120,
        check=True,
    )
    with runtime.db.transaction() as session:
        statuses = session.scalars(select(Case.status)).all()
        queued = session.execute(
            select(CaseEvent.case_id, func.count()).where(CaseEvent.kind == "queue").group_by(CaseEvent.case_id)
        ).all()
        assert session.scalar(select(func.count()).select_from(Case)) == REPORTS
    assert set(statuses) == {CaseStatus.VERIFYING}
    assert len(queued) == REPORTS and {count for _, count in queued} == {1}  # each moved exactly once
    assert sorted(numbers) == numbers


def test_lost_wakeup_is_recovered_by_the_sweeper(runtime: Runtime, run_worker) -> None:  # type: ignore[no-untyped-def]
    submit(Report(channel="web", source_id="w-1", text="垃圾无人清运"))
    runtime.redis.flushdb()  # Redis restarted without persistence: the queued job is gone
    run_worker()
    with runtime.db.transaction() as session:
        assert session.scalar(select(Case.status)) is CaseStatus.RECEIVED
    time.sleep(runtime.config.worker.stale_after_seconds + 0.1)
    assert sweep() == {"received": 1, "downloads": 0, "messages": 0}
    run_worker()
    with runtime.db.transaction() as session:
        assert session.scalar(select(Case.status)) is CaseStatus.VERIFYING
        assert session.execute(text("SELECT 1")).scalar() == 1
