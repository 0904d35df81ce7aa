"""The read API and /healthz over real HTTP: tokens, filters, paging, masking, roles."""

from __future__ import annotations

from collections.abc import Callable

import requests
from sqlalchemy import select

from intake import Contact, Report, submit
from intake.cases import apply, get_case
from intake.models import CaseEvent
from intake.runtime import Runtime
from intake.states import Action


def make_cases(count: int, channel: str = "web") -> list[str]:
    return [
        submit(
            Report(
                channel=channel,
                source_id=f"{channel}-{i}",
                text=f"路灯不亮 第{i}处" if i % 2 else f"井盖丢失 第{i}处",
                contact=Contact(phone="+8613812348000"),
            )
        ).case_number
        for i in range(count)
    ]


def get(url: str, token: str | None, **params: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, params=params, timeout=10)


def test_token_is_required(runtime: Runtime, live_server: str) -> None:
    response = get(f"{live_server}/api/v1/cases", None)
    assert response.status_code == 401 and "bearer token" in response.json()["error"]
    response = get(f"{live_server}/api/v1/cases", "gl_not-a-real-token")
    assert response.status_code == 401 and "unknown or revoked" in response.json()["error"]


def test_list_filters_pages_and_masks(runtime: Runtime, live_server: str, make_user: Callable[..., str]) -> None:
    token = make_user("agent1", "agent")
    numbers = make_cases(7) + make_cases(2, channel="sms")
    body = get(f"{live_server}/api/v1/cases", token, limit=4).json()
    assert [c["number"] for c in body["cases"]] == sorted(numbers, reverse=True)[:4]
    assert body["cases"][0]["reporter_phone"] == "138****8000"
    seen = [c["number"] for c in body["cases"]]
    while body["next_cursor"]:
        body = get(f"{live_server}/api/v1/cases", token, limit=4, cursor=body["next_cursor"]).json()
        seen += [c["number"] for c in body["cases"]]
    assert sorted(seen) == sorted(numbers)
    sms = get(f"{live_server}/api/v1/cases", token, channel="sms").json()["cases"]
    assert len(sms) == 2
    lamps = get(f"{live_server}/api/v1/cases", token, q="路灯").json()["cases"]
    assert len(lamps) == 4 and all("路灯" in c["summary"] for c in lamps)
    received = get(f"{live_server}/api/v1/cases", token, status="received,verifying").json()["cases"]
    assert len(received) == 9


def test_list_rejects_bad_parameters(runtime: Runtime, live_server: str, make_user: Callable[..., str]) -> None:
    token = make_user("agent1", "agent")
    for params, named in [
        ({"status": "done"}, "status"),
        ({"limit": "x"}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
    ]:
        response = get(f"{live_server}/api/v1/cases", token, **params)
        assert response.status_code == 400 and response.json()["error"].startswith(named), params


def test_detail_shows_reports_and_history_and_records_full_phone_views(
    runtime: Runtime, live_server: str, make_user: Callable[..., str]
) -> None:
    agent = make_user("agent1", "agent")
    leader = make_user("leader", "leader")
    (number,) = make_cases(1)
    body = get(f"{live_server}/api/v1/cases/{number}", agent).json()
    assert body["reports"][0]["contact_phone"] == "138****8000"
    assert [e["kind"] for e in body["history"]] == ["received"]
    full = get(f"{live_server}/api/v1/cases/{number}", agent, full_phone=1).json()
    assert full["reporter_phone"] == "+8613812348000"
    assert full["history"][-1]["kind"] == "phone_viewed" and full["history"][-1]["actor"] == "user:agent1"
    refused = get(f"{live_server}/api/v1/cases/{number}", leader, full_phone=1)
    assert refused.status_code == 403
    assert get(f"{live_server}/api/v1/cases/20990101-000001", agent).status_code == 404
    with runtime.db.transaction() as session:
        assert len(session.scalars(select(CaseEvent).where(CaseEvent.kind == "phone_viewed")).all()) == 1


def test_department_staff_see_only_their_cases(
    runtime: Runtime, live_server: str, make_user: Callable[..., str]
) -> None:
    token = make_user("water1", "department", department="water")
    ours, theirs = make_cases(2)
    with runtime.db.transaction() as session:
        for number, unit in ((ours, "water"), (theirs, "transport")):
            case = get_case(session, number)
            apply(session, case, Action.QUEUE, actor="system")
            apply(session, case, Action.DISPATCH, actor="user:agent1", department_code=unit)
    listed = [c["number"] for c in get(f"{live_server}/api/v1/cases", token).json()["cases"]]
    assert listed == [ours]
    assert get(f"{live_server}/api/v1/cases/{theirs}", token).status_code == 404
    assert get(f"{live_server}/api/v1/cases/{ours}", token).status_code == 200


def test_healthz_reports_database_redis_and_workers(runtime: Runtime, live_server: str) -> None:
    body = requests.get(f"{live_server}/healthz", timeout=10).json()
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["workers"]["count"] == 0 and body["status"] == "degraded"
    assert set(body["queues"]) == {"intake", "outbound", "media", "default"}
    assert requests.get(f"{live_server}/livez", timeout=10).text == "ok\n"


def test_unknown_api_path_is_json_404(runtime: Runtime, live_server: str) -> None:
    response = requests.get(f"{live_server}/api/v1/nothing", timeout=10)
    assert response.status_code == 404 and response.json()["status"] == 404


def test_behind_a_trusted_proxy_the_client_address_comes_from_x_forwarded_for(runtime: Runtime, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from flask import request

    from intake.app import create_app

    monkeypatch.setattr(runtime.config.server, "trusted_proxies", 1)
    app = create_app(runtime=runtime)
    app.add_url_rule("/whoami", "whoami", lambda: request.remote_addr or "")
    client = app.test_client()
    assert client.get("/whoami", headers={"X-Forwarded-For": "203.0.113.7"}).text == "203.0.113.7"
    monkeypatch.setattr(runtime.config.server, "trusted_proxies", 0)
    plain = create_app(runtime=runtime)
    plain.add_url_rule("/whoami", "whoami", lambda: request.remote_addr or "")
    assert plain.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.7"}).text == "127.0.0.1"
