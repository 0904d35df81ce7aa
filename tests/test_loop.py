"""The closed loop over real HTTP: dispatch → sign → return → re-dispatch → extension → result with
photos → failed check → result → check → close → satisfaction answered by SMS → reopen."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from intake import Contact, Location, Report, submit
from intake.models import Attachment, Case, CaseEvent, OutboundMessage
from intake.processing import process_received
from intake.runtime import Runtime
from intake.states import CaseStatus
from routing.models import Department
from tests.support import form_fixture, post_twilio
from tests.test_console import csrf_of, sign_in

REPORTER = "+8613812348000"
SECOND_REPORTER = "+8613900001111"
QUANHE = (40.3225, 116.6392)


class Person:
    """A signed-in browser session of one user."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.http, page = sign_in(base, username)
        self.headers = {"X-CSRFToken": csrf_of(page.text)}

    def act(self, number: str, action: str, body: object = None) -> requests.Response:
        return self.http.post(
            f"{self.base}/console/api/cases/{number}/{action}", json=body or {}, headers=self.headers, timeout=10
        )

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, timeout=10)


@pytest.fixture
def people(live_server: str, make_user: Callable[..., str], places: None) -> dict[str, Person]:
    make_user("agent1", "agent")
    make_user("boss", "supervisor")
    make_user("water1", "department", department="water")
    make_user("roads1", "department", department="transport")
    return {name: Person(live_server, name) for name in ("agent1", "boss", "water1", "roads1")}


def report(phone: str, text: str = "青春路12号井盖丢失") -> str:
    result = submit(
        Report(
            channel="sms",
            source_id=str(uuid.uuid4()),
            text=text,
            contact=Contact(phone=phone),
            location=Location(lat=QUANHE[0], lon=QUANHE[1]),
        )
    )
    process_received()
    return result.case_number


def case_of(runtime: Runtime, number: str) -> Case:
    with runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        session.expunge(case)
    return case


def kinds(runtime: Runtime, number: str) -> list[str]:
    with runtime.db.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        return list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def claim_and_dispatch(agent: Person, number: str, unit: str = "water") -> None:
    claimed = agent.http.post(f"{agent.base}/console/api/next", headers=agent.headers, timeout=10)
    assert claimed.json()["number"] == number
    assert agent.act(number, "update", {"category": "manhole-cover"}).status_code == 200
    page = agent.get(f"/console/cases/{number}")
    assert 'data-proposed="water"' in page.text and "井盖、供水、停水归水务局" in page.text
    assert agent.act(number, "dispatch", {"department": unit}).status_code == 200


def png() -> bytes:
    """A real 1×1 PNG (red), as a phone camera app would upload it, only smaller."""
    return base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
    )


def test_the_whole_loop(runtime: Runtime, live_server: str, people: dict[str, Person]) -> None:
    agent, boss, water, roads = people["agent1"], people["boss"], people["water1"], people["roads1"]
    number = report(REPORTER)
    claim_and_dispatch(agent, number)

    # Only the unit it was sent to signs for it; the console roles are not a unit.
    assert roads.act(number, "sign").status_code == 403
    assert agent.act(number, "sign").status_code == 403
    assert number in water.get("/dept").text and number not in roads.get("/dept").text
    assert water.get(f"/dept/cases/{number}").status_code == 200
    assert roads.get(f"/dept/cases/{number}").status_code == 404
    with runtime.db.transaction() as session:
        duty = session.scalar(select(Department.duty_phone).where(Department.code == "water"))
        texts = session.scalars(select(OutboundMessage.body).where(OutboundMessage.to == duty)).all()
    assert len(texts) == 1 and number in texts[0] and "请于" in texts[0] and "前签收" in texts[0]
    assert water.act(number, "sign").json()["status"] == "accepted"
    assert water.act(number, "sign").status_code == 409

    # 退单: a reason is required; the case is back with the agents, counted.
    assert water.act(number, "return", {"reason": " "}).status_code == 400
    assert water.act(number, "return", {"reason": "井盖属燃气公司，非本单位职责"}).json()["status"] == "verifying"
    case = case_of(runtime, number)
    assert (case.return_count, case.department_code, case.status) == (1, None, CaseStatus.VERIFYING)
    queue = agent.get("/console/api/queue").json()["cases"]
    assert [(row["number"], row["returns"]) for row in queue] == [(number, 1)]

    claim_and_dispatch(agent, number)
    assert water.act(number, "sign").status_code == 200

    # 延期: the unit asks, a supervisor decides; the deadline moves only when approved.
    zone = ZoneInfo(runtime.config.server.timezone)
    until = (datetime.now(zone) + timedelta(days=20)).replace(second=0, microsecond=0)
    wanted = {"until": until.strftime("%Y-%m-%dT%H:%M"), "reason": "需协调燃气公司"}
    assert water.act(number, "extension", {"until": "soon", "reason": "x"}).status_code == 400
    assert water.act(number, "extension", wanted).status_code == 200
    attention = boss.get("/console/api/wallboard").json()["attention"]
    assert {"number": number, "reason": "extension", "summary": "青春路12号井盖丢失"} in attention
    assert agent.act(number, "extension/decide", {"approve": True}).status_code == 403
    assert boss.act(number, "extension/decide", {"approve": "yes"}).status_code == 400
    assert boss.act(number, "extension/decide", {"approve": True, "note": "同意"}).status_code == 200
    case = case_of(runtime, number)
    assert case.extension_until is None and case.due_at == until
    assert boss.act(number, "extension/decide", {"approve": True}).status_code == 409

    # 办结反馈 with photos (multipart); a non-picture is refused.
    form = {"note": "已更换井盖"}
    refused = water.http.post(
        f"{live_server}/console/api/cases/{number}/result",
        data=form,
        files=[("photos", ("notes.txt", b"hello", "text/plain"))],
        headers=water.headers,
        timeout=10,
    )
    assert refused.status_code == 415 and "notes.txt" in refused.json()["error"]
    done = water.http.post(
        f"{live_server}/console/api/cases/{number}/result",
        data=form,
        files=[("photos", ("after.png", png(), "image/png"))],
        headers=water.headers,
        timeout=10,
    )
    assert done.json()["status"] == "handled"
    with runtime.db.transaction() as session:
        photo = session.scalars(select(Attachment).where(Attachment.event_id.is_not(None))).one()
        photo_id = photo.id
    assert water.get(f"/dept/attachments/{photo_id}").content == png()
    assert roads.get(f"/dept/attachments/{photo_id}").status_code == 404
    assert agent.get(f"/console/attachments/{photo_id}").status_code == 200

    # 核查: a failed check needs a reason and sends it back to the unit.
    assert agent.act(number, "check", {"passed": False, "method": "callback"}).status_code == 400
    failed = agent.act(number, "check", {"passed": False, "method": "callback", "note": "回访称井盖仍松动"})
    assert failed.json()["status"] == "accepted"
    assert water.act(number, "result", {"note": "已加固井盖"}).json()["status"] == "handled"
    assert agent.act(number, "check", {"passed": True, "method": "teleport"}).status_code == 400
    assert agent.act(number, "check", {"passed": True, "method": "callback"}).json()["status"] == "checked"

    # 结案: every reporter gets the result and the satisfaction question.
    assert water.act(number, "close").status_code == 403
    assert agent.act(number, "close", {"note": "回访确认"}).json()["status"] == "closed"
    with runtime.db.transaction() as session:
        bodies = session.scalars(select(OutboundMessage.body).where(OutboundMessage.to == REPORTER)).all()
    closing = [body for body in bodies if "已办结" in body]
    assert len(closing) == 1 and "已加固井盖" in closing[0] and "1满意" in closing[0]

    # The reporter answers "1" by SMS: recorded on the case, not a new case.
    answer = post_twilio(live_server, "/channels/sms/twilio", form_fixture("sms", "rating_reply.txt"))
    assert answer.status_code == 200 and "满意" in answer.text and number in answer.text
    assert case_of(runtime, number).satisfaction == 1
    with runtime.db.transaction() as session:
        assert session.scalar(select(Case.id).where(Case.number != number)) is None

    assert kinds(runtime, number) == [
        "received", "queue", "claimed", "updated", "dispatch", "message_queued", "unit_notified", "message_queued",
        "accept", "return", "claimed", "dispatch", "message_queued", "unit_notified", "message_queued", "accept",
        "extension_requested", "extend", "report_result", "check_fail", "unit_notified", "message_queued",
        "report_result", "check_pass", "close", "message_queued", "rated",
    ]  # fmt: skip


def test_not_satisfied_lets_a_supervisor_reopen(runtime: Runtime, live_server: str, people: dict[str, Person]) -> None:
    agent, boss, water = people["agent1"], people["boss"], people["water1"]
    number = report(REPORTER)
    claim_and_dispatch(agent, number)
    water.act(number, "sign")
    water.act(number, "result", {"note": "已处理"})
    agent.act(number, "check", {"passed": True, "method": "grid_worker"})
    agent.act(number, "close")
    for body, expected in [("不满意", 3), ("１", 3)]:  # the case keeps the least satisfied answer
        params = form_fixture("sms", "rating_reply.txt", Body=body, MessageSid="SM" + uuid.uuid4().hex)
        assert post_twilio(live_server, "/channels/sms/twilio", params).status_code == 200
        assert case_of(runtime, number).satisfaction == expected
    assert agent.act(number, "reopen", {"reason": "不满意"}).status_code == 403
    assert boss.act(number, "reopen", {"reason": ""}).status_code == 400
    assert boss.act(number, "reopen", {"reason": "反映人不满意，重新办理"}).json()["status"] == "verifying"
    assert case_of(runtime, number).satisfaction is None


def test_a_bare_digit_without_a_closed_case_is_an_ordinary_report(runtime: Runtime, live_server: str) -> None:
    answer = post_twilio(live_server, "/channels/sms/twilio", form_fixture("sms", "rating_reply.txt"))
    assert answer.status_code == 200 and "已受理" in answer.text
    with runtime.db.transaction() as session:
        assert session.scalars(select(Case.summary)).one() == "1"


def test_a_merged_reporter_answers_for_the_case_they_joined(
    runtime: Runtime, live_server: str, people: dict[str, Person]
) -> None:
    agent, water = people["agent1"], people["water1"]
    first = report(REPORTER)
    other = report(SECOND_REPORTER, "青春路井盖没了")
    claimed = agent.http.post(f"{agent.base}/console/api/next", headers=agent.headers, timeout=10).json()["number"]
    assert claimed == first
    assert agent.act(first, "merge", {"into": other}).status_code == 200
    claim_and_dispatch(agent, other)
    water.act(other, "sign")
    water.act(other, "result", {"note": "已处理"})
    agent.act(other, "check", {"passed": True, "method": "callback"})
    agent.act(other, "close")
    with runtime.db.transaction() as session:
        asked = session.scalars(select(OutboundMessage.to).where(OutboundMessage.body.contains("满意"))).all()
    assert sorted(asked) == sorted([REPORTER, SECOND_REPORTER])
    params = form_fixture("sms", "rating_reply.txt", From=SECOND_REPORTER, Body="2")
    assert "基本满意" in post_twilio(live_server, "/channels/sms/twilio", params).text
    assert case_of(runtime, other).satisfaction == 2
