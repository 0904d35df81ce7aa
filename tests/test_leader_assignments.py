"""Leader assignments over real HTTP: a leader opens a case or flags one with an instruction, priority
and deadline; the case carries the mark and the stricter deadline; the leader follows it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from channels.leader.models import LeaderAssignment
from intake import Contact, Location, Report, submit
from intake.cases import apply, get_case
from intake.models import Case, CaseEvent, utcnow
from intake.processing import process_received
from intake.runtime import Runtime
from intake.states import Action, CaseStatus
from tests.test_console import csrf_of
from tests.test_console import sign_in as console_sign_in

TIMEOUT = 10
ZONE = ZoneInfo("Asia/Shanghai")


class Person:
    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.http, page = console_sign_in(base, username)
        self.headers = {"X-CSRFToken": csrf_of(page.text)}

    def post(self, path: str, body: object, **headers: str) -> requests.Response:
        return self.http.post(self.base + path, json=body, headers={**self.headers, **headers}, timeout=TIMEOUT)

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, timeout=TIMEOUT)


@pytest.fixture
def people(live_server: str, make_user: Callable[..., str], places: None) -> dict[str, Person]:
    make_user("leader", "leader")
    make_user("deputy", "leader")
    make_user("agent1", "agent")
    return {name: Person(live_server, name) for name in ("leader", "deputy", "agent1")}


def local_input(moment: datetime) -> str:
    """What a datetime-local field sends: local time of the district, no offset."""
    return moment.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


def case_of(runtime: Runtime, number: str) -> Case:
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        session.expunge(case)
    return case


def test_leader_opens_a_case_that_keeps_the_stricter_deadline(runtime: Runtime, people: dict[str, Person]) -> None:
    leader, agent = people["leader"], people["agent1"]
    due = (utcnow() + timedelta(days=1)).replace(second=0, microsecond=0)
    body = {
        "text": "京密引水渠怀柔段护栏破损，存在落水隐患",
        "category": "",
        "address": "怀柔区京密引水渠青春路桥",
        "instruction": "请水务局今日内排查处置，结果报我",
        "priority": "1",
        "due": local_input(due),
    }
    created = leader.post("/console/api/leader/assignments", body, **{"Idempotency-Key": "a-1"})
    assert created.status_code == 201, created.text
    number = created.json()["case_number"]
    again = leader.post("/console/api/leader/assignments", body, **{"Idempotency-Key": "a-1"})
    assert again.status_code == 200 and again.json() == {"case_number": number, "duplicate": True}
    process_received()
    case = case_of(runtime, number)
    assert (case.channel, case.priority, case.status) == ("leader", 1, CaseStatus.VERIFYING)
    # Priority 1: the agents' verification countdown is the urgent one (10 minutes).
    assert case.due_at is not None and case.due_at <= utcnow() + timedelta(minutes=10)
    with runtime.db.transaction() as session:
        row = session.scalars(select(LeaderAssignment)).one()
        assert row.created_case and row.instruction == "请水务局今日内排查处置，结果报我" and row.due_at == due
    # The agent sees the mark on the case page, and the queue can ask which cases carry one.
    page = agent.get(f"/console/cases/{number}").text
    assert 'id="leader-mark"' in page and "领导指派" in page and "请水务局今日内排查处置，结果报我" in page
    marks = agent.get("/console/api/leader/marks").json()
    assert marks["marks"][number]["priority"] == 1 and marks["label"] == "领导指派"
    # Dispatched: the unit's finish and feedback clocks (5 and 7 working days) stop at the leader's deadline.
    with runtime.db.transaction() as session:
        apply(session, get_case(session, number), Action.DISPATCH, actor="user:agent1", department_code="water")
    case = case_of(runtime, number)
    assert case.finish_due_at == due and case.feedback_due_at == due
    assert case.respond_due_at is not None and case.respond_due_at <= due
    assert case.due_at == case.respond_due_at
    # The leader follows it.
    mine = leader.get("/console/api/leader/assignments").json()["assignments"]
    assert [(a["case_number"], a["status"], a["priority"]) for a in mine] == [(number, "dispatched", 1)]
    listing = leader.get("/leader").text
    assert number in listing and "已派遣" in listing and "请水务局今日内排查处置" in listing
    followed = leader.get(f"/leader/cases/{number}").text
    assert "领导批示" in followed and "已派遣至承办单位" in followed
    assert people["deputy"].get(f"/leader/cases/{number}").status_code == 404


def test_leader_flags_a_case_with_a_unit_and_its_clocks_tighten_at_once(
    runtime: Runtime, people: dict[str, Person]
) -> None:
    number = submit(
        Report(
            channel="sms",
            source_id=str(uuid.uuid4()),
            text="青春路12号井盖丢失",
            contact=Contact(phone="+8613812348000"),
            location=Location(lat=40.3225, lon=116.6392),
        )
    ).case_number
    process_received()
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        apply(session, case, Action.DISPATCH, actor="user:agent1", department_code="water")
        apply(session, case, Action.ACCEPT, actor="user:water1")
    before = case_of(runtime, number)
    assert before.priority == 3 and before.due_at == before.finish_due_at
    due = (utcnow() + timedelta(hours=3)).replace(second=0, microsecond=0)
    flagged = people["leader"].post(
        f"/console/api/leader/cases/{number}/flag",
        {"instruction": "群众反映强烈，务必三小时内处置完毕", "priority": 2, "due": due.isoformat()},
    )
    assert flagged.status_code == 200, flagged.text
    after = case_of(runtime, number)
    assert after.priority == 2 and after.finish_due_at == due and after.due_at == due
    assert after.feedback_due_at == due
    with runtime.db.transaction() as session:
        event = session.scalars(select(CaseEvent).where(CaseEvent.kind == "leader_assigned")).one()
        assert event.actor == "user:leader" and event.detail["priority"] == 2
    # A second leader's lower priority never lowers the case's.
    people["deputy"].post(f"/console/api/leader/cases/{number}/flag", {"instruction": "关注", "priority": 4})
    assert case_of(runtime, number).priority == 2
    page = people["agent1"].get(f"/console/cases/{number}").text
    assert page.count("<li><strong>") >= 2 and "务必三小时内处置完毕" in page and "关注" in page


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x", "instruction": "", "priority": 1}, "instruction"),
        ({"text": "", "instruction": "办", "priority": 1}, "text"),
        ({"text": "x", "instruction": "办", "priority": 7}, "priority"),
        ({"text": "x", "instruction": "办", "priority": "urgent"}, "priority"),
        ({"text": "x", "instruction": "办", "priority": 1, "due": "tomorrow"}, "due"),
        ({"text": "x", "instruction": "办", "priority": 1, "due": "2020-01-01T08:00"}, "due"),
        ({"text": "x", "instruction": "办", "priority": 1, "category": "nope"}, "category"),
        ({"text": "x", "instruction": "办", "priority": 1, "lat": 40.3}, "lon"),
    ],
)
def test_malformed_assignment_names_the_field(
    runtime: Runtime, people: dict[str, Person], body: dict[str, object], field: str
) -> None:
    answer = people["leader"].post("/console/api/leader/assignments", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field


def test_who_may_assign_and_what_can_be_flagged(runtime: Runtime, people: dict[str, Person], live_server: str) -> None:
    body = {"text": "路灯不亮", "instruction": "督办", "priority": 2}
    assert people["agent1"].post("/console/api/leader/assignments", body).status_code == 403
    # Not signed in: refused (the console's CSRF check answers before the sign-in check does).
    anonymous = requests.post(f"{live_server}/console/api/leader/assignments", json=body, timeout=TIMEOUT)
    assert anonymous.status_code in (400, 401)
    no_csrf = people["leader"].http.post(f"{live_server}/console/api/leader/assignments", json=body, timeout=TIMEOUT)
    assert no_csrf.status_code == 400
    missing = people["leader"].post("/console/api/leader/cases/20990101-000001/flag", {"instruction": "x"})
    assert missing.status_code == 404
    number = submit(Report(channel="web", source_id="done", text="已处理的事")).case_number
    process_received()
    with runtime.db.transaction() as session:
        apply(session, get_case(session, number), Action.INVALIDATE, actor="user:agent1", reason="测试")
    closed = people["leader"].post(f"/console/api/leader/cases/{number}/flag", {"instruction": "再看看"})
    assert closed.status_code == 409
    assert people["agent1"].get("/leader").status_code == 403
