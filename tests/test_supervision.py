"""Supervision: warnings, overdue marks and escalations exactly once, SMS to the unit, urges, real scheduler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

import routing.supervision
from intake.cases import apply, get_case
from intake.errors import IllegalTransition
from intake.models import Case, CaseEvent, OutboundMessage, utcnow
from intake.queue import QUEUE_DEFAULT, get_queue
from intake.report import Contact, Report
from intake.runtime import Runtime
from intake.states import Action
from intake.submit import submit
from routing.models import Department
from routing.settings import RoutingSettings, routing_settings
from routing.supervision import supervise, urge
from tests.conftest import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from tests.support import fixture_path, recording_server

REPO = Path(__file__).resolve().parent.parent
DUTY_PHONE = "+861069610001"
HEAD_PHONE = "+8613900001111"
REPORTER_PHONE = "+8613800000001"
MESSAGES_PATH = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"

#: Real-time clocks only, so that every moment below is plain arithmetic.
ROUTING: dict[str, Any] = {
    "deadlines": {
        "default": {"respond": "2h", "finish": "3d", "feedback": "5d"},
        "verify": {3: "2h"},
        "warn_at": 0.8,
        "escalate_after": "1d",
    },
    "calendar": {"weekend": [6, 7], "holidays": [], "workdays": []},
}


@pytest.fixture
def clocks(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, places: None) -> RoutingSettings:
    """:data:`ROUTING` as the routing section, and the water bureau with a duty phone and a head."""
    config = runtime.config.model_copy(update={"routing": ROUTING})
    monkeypatch.setattr(runtime, "config", config)
    with runtime.db.transaction() as session:
        session.execute(
            update(Department)
            .where(Department.code == "water")
            .values(duty_phone="010-69610001", head_name="王局长", head_phone=HEAD_PHONE)
        )
        session.execute(  # a unit with no phones on record
            update(Department).where(Department.code == "environment").values(duty_phone=None, head_phone=None)
        )
    return routing_settings(config)


def dispatched(runtime: Runtime, department: str = "water") -> tuple[str, datetime]:
    """A case dispatched to ``department`` now; its number and dispatch time."""
    report = Report(channel="web", source_id=f"s-{uuid.uuid4()}", text="停水", contact=Contact(phone=REPORTER_PHONE))
    number = submit(report).case_number
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        apply(session, case, Action.QUEUE, actor="system")
        event = apply(session, case, Action.DISPATCH, actor="user:agent1", department_code=department)
        return number, event.at


def kinds(runtime: Runtime, number: str, *wanted: str) -> list[str]:
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        return [
            kind
            for kind in session.scalars(
                select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
            )
            if kind in wanted
        ]


def texts_to(runtime: Runtime, phone: str) -> list[str]:
    """Supervision's texts to ``phone`` (not the notice of dispatch, routing.unit_messages's)."""
    with runtime.db.transaction() as session:
        bodies = session.scalars(select(OutboundMessage.body).where(OutboundMessage.to == phone))
        return [body for body in bodies if "新派单" not in body]


def load(runtime: Runtime, number: str) -> Case:
    with runtime.db.transaction() as session:
        return get_case(session, number)


NOTHING = {"warned": 0, "overdue": 0, "escalated": 0}


def test_warn_overdue_and_escalate_each_happen_exactly_once(runtime: Runtime, clocks: RoutingSettings) -> None:
    number, t0 = dispatched(runtime)
    assert supervise(t0 + timedelta(minutes=95)) == NOTHING  # 79 % of the 2 h respond clock
    assert supervise(t0 + timedelta(minutes=97)) == {**NOTHING, "warned": 1}
    assert supervise(t0 + timedelta(minutes=110)) == NOTHING
    warnings = texts_to(runtime, DUTY_PHONE)  # the duty phone normalized from 010-69610001
    assert len(warnings) == 1 and number in warnings[0] and "签收" in warnings[0]
    assert supervise(t0 + timedelta(hours=2, minutes=1)) == {**NOTHING, "overdue": 1}
    assert supervise(t0 + timedelta(hours=3)) == NOTHING
    case = load(runtime, number)
    assert case.overdue_at == t0 + timedelta(hours=2, minutes=1) and case.escalated_at is None
    assert supervise(t0 + timedelta(hours=25, minutes=59)) == NOTHING  # overdue for 23 h 59 min
    assert supervise(t0 + timedelta(hours=26)) == {**NOTHING, "escalated": 1}
    assert supervise(t0 + timedelta(days=5)) == NOTHING
    case = load(runtime, number)
    assert case.escalated_at == t0 + timedelta(hours=26) and case.urge_count == 1  # escalation counts as an urge
    assert kinds(runtime, number, "deadline_warning", "overdue", "escalated") == [
        "deadline_warning",
        "overdue",
        "escalated",
    ]
    to_head = texts_to(runtime, HEAD_PHONE)
    assert len(to_head) == 1 and number in to_head[0] and "区水务局" in to_head[0]
    assert len(texts_to(runtime, DUTY_PHONE)) == 1
    with runtime.db.transaction() as session:
        events = session.scalars(select(CaseEvent).where(CaseEvent.kind.in_(("overdue", "escalated")))).all()
        assert {event.detail["clock"] for event in events} == {"respond"}
        assert all(event.public is False and event.actor == "system" for event in events)


def test_each_clock_is_warned_about_and_only_the_running_one_escalates(
    runtime: Runtime, clocks: RoutingSettings
) -> None:
    number, t0 = dispatched(runtime)
    assert supervise(t0 + timedelta(hours=3))["overdue"] == 1  # signed for late
    with runtime.db.transaction() as session:
        apply(session, get_case(session, number), Action.ACCEPT, actor="user:water")
    case = load(runtime, number)
    assert case.due_at == t0 + timedelta(days=3)
    assert case.overdue_at == t0 + timedelta(hours=3)  # it did go late once: kept for the statistics
    assert supervise(t0 + timedelta(hours=4)) == NOTHING
    # A day after the respond deadline, but finishing is on time: a warning for it, no escalation.
    assert supervise(t0 + timedelta(days=2, hours=10)) == {**NOTHING, "warned": 1}  # 80 % of 3 days
    with runtime.db.transaction() as session:
        warning = session.scalars(select(CaseEvent).where(CaseEvent.kind == "deadline_warning")).one()
        assert warning.detail == {"clock": "finish", "due": (t0 + timedelta(days=3)).isoformat()}
    assert "办结" in texts_to(runtime, DUTY_PHONE)[-1]
    assert supervise(t0 + timedelta(days=3, minutes=1)) == NOTHING  # marked overdue once per round
    assert supervise(t0 + timedelta(days=4)) == {**NOTHING, "escalated": 1}
    with runtime.db.transaction() as session:
        escalation = session.scalars(select(CaseEvent).where(CaseEvent.kind == "escalated")).one()
        assert escalation.detail["clock"] == "finish"
    # A return ends the unit's round; the next dispatch is supervised from scratch.
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        apply(session, case, Action.RETURN, actor="user:water", reason="非本单位职责")
        apply(session, case, Action.DISPATCH, actor="user:agent1", department_code="water")
        t1 = case.dispatched_at
    assert supervise(t1 + timedelta(hours=2, minutes=1)) == {**NOTHING, "overdue": 1}


def test_a_scheduler_that_was_down_marks_and_escalates_in_one_run(runtime: Runtime, clocks: RoutingSettings) -> None:
    number, t0 = dispatched(runtime)
    assert supervise(t0 + timedelta(days=2)) == {"warned": 0, "overdue": 1, "escalated": 1}
    assert kinds(runtime, number, "deadline_warning", "overdue", "escalated") == ["overdue", "escalated"]
    # Escalated from the due time, not from when the overdue mark happened to be made.
    assert load(runtime, number).escalated_at == t0 + timedelta(days=2)


def test_cases_outside_the_units_hands_are_left_alone(runtime: Runtime, clocks: RoutingSettings) -> None:
    number, t0 = dispatched(runtime)
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        for action in (Action.ACCEPT, Action.REPORT_RESULT, Action.CHECK_PASS):
            apply(session, case, action, actor="user:test")
    assert supervise(t0 + timedelta(days=30)) == NOTHING  # checked: the center's move, not the unit's
    queued = submit(Report(channel="web", source_id="w-queued", text="噪声扰民")).case_number
    with runtime.db.transaction() as session:
        apply(session, get_case(session, queued), Action.QUEUE, actor="system")
    assert supervise(utcnow() + timedelta(days=30)) == NOTHING


def test_no_text_without_a_reachable_phone_or_an_sms_sender(
    runtime: Runtime, clocks: RoutingSettings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    quiet, t0 = dispatched(runtime, department="environment")  # no phones on record
    assert supervise(t0 + timedelta(days=2)) == {"warned": 0, "overdue": 1, "escalated": 1}
    assert kinds(runtime, quiet, "overdue", "escalated") == ["overdue", "escalated"]  # recorded all the same
    with runtime.db.transaction() as session:
        assert set(session.scalars(select(OutboundMessage.to))) == {REPORTER_PHONE}  # the dispatch notice only
    assert "unit environment has no head phone" in caplog.text
    with runtime.db.transaction() as session:  # out of the unit's hands, out of supervision's sight
        apply(session, get_case(session, quiet), Action.RETURN, actor="user:environment", reason="非本单位职责")
    monkeypatch.setattr("intake.outbound._senders", {})
    number, t0 = dispatched(runtime)
    assert supervise(t0 + timedelta(minutes=100))["warned"] == 1
    assert kinds(runtime, number, "deadline_warning") == ["deadline_warning"]
    assert texts_to(runtime, DUTY_PHONE) == []
    for phone in (DUTY_PHONE, HEAD_PHONE, "69610001"):
        assert phone not in caplog.text


def test_manual_urges_count_and_text_the_unit(runtime: Runtime, clocks: RoutingSettings) -> None:
    number, t0 = dispatched(runtime)
    for note in ("群众反映强烈，请今日处理", ""):
        with runtime.db.transaction() as session:
            urge(session, get_case(session, number, for_update=True), actor="user:supervisor", note=note)
    case = load(runtime, number)
    assert case.urge_count == 2
    with runtime.db.transaction() as session:
        urged = session.scalars(select(CaseEvent).where(CaseEvent.kind == "urged").order_by(CaseEvent.id)).all()
    assert [event.detail for event in urged] == [
        {"urge_count": 1, "note": "群众反映强烈，请今日处理"},
        {"urge_count": 2},
    ]
    assert {event.actor for event in urged} == {"user:supervisor"}
    texts = texts_to(runtime, DUTY_PHONE)
    assert len(texts) == 2 and "群众反映强烈" in texts[0] and number in texts[1]
    supervise(t0 + timedelta(days=2))
    assert load(runtime, number).urge_count == 3  # the automatic escalation is one more
    waiting = submit(Report(channel="web", source_id="w-waiting", text="路灯不亮")).case_number
    with runtime.db.transaction() as session, pytest.raises(IllegalTransition):
        urge(session, get_case(session, waiting), actor="user:supervisor", note="?")


def test_two_schedulers_at_once_act_once(runtime: Runtime, clocks: RoutingSettings) -> None:
    cases = [dispatched(runtime) for _ in range(12)]
    moment = max(t0 for _, t0 in cases) + timedelta(minutes=100)
    results: list[dict[str, int]] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        results.append(supervise(moment))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(result["warned"] for result in results) == len(cases)
    with runtime.db.transaction() as session:
        warned = session.scalars(select(CaseEvent.case_id).where(CaseEvent.kind == "deadline_warning")).all()
    assert sorted(warned) == sorted(set(warned)) and len(warned) == len(cases)
    assert len(texts_to(runtime, DUTY_PHONE)) == len(cases)


def test_the_job_runs_on_a_worker_and_its_sms_reaches_twilio(
    runtime: Runtime, clocks: RoutingSettings, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    number, t0 = dispatched(runtime)
    with recording_server() as twilio_api:
        twilio_api.route(MESSAGES_PATH, 201, fixture_path("sms", "rest_message_created.json").read_bytes())
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", twilio_api.url)
        # The job as the scheduler enqueues it, by reference, on the default queue.
        get_queue(QUEUE_DEFAULT).enqueue(supervise, t0 + timedelta(minutes=100))
        run_worker()
        sent = [dict(urllib.parse.parse_qsl(request.body.decode())) for request in twilio_api.requests]
    to_unit = [form for form in sent if form["To"] == DUTY_PHONE and "新派单" not in form["Body"]]
    assert len(to_unit) == 1 and number in to_unit[0]["Body"]
    assert load(runtime, number).warned_at == t0 + timedelta(minutes=100)


def test_supervision_is_a_registered_periodic_job() -> None:
    from intake.processing import periodic_jobs

    assert (supervise, routing.supervision.SUPERVISE_INTERVAL_SECONDS) in periodic_jobs()


# --- the real scheduler and worker --------------------------------------------------------------------


def process_env(runtime: Runtime, twilio_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDLINE_")}
    env.update(
        GRIDLINE_DATABASE__URL=runtime.config.database_url,
        GRIDLINE_REDIS__URL=runtime.redis_url,
        GRIDLINE_DATA__DIR=str(runtime.config.data.dir),
        GRIDLINE_TWILIO__ACCOUNT_SID=TWILIO_ACCOUNT_SID,
        GRIDLINE_TWILIO__AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        GRIDLINE_TWILIO__SMS_FROM="+861069612345",
        GRIDLINE_TWILIO__API_BASE_URL=twilio_url,
    )
    return env


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``gridline`` subprocesses; each is stopped (by its own pid) when the test ends."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{args[0]}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "intake.cli", "--log-level", "WARNING", *args],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_a_real_scheduler_and_worker_warn_and_mark_overdue(
    runtime: Runtime, places: None, processes: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    with runtime.db.transaction() as session:
        session.execute(update(Department).where(Department.code == "water").values(duty_phone=DUTY_PHONE))
    late, _ = dispatched(runtime)
    close, _ = dispatched(runtime)
    # Time passes: move both cases' clocks back (the processes run on config.yaml's clocks, warn_at 0.8).
    now = utcnow()
    with runtime.db.transaction() as session:
        for number, start, due in (
            (late, now - timedelta(hours=3), now - timedelta(hours=1)),
            (close, now - timedelta(minutes=100), now + timedelta(minutes=20)),
        ):
            session.execute(
                update(Case).where(Case.number == number).values(dispatched_at=start, respond_due_at=due, due_at=due)
            )
    with recording_server() as twilio_api:
        twilio_api.route(MESSAGES_PATH, 201, fixture_path("sms", "rest_message_created.json").read_bytes())
        env = process_env(runtime, twilio_api.url)
        scheduler = processes("scheduler", env=env)
        worker = processes("worker", env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert scheduler.poll() is None, (tmp_path / "scheduler.log").read_text()
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            forms = [dict(urllib.parse.parse_qsl(r.body.decode())) for r in twilio_api.requests]
            texted = [form.get("To") for form in forms if "新派单" not in form.get("Body", "")]
            if load(runtime, late).overdue_at and DUTY_PHONE in texted:
                break
            time.sleep(0.2)
    assert load(runtime, late).overdue_at is not None, (tmp_path / "worker.log").read_text()
    assert load(runtime, late).escalated_at is None  # a working day after the due time is still to come
    assert load(runtime, close).warned_at is not None and load(runtime, close).overdue_at is None
    assert kinds(runtime, late, "deadline_warning", "overdue") == ["overdue"]
    assert kinds(runtime, close, "deadline_warning", "overdue") == ["deadline_warning"]
    assert texted.count(DUTY_PHONE) == 1
