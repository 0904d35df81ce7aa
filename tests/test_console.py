"""The console over real HTTP: sign-in, lockout, CSRF, role boundaries, next case, presence."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select, update

from agent_ui.presence import expire_silent_agents
from intake import Report, submit
from intake.models import Case, User, utcnow
from intake.processing import process_received
from intake.runtime import Runtime
from tests.conftest import PASSWORD

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def sign_in(base: str, username: str, password: str = PASSWORD) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    token = csrf_of(browser.get(f"{base}/login", timeout=10).text)
    response = browser.post(
        f"{base}/login", data={"username": username, "password": password, "csrf_token": token}, timeout=10
    )
    return browser, response


def queue_cases(count: int) -> list[str]:
    numbers = [
        submit(Report(channel="web", source_id=str(uuid.uuid4()), text=f"路灯不亮{i}")).case_number
        for i in range(count)
    ]
    process_received()
    return numbers


@pytest.fixture
def users(make_user: Callable[..., str]) -> None:
    make_user("agent1", "agent")
    make_user("agent2", "agent")
    make_user("water1", "department", department="water")


def test_sign_in_shows_the_queue_and_sets_presence(runtime: Runtime, live_server: str, users: None) -> None:
    numbers = queue_cases(3)
    _browser, response = sign_in(live_server, "agent1")
    assert response.status_code == 200 and response.url.endswith("/console")
    assert all(number in response.text for number in numbers)
    with runtime.db.transaction() as session:
        assert session.scalar(select(User.presence).where(User.username == "agent1")) == "available"


def test_wrong_password_and_lockout(runtime: Runtime, live_server: str, users: None) -> None:
    for _ in range(4):
        _, response = sign_in(live_server, "agent1", "not-the-password")
        assert response.status_code == 401 and "用户名或密码错误" in response.text
    _, response = sign_in(live_server, "nobody", "whatever-pass")
    assert response.status_code == 401 and "用户名或密码错误" in response.text  # no user enumeration
    _, response = sign_in(live_server, "agent1", "not-the-password")  # the fifth failure locks
    _, response = sign_in(live_server, "agent1")  # even the right password now
    assert response.status_code == 401 and "锁定" in response.text
    with runtime.db.transaction() as session:
        session.execute(
            update(User).where(User.username == "agent1").values(locked_until=utcnow() - timedelta(seconds=1))
        )
    _, response = sign_in(live_server, "agent1")
    assert response.status_code == 200


def test_sign_in_without_csrf_token_is_refused(runtime: Runtime, live_server: str, users: None) -> None:
    response = requests.post(f"{live_server}/login", data={"username": "agent1", "password": PASSWORD}, timeout=10)
    assert response.status_code == 400


def test_role_boundaries(runtime: Runtime, live_server: str, users: None) -> None:
    anonymous = requests.get(f"{live_server}/console", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert requests.post(f"{live_server}/console/api/next", timeout=10).status_code in (400, 401)
    department, _response = sign_in(live_server, "water1")
    assert department.get(f"{live_server}/console", timeout=10).status_code == 403
    token = csrf_of(department.get(f"{live_server}/login", timeout=10).text)
    api = department.post(f"{live_server}/console/api/next", headers={"X-CSRFToken": token}, timeout=10)
    assert api.status_code == 403 and "role department" in api.json()["error"]


def test_next_case_claims_and_two_agents_get_different_cases(runtime: Runtime, live_server: str, users: None) -> None:
    queue_cases(2)
    first, page = sign_in(live_server, "agent1")
    second, page2 = sign_in(live_server, "agent2")
    no_csrf = first.post(f"{live_server}/console/api/next", timeout=10)
    assert no_csrf.status_code == 400
    a = first.post(f"{live_server}/console/api/next", headers={"X-CSRFToken": csrf_of(page.text)}, timeout=10).json()
    b = second.post(f"{live_server}/console/api/next", headers={"X-CSRFToken": csrf_of(page2.text)}, timeout=10).json()
    assert a["number"] != b["number"]
    case_page = first.get(live_server + a["url"], timeout=10)
    assert case_page.status_code == 200 and "由您受理中" in case_page.text
    assert '<span id="case-channel">网站填报</span>' in case_page.text  # the channel by its name
    empty = first.post(f"{live_server}/console/api/next", headers={"X-CSRFToken": csrf_of(page.text)}, timeout=10)
    assert empty.status_code == 200 and empty.json()["number"] == a["number"]  # still holds it


def test_going_offline_or_falling_silent_returns_the_case(runtime: Runtime, live_server: str, users: None) -> None:
    queue_cases(1)
    browser, page = sign_in(live_server, "agent1")
    headers = {"X-CSRFToken": csrf_of(page.text)}
    claim = browser.post(f"{live_server}/console/api/next", headers=headers, timeout=10).json()
    bad = browser.post(f"{live_server}/console/api/presence", json={"presence": "asleep"}, headers=headers, timeout=10)
    assert bad.status_code == 400 and "presence" in bad.json()["error"]
    listed = browser.post(f"{live_server}/console/api/presence", json=["offline"], headers=headers, timeout=10)
    assert listed.status_code == 400 and "JSON object" in listed.json()["error"]
    assert (
        browser.post(
            f"{live_server}/console/api/presence", json={"presence": "offline"}, headers=headers, timeout=10
        ).status_code
        == 200
    )
    with runtime.db.transaction() as session:
        assert session.scalar(select(Case.claimed_by_id).where(Case.number == claim["number"])) is None
    # Again, but this time the browser just goes away: the heartbeat stops.
    browser.post(f"{live_server}/console/api/presence", json={"presence": "available"}, headers=headers, timeout=10)
    browser.post(f"{live_server}/console/api/next", headers=headers, timeout=10)
    with runtime.db.transaction() as session:
        session.execute(
            update(User).where(User.username == "agent1").values(presence_at=utcnow() - timedelta(minutes=5))
        )
    assert expire_silent_agents() == 1
    with runtime.db.transaction() as session:
        assert session.scalar(select(Case.claimed_by_id).where(Case.number == claim["number"])) is None
        assert session.scalar(select(User.presence).where(User.username == "agent1")) == "offline"


def test_wallboard_for_supervisors_only(runtime: Runtime, live_server: str, users: None, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("boss", "supervisor")
    queue_cases(3)
    submit(Report(channel="sms", source_id=str(uuid.uuid4()), text="短信诉求"))
    process_received()
    agent, page = sign_in(live_server, "agent1")
    assert agent.get(f"{live_server}/console/wallboard", timeout=10).status_code == 403
    agent.post(f"{live_server}/console/api/next", headers={"X-CSRFToken": csrf_of(page.text)}, timeout=10)
    boss, page = sign_in(live_server, "boss")
    assert "值班监控" in boss.get(f"{live_server}/console/wallboard", timeout=10).text
    figures = boss.get(f"{live_server}/console/api/wallboard", timeout=10).json()
    assert figures["waiting"] == 3 and figures["in_hand"] == 1
    assert sum(figures["waiting_by_channel"].values()) == 3 and figures["waiting_by_channel"]["sms"] in (0, 1)
    assert "agent1" in figures["agents"]["busy"] and "boss" in figures["agents"]["available"]
    assert figures["agents"]["offline"] == ["agent2"]
