"""Duplicates: Chinese-aware similarity, nearby recent candidates, and merging with every reporter kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select

from agent_ui.duplicates import similarity
from intake import Contact, Location, Report, submit
from intake.cases import apply, get_case
from intake.models import Case, CaseEvent, OutboundMessage
from intake.processing import process_received
from intake.runtime import Runtime
from intake.states import Action
from tests.test_console import csrf_of, sign_in

MANHOLE = "青春路12号门前井盖缺失，夜间行人容易踩空"


def test_similarity_understands_chinese_retellings() -> None:
    retold = similarity(MANHOLE, "青春路12号井盖丢了，晚上有人踩空！")
    unrelated = similarity(MANHOLE, "开放路红绿灯不亮，早高峰拥堵")
    assert retold > 0.35 > unrelated
    assert similarity("井盖缺失。", "井盖缺失") == 1.0  # punctuation does not count
    assert similarity("", MANHOLE) == 0.0


def report(text: str, lat: float, lon: float, phone: str, priority: int = 3) -> str:
    return submit(
        Report(
            channel="sms",
            source_id=str(uuid.uuid4()),
            text=text,
            contact=Contact(phone=phone),
            location=Location(lat=lat, lon=lon),
            priority=priority,
        )
    ).case_number


@pytest.fixture
def cases(runtime: Runtime) -> dict[str, str]:
    numbers = {
        "new": report(MANHOLE, 40.3225, 116.6392, "+8613800000001", priority=1),
        "same": report("青春路12号井盖丢了，晚上有人踩空", 40.3230, 116.6395, "+8613800000002"),
        "far": report("青春路12号井盖丢了，晚上有人踩空", 40.4200, 116.7000, "+8613800000003"),
        "other": report("青春路路口红绿灯坏了", 40.3226, 116.6393, "+8613800000004"),
        "closed": report("青春路12号井盖丢了", 40.3226, 116.6393, "+8613800000005"),
    }
    process_received()
    with runtime.db.transaction() as session:
        apply(session, get_case(session, numbers["closed"]), Action.INVALIDATE, actor="user:x", reason="test")
    return numbers


def test_candidates_are_near_recent_open_and_similar(
    runtime: Runtime, live_server: str, make_user: Callable[..., str], cases: dict[str, str]
) -> None:
    make_user("agent1", "agent")
    browser, page = sign_in(live_server, "agent1")
    headers = {"X-CSRFToken": csrf_of(page.text)}
    claimed = browser.post(f"{live_server}/console/api/next", headers=headers, timeout=10).json()
    assert claimed["number"] == cases["new"]
    found = browser.get(f"{live_server}/console/api/cases/{cases['new']}/candidates", timeout=10).json()["candidates"]
    numbers = [c["number"] for c in found]
    assert numbers[0] == cases["same"]
    assert cases["far"] not in numbers and cases["closed"] not in numbers
    assert found[0]["distance_m"] < 100 and found[0]["score"] > 0.35
    case_page = browser.get(f"{live_server}/console/cases/{cases['new']}", timeout=10).text
    assert cases["same"] in case_page and "疑似重复" in case_page


def test_merge_keeps_every_reporter_informed(
    runtime: Runtime, live_server: str, make_user: Callable[..., str], cases: dict[str, str], run_worker
) -> None:  # type: ignore[no-untyped-def]
    make_user("agent1", "agent")
    browser, page = sign_in(live_server, "agent1")
    headers = {"X-CSRFToken": csrf_of(page.text)}
    browser.post(f"{live_server}/console/api/next", headers=headers, timeout=10)
    url = f"{live_server}/console/api/cases/{cases['new']}/merge"
    assert browser.post(url, json={"into": "20990101-000001"}, headers=headers, timeout=10).status_code == 400
    assert browser.post(url, json={"into": cases["closed"]}, headers=headers, timeout=10).status_code == 409
    assert browser.post(url, json={"into": cases["same"]}, headers=headers, timeout=10).status_code == 200
    with runtime.db.transaction() as session:
        merged = get_case(session, cases["new"])
        target = get_case(session, cases["same"])
        assert merged.status.value == "merged" and merged.merged_into_id == target.id
        kinds = {e.kind for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == target.id))}
        assert "merged_in" in kinds
        apply(session, target, Action.DISPATCH, actor="user:agent1", department_code="urban-management")
    with runtime.db.transaction() as session:
        recipients = set(session.scalars(select(OutboundMessage.to).where(OutboundMessage.case_id == target.id)))
    assert recipients == {"+8613800000001", "+8613800000002"}  # the duplicate's reporter hears too
    assert len(runtime_cases(runtime)) == 5


def runtime_cases(runtime: Runtime) -> list[str]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(Case.number)))
