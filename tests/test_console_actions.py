"""Verifying a held case from the console over real HTTP: correct, dispatch, invalid, reveal the phone."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import requests
from sqlalchemy import select

from intake import Contact, Location, Report, submit
from intake.models import Case, CaseEvent
from intake.processing import process_received
from intake.runtime import Runtime
from tests.test_console import csrf_of, sign_in


@pytest.fixture
def agent(runtime: Runtime, live_server: str, make_user: Callable[..., str], places: None):  # type: ignore[no-untyped-def]
    make_user("agent1", "agent")
    make_user("agent2", "agent")
    make_user("boss", "supervisor")
    submit(
        Report(
            channel="sms",
            source_id=str(uuid.uuid4()),
            text="青春路井盖丢失",
            contact=Contact(phone="+8613812348000"),
            location=Location(lat=40.3225, lon=116.6392),
        )
    )
    process_received()
    browser, page = sign_in(live_server, "agent1")
    headers = {"X-CSRFToken": csrf_of(page.text)}
    claim = browser.post(f"{live_server}/console/api/next", headers=headers, timeout=10).json()
    return browser, headers, claim["number"]


def call(session: requests.Session, base: str, number: str, action: str, headers: dict, body: object = None):  # type: ignore[no-untyped-def]
    return session.post(f"{base}/console/api/cases/{number}/{action}", json=body or {}, headers=headers, timeout=10)


def events(runtime: Runtime, kind: str) -> list[CaseEvent]:
    with runtime.db.transaction() as session:
        found = session.scalars(select(CaseEvent).where(CaseEvent.kind == kind).order_by(CaseEvent.id)).all()
        for event in found:
            session.expunge(event)
    return list(found)


def test_correct_category_priority_and_point(runtime: Runtime, live_server: str, agent) -> None:  # type: ignore[no-untyped-def]
    browser, headers, number = agent
    response = call(browser, live_server, number, "update", headers, {"category": "manhole-cover", "priority": 1})
    assert response.status_code == 200 and response.json()["changed"] == {"category": "manhole-cover", "priority": 1}
    moved = call(browser, live_server, number, "update", headers, {"lat": 40.40, "lon": 116.66})
    assert moved.status_code == 200
    with runtime.db.transaction() as session:
        case = session.scalars(select(Case)).one()
        assert (case.category, case.priority) == ("manhole-cover", 1)
        assert case.grid_code is not None and case.grid_code.startswith("110116004")  # 雁栖镇
    (first, second) = events(runtime, "updated")
    with runtime.db.transaction() as session:
        case = session.scalars(select(Case)).one()
        # Urgent now: the agents' verification clock shrinks to the urgent one (10 minutes in config.yaml).
        assert case.due_at is not None and case.queued_at is not None
        assert (case.due_at - case.queued_at).total_seconds() == 600
    assert first.actor == "user:agent1" and first.detail["priority"] == [3, 1]
    assert second.detail["lat"] == [40.3225, 40.40]
    for body, named in [
        ({"category": "ufo"}, "category"),
        ({"priority": 7}, "priority"),
        ({"lat": 40.0}, "lat/lon"),
        ({"status": "closed"}, "status"),
    ]:
        refused = call(browser, live_server, number, "update", headers, body)
        assert refused.status_code == 400 and refused.json()["error"].startswith(named), body


def test_only_the_holder_or_a_supervisor_may_act(runtime: Runtime, live_server: str, agent) -> None:  # type: ignore[no-untyped-def]
    _, _, number = agent
    other, page = sign_in(live_server, "agent2")
    headers = {"X-CSRFToken": csrf_of(page.text)}
    refused = call(other, live_server, number, "update", headers, {"priority": 1})
    assert refused.status_code == 409 and "do not hold it" in refused.json()["error"]
    boss, page = sign_in(live_server, "boss")
    allowed = call(boss, live_server, number, "update", {"X-CSRFToken": csrf_of(page.text)}, {"priority": 2})
    assert allowed.status_code == 200


def test_dispatch_releases_the_case_and_is_in_the_history(runtime: Runtime, live_server: str, agent) -> None:  # type: ignore[no-untyped-def]
    browser, headers, number = agent
    unknown = call(browser, live_server, number, "dispatch", headers, {"department": "ministry-of-magic"})
    assert unknown.status_code == 400 and "department" in unknown.json()["error"]
    # No category yet: routing proposes the town's sub-center (属地兜底); another unit needs a reason.
    unexplained = call(browser, live_server, number, "dispatch", headers, {"department": "urban-management"})
    assert unexplained.status_code == 400 and unexplained.json()["error"].startswith("override_reason")
    body = {"department": "urban-management", "override_reason": "路面设施归城管委"}
    done = call(browser, live_server, number, "dispatch", headers, body)
    assert done.status_code == 200
    with runtime.db.transaction() as session:
        case = session.scalars(select(Case)).one()
        assert (case.status.value, case.department_code, case.claimed_by_id) == ("dispatched", "urban-management", None)
    (event,) = events(runtime, "dispatch")
    assert (event.actor, event.channel) == ("user:agent1", "console")
    assert event.detail["proposed"] == "town-110116001" and event.detail["basis"] == "town_center"
    assert event.detail["override_reason"] == "路面设施归城管委"
    again = call(browser, live_server, number, "dispatch", headers, {"department": "water"})
    assert again.status_code == 409


def test_invalid_needs_a_known_reason(runtime: Runtime, live_server: str, agent) -> None:  # type: ignore[no-untyped-def]
    browser, headers, number = agent
    assert call(browser, live_server, number, "invalidate", headers, {"reason": "boring"}).status_code == 400
    assert call(browser, live_server, number, "invalidate", headers, {"reason": "spam"}).status_code == 200
    (event,) = events(runtime, "invalidate")
    assert event.detail["reason"] == "spam" and event.to_status == "invalid"


def test_revealing_the_phone_is_recorded(runtime: Runtime, live_server: str, agent) -> None:  # type: ignore[no-untyped-def]
    browser, headers, number = agent
    page = browser.get(f"{live_server}/console/cases/{number}", timeout=10)
    assert "138****8000" in page.text and "+8613812348000" not in page.text
    revealed = call(browser, live_server, number, "phone", headers)
    assert revealed.json()["phone"] == "+8613812348000"
    (event,) = events(runtime, "phone_viewed")
    assert event.actor == "user:agent1"


def test_ask_the_reporter_and_the_sms_reply_lands_on_the_case(runtime: Runtime, live_server: str, agent) -> None:  # type: ignore[no-untyped-def]
    from intake.models import OutboundMessage, ReportRecord
    from tests.support import form_fixture, post_twilio

    browser, headers, number = agent
    assert call(browser, live_server, number, "ask", headers, {"question": ""}).status_code == 400
    asked = call(browser, live_server, number, "ask", headers, {"question": "井盖具体在几号楼门口？"})
    assert asked.status_code == 200
    with runtime.db.transaction() as session:
        message = session.scalars(select(OutboundMessage)).one()
        assert message.to == "+8613812348000" and "井盖具体在几号楼门口？" in message.body and number in message.body
    (event,) = events(runtime, "info_requested")
    assert event.detail["question"] == "井盖具体在几号楼门口？"
    reply = post_twilio(live_server, "/channels/sms/twilio", form_fixture("sms", "inbound_followup.txt"))
    assert number in reply.text
    with runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        texts = session.scalars(select(ReportRecord.text).where(ReportRecord.case_id == case.id)).all()
    assert texts[-1] == "补充：井盖旁边还有一个坑。"


def test_an_sms_reply_joins_a_case_filed_on_the_website(runtime: Runtime, live_server: str) -> None:
    from tests.support import form_fixture, post_twilio

    web = submit(
        Report(channel="web", source_id=str(uuid.uuid4()), text="路灯不亮", contact=Contact(phone="+8613812348000"))
    ).case_number
    reply = post_twilio(live_server, "/channels/sms/twilio", form_fixture("sms", "inbound_followup.txt"))
    assert web in reply.text and "已补充" in reply.text


def test_asking_an_opted_out_reporter_is_refused(runtime: Runtime, live_server: str, agent) -> None:  # type: ignore[no-untyped-def]
    from tests.support import form_fixture, post_twilio

    browser, headers, number = agent
    post_twilio(live_server, "/channels/sms/twilio", form_fixture("sms", "stop.txt"))
    refused = call(browser, live_server, number, "ask", headers, {"question": "请问具体位置？"})
    assert refused.status_code == 409 and "opted out" in refused.json()["error"]


def test_photos_show_on_the_case_page(runtime: Runtime, live_server: str, make_user: Callable[..., str]) -> None:
    from intake import AttachmentIn

    make_user("agent1", "agent")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    number = submit(
        Report(
            channel="web",
            source_id=str(uuid.uuid4()),
            text="垃圾堆积",
            attachments=(AttachmentIn(filename="pile.png", content_type="image/png", data=png),),
        )
    ).case_number
    process_received()
    browser, _ = sign_in(live_server, "agent1")
    page = browser.get(f"{live_server}/console/cases/{number}", timeout=10).text
    src = page.split('<img src="')[1].split('"')[0]
    photo = browser.get(live_server + src, timeout=10)
    assert photo.status_code == 200 and photo.content == png and photo.headers["Content-Type"] == "image/png"
    assert requests.get(live_server + src, timeout=10, allow_redirects=False).status_code == 302  # signed in only


def test_address_search_resolves_to_a_point_and_cell(runtime: Runtime, live_server: str, agent) -> None:  # type: ignore[no-untyped-def]
    browser, headers, number = agent
    found = browser.get(f"{live_server}/console/api/addresses", params={"q": "泉河街道青春路十二号"}, timeout=10)
    assert found.status_code == 200
    best = found.json()["matches"][0]
    assert best["text"].endswith("泉河街道青春路12号") and best["grid_code"].startswith("110116001")
    assert best["confidence"] > 0.8
    # Two towns have a 幸福路8号: the agent is asked to confirm instead of being given a guess.
    ambiguous = browser.get(f"{live_server}/console/api/addresses", params={"q": "幸福路8号"}, timeout=10).json()
    assert ambiguous["best"]["needs_confirmation"] and "ambiguous" in ambiguous["best"]["reasons"]
    assert ambiguous["best"]["reason_texts"] and len(ambiguous["matches"]) >= 2
    assert browser.get(f"{live_server}/console/api/addresses", params={"q": " "}, timeout=10).status_code == 400
    picked = call(
        browser,
        live_server,
        number,
        "update",
        headers,
        {"address": best["text"], "lat": best["lat"], "lon": best["lon"]},
    )
    assert picked.status_code == 200
    with runtime.db.transaction() as session:
        assert session.scalars(select(Case.grid_code)).one() == best["grid_code"]
