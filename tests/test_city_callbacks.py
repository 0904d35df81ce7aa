"""Reporting back to the city: each step of a city order's case reaches the city's real HTTP endpoint from
a worker, signed; a 500 is retried, a refusal is final, and every attempt is in the case's history."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from intake.models import CaseEvent, OutboundMessage, OutboundStatus
from intake.processing import process_received, sweep
from intake.runtime import Runtime
from tests.support import Recorded, RecordingServer, fixture_path
from tests.test_city_orders import (
    FEEDBACK_PATH,
    SECRET,
    city_peer,
    city_signature,
    city_time,
    local,
    order,
    push,
    stored,
)
from tests.test_loop import Person, png

__all__ = ["city_peer"]  # the fixture, shared with the order tests


@pytest.fixture
def people(live_server: str, make_user: Callable[..., str], places: None) -> dict[str, Person]:
    make_user("agent1", "agent")
    make_user("water1", "department", department="water")
    return {name: Person(live_server, name) for name in ("agent1", "water1")}


def dispatched_order(live_server: str, peer: RecordingServer, agent: Person, code: str = "SJ20250612000123") -> str:
    """A city order pushed now (due in ten days), taken in by the worker and dispatched to the water unit."""
    body = order(
        "order_push.json",
        peer.url,
        workordercode=code,
        dispatchtime=city_time(local()),
        processlimited=local(10).date().isoformat(),
        attachments="",
    )
    answer = push(live_server, body)
    assert answer.status_code == 200, answer.text
    number = answer.json()["resultData"]["casenumber"]
    process_received()
    claimed = agent.http.post(f"{agent.base}/console/api/next", headers=agent.headers, timeout=10)
    assert claimed.json()["number"] == number
    assert agent.act(number, "dispatch", {"department": "water"}).status_code == 200
    return number


def callbacks(peer: RecordingServer) -> list[Recorded]:
    return [request for request in peer.requests if request.path == FEEDBACK_PATH]


def verified(request: Recorded) -> dict[str, Any]:
    """The callback's JSON, after checking it is signed as the city expects."""
    stamp = request.headers["X-Timestamp"]
    assert abs(time.time() - int(stamp)) < 60
    assert request.headers["X-Signature"] == city_signature(SECRET, "POST", FEEDBACK_PATH, stamp, request.body)
    assert request.headers["Content-Type"].startswith("application/json")
    return json.loads(request.body)


def test_signing_for_a_city_order_is_reported_to_the_city(
    runtime: Runtime,
    live_server: str,
    city_peer: RecordingServer,
    people: dict[str, Person],
    run_worker: Callable[[], None],
) -> None:
    number = dispatched_order(live_server, city_peer, people["agent1"])
    run_worker()
    assert callbacks(city_peer) == []  # dispatching inside the district is not a step the city hears of
    assert people["water1"].act(number, "sign").status_code == 200
    run_worker()
    [sent] = callbacks(city_peer)
    payload = verified(sent)
    assert payload["workordercode"] == "SJ20250612000123" and payload["event"] == "accept"
    assert payload["state"] == 1 and payload["casenumber"] == number
    assert payload["disposaldeptid"] == "water" and payload["handlerid"] == "water1"
    signed_at = datetime.strptime(payload["processtime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    assert abs((signed_at - local()).total_seconds()) < 60
    with runtime.db.transaction() as session:
        message = session.scalars(select(OutboundMessage).where(OutboundMessage.channel == "city")).one()
        assert message.status == OutboundStatus.SENT and message.to == "beijing"
        assert message.provider_id == payload["eventid"]
        accept_id = session.scalar(select(CaseEvent.id).where(CaseEvent.kind == "accept"))
        kinds = session.scalars(select(CaseEvent.kind).order_by(CaseEvent.id)).all()
    assert payload["eventid"] == str(accept_id)
    assert kinds[-3:] == ["accept", "message_queued", "message_sent"]


def test_a_result_with_photos_is_reported_with_them(
    runtime: Runtime,
    live_server: str,
    city_peer: RecordingServer,
    people: dict[str, Person],
    run_worker: Callable[[], None],
) -> None:
    water = people["water1"]
    number = dispatched_order(live_server, city_peer, people["agent1"])
    assert water.act(number, "sign").status_code == 200
    done = water.http.post(
        f"{live_server}/console/api/cases/{number}/result",
        data={"note": "已关闭阀门并更换破裂管段，路面积水已清理。"},
        files=[("photos", ("after.png", png(), "image/png"))],
        headers=water.headers,
        timeout=10,
    )
    assert done.json()["status"] == "handled"
    run_worker()
    accept, result = (verified(request) for request in callbacks(city_peer))
    assert accept["event"] == "accept"
    assert result["event"] == "result" and result["state"] == 2
    assert result["content"] == "已关闭阀门并更换破裂管段，路面积水已清理。"
    [photo] = result["attachments"]
    assert photo["filename"] == "after.png" and photo["contenttype"] == "image/png"
    assert base64.b64decode(photo["data"]) == png() and photo["sha256"] == hashlib.sha256(png()).hexdigest()


def test_a_return_and_an_invalidation_are_reported_as_returns_with_the_reason(
    runtime: Runtime,
    live_server: str,
    city_peer: RecordingServer,
    people: dict[str, Person],
    run_worker: Callable[[], None],
) -> None:
    agent, water = people["agent1"], people["water1"]
    number = dispatched_order(live_server, city_peer, agent)
    assert water.act(number, "return", {"reason": "管道属自来水集团产权，非本单位职责"}).status_code == 200
    # Back with the agents, who find the order is not the district's at all.
    claimed = agent.http.post(f"{agent.base}/console/api/next", headers=agent.headers, timeout=10)
    assert claimed.json()["number"] == number
    assert agent.act(number, "invalidate", {"reason": "other", "note": "事发地属顺义区，非本区辖区"}).status_code == 200
    run_worker()
    returned, invalidated = (verified(request) for request in callbacks(city_peer))
    assert returned["event"] == "return" and returned["reason"] == "管道属自来水集团产权，非本单位职责"
    assert returned["disposaldeptid"] == "water" and returned["state"] == 0
    assert invalidated["event"] == "return" and invalidated["reason"] == "事发地属顺义区，非本区辖区"
    assert invalidated["handlerid"] == "agent1" and invalidated["reasoncode"] == "other"


def test_an_extension_request_is_reported_with_the_date_asked_for(
    runtime: Runtime,
    live_server: str,
    city_peer: RecordingServer,
    people: dict[str, Person],
    run_worker: Callable[[], None],
) -> None:
    water = people["water1"]
    number = dispatched_order(live_server, city_peer, people["agent1"])
    assert water.act(number, "sign").status_code == 200
    until = local(20).replace(second=0)
    wanted = {"until": until.strftime("%Y-%m-%dT%H:%M"), "reason": "需协调自来水集团停水作业"}
    assert water.act(number, "extension", wanted).status_code == 200
    run_worker()
    _, extension = (verified(request) for request in callbacks(city_peer))
    assert extension["event"] == "extension" and extension["reason"] == "需协调自来水集团停水作业"
    assert extension["extendto"] == city_time(until) and extension["workordercode"] == "SJ20250612000123"
    with runtime.db.transaction() as session:
        requested = session.scalar(select(CaseEvent.id).where(CaseEvent.kind == "extension_requested"))
    assert extension["eventid"] == str(requested)


def test_a_failed_callback_is_retried_until_the_city_takes_it(
    runtime: Runtime,
    live_server: str,
    city_peer: RecordingServer,
    people: dict[str, Person],
    run_worker: Callable[[], None],
) -> None:
    number = dispatched_order(live_server, city_peer, people["agent1"])
    city_peer.route(FEEDBACK_PATH, 500, '{"success": false, "code": 500, "message": "系统繁忙"}'.encode())
    assert people["water1"].act(number, "sign").status_code == 200
    run_worker()
    assert len(callbacks(city_peer)) == 1
    with runtime.db.transaction() as session:
        message = session.scalars(select(OutboundMessage).where(OutboundMessage.channel == "city")).one()
        assert message.status == OutboundStatus.QUEUED and message.attempts == 1 and "500" in (message.error or "")
    # RQ holds the job for its next try; the sweeper also re-enqueues a message left queued.
    assert ScheduledJobRegistry(queue=Queue("outbound", connection=runtime.redis)).count == 1
    city_peer.route(FEEDBACK_PATH, 200, fixture_path("city", "callback_ack.json").read_bytes())
    time.sleep(runtime.config.worker.stale_after_seconds + 0.2)
    assert sweep()["messages"] == 1
    run_worker()
    first, second = (verified(request) for request in callbacks(city_peer))
    assert first == second  # the same step again: the city drops the duplicate by its eventid
    with runtime.db.transaction() as session:
        message = session.scalars(select(OutboundMessage).where(OutboundMessage.channel == "city")).one()
        assert message.status == OutboundStatus.SENT and message.attempts == 2


def test_a_callback_the_city_refuses_is_not_retried(
    runtime: Runtime,
    live_server: str,
    city_peer: RecordingServer,
    people: dict[str, Person],
    run_worker: Callable[[], None],
) -> None:
    number = dispatched_order(live_server, city_peer, people["agent1"])
    city_peer.route(FEEDBACK_PATH, 200, fixture_path("city", "callback_refused.json").read_bytes())
    assert people["water1"].act(number, "sign").status_code == 200
    run_worker()
    with runtime.db.transaction() as session:
        message = session.scalars(select(OutboundMessage).where(OutboundMessage.channel == "city")).one()
        assert message.status == OutboundStatus.FAILED and "工单不存在" in (message.error or "")
    assert ScheduledJobRegistry(queue=Queue("outbound", connection=runtime.redis)).count == 0


def test_cases_merged_into_another_keep_the_city_informed(
    runtime: Runtime,
    live_server: str,
    city_peer: RecordingServer,
    people: dict[str, Person],
    run_worker: Callable[[], None],
) -> None:
    """A duplicate city order merged into a local case: the local case's steps go to the city too."""
    from intake import Contact, Report, submit
    from intake.cases import apply, get_case
    from intake.states import Action

    local_number = submit(
        Report(channel="web", source_id="local-1", text="青春路南口水管破裂", contact=Contact(phone="+8613812348000"))
    ).case_number
    due = local(2).replace(microsecond=0)
    body = order(
        "order_push.json", city_peer.url, dispatchtime=city_time(local()), processlimited=city_time(due), attachments=""
    )
    city_number = push(live_server, body).json()["resultData"]["casenumber"]
    process_received()
    with runtime.db.transaction() as session:
        target = get_case(session, local_number)
        apply(session, get_case(session, city_number), Action.MERGE, actor="user:agent1", merged_into=target)
        assert target.finish_due_at == due  # the city's deadline binds the case it joined
        apply(session, target, Action.DISPATCH, actor="user:agent1", department_code="water")
        assert target.finish_due_at == due
        apply(session, target, Action.ACCEPT, actor="user:water1")
    run_worker()
    [accepted] = (verified(request) for request in callbacks(city_peer))
    assert accepted["event"] == "accept" and accepted["casenumber"] == local_number
    row, _ = stored(runtime)
    assert accepted["workordercode"] == row.order_code
    assert due - timedelta(seconds=1) <= row.deadline <= due  # type: ignore[operator]
