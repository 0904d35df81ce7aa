"""The citizen app's JSON API over real HTTP: SMS-code sign-in (codes through the real outbound worker
to a Twilio REST stand-in), reports with photos and location, "my reports" with status and result.

The sign-in helpers here are shared with the grid workers' tests.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from channels.app.models import AppToken, PhoneCode
from intake.cases import apply, get_case
from intake.models import Attachment, CaseEvent, OutboundMessage, ReportRecord
from intake.runtime import Runtime
from intake.states import Action, CaseStatus
from tests.conftest import TWILIO_ACCOUNT_SID
from tests.support import RecordingServer, fixture_path, recording_server
from tests.test_web_channel import png_bytes

CITIZEN = "+8613812348000"
CITIZEN_TYPED = "138 1234 8000"
TIMEOUT = 10
MESSAGES_PATH = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"


@contextmanager
def twilio_sms(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    """A real HTTP server standing in for Twilio's REST API; outbound SMS land in its ``requests``."""
    created = fixture_path("sms", "rest_message_created.json").read_bytes()
    with recording_server() as server:
        server.route(MESSAGES_PATH, 201, created)
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", server.url)
        yield server


def sms_sent(server: RecordingServer) -> list[dict[str, str]]:
    return [dict(urllib.parse.parse_qsl(request.body.decode())) for request in server.requests]


def code_from(server: RecordingServer, phone: str) -> str:
    """The sign-in code in the last SMS the worker sent to ``phone``."""
    bodies = [sms["Body"] for sms in sms_sent(server) if sms["To"] == phone]
    assert bodies, f"no SMS to {phone}"
    match = re.search(r"\d{6}", bodies[-1])
    assert match, bodies[-1]
    return match.group(0)


def sign_in(
    base: str, prefix: str, phone_typed: str, phone: str, server: RecordingServer, run_worker: Callable[[], None]
) -> dict[str, object]:
    """Ask for a code, let the worker text it, and exchange it for a token; returns the answer."""
    asked = requests.post(f"{base}{prefix}/auth/code", json={"phone": phone_typed}, timeout=TIMEOUT)
    assert asked.status_code == 202, asked.text
    run_worker()
    code = code_from(server, phone)
    verified = requests.post(f"{base}{prefix}/auth/verify", json={"phone": phone_typed, "code": code}, timeout=TIMEOUT)
    assert verified.status_code == 200, verified.text
    return verified.json()


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def photo_json(name: str = "photo.png", rgb: tuple[int, int, int] = (200, 30, 30)) -> dict[str, str]:
    return {
        "filename": name,
        "content_type": "image/png",
        "data_base64": base64.b64encode(png_bytes(3, 3, rgb)).decode(),
    }


@pytest.fixture
def citizen(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, str], RecordingServer]]:
    with twilio_sms(runtime, monkeypatch) as server:
        answer = sign_in(live_server, "/api/app/v1", CITIZEN_TYPED, CITIZEN, server, run_worker)
        yield bearer(answer["token"]), server


# --- sign-in ----------------------------------------------------------------------------------


def test_sign_in_with_an_sms_code_stores_only_hashes(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    with twilio_sms(runtime, monkeypatch) as server:
        answer = sign_in(live_server, "/api/app/v1", CITIZEN_TYPED, CITIZEN, server, run_worker)
        sms = sms_sent(server)
    assert len(sms) == 1 and sms[0]["To"] == CITIZEN and "社管通" in sms[0]["Body"]
    code = code_from(server, CITIZEN)
    token = str(answer["token"])
    assert token.startswith("ga_") and answer["phone"] == "138****8000"
    with runtime.db.transaction() as session:
        stored_code = session.scalars(select(PhoneCode)).one()
        assert code not in stored_code.code_hash and stored_code.used_at is not None
        assert session.scalar(select(AppToken.token_hash)) != token
        # The SMS itself was sent by the worker, like every outbound message, and is on no case.
        assert session.scalar(select(OutboundMessage.status)) == "sent"
    me = requests.get(f"{live_server}/api/app/v1/me", headers=bearer(token), timeout=TIMEOUT)
    assert me.json() == {"phone": "138****8000"}
    # A code works once.
    again = requests.post(
        f"{live_server}/api/app/v1/auth/verify", json={"phone": CITIZEN_TYPED, "code": code}, timeout=TIMEOUT
    )
    assert again.status_code == 401
    # Signing out revokes the token.
    out = requests.post(f"{live_server}/api/app/v1/auth/sign-out", headers=bearer(token), timeout=TIMEOUT)
    assert out.status_code == 204
    assert requests.get(f"{live_server}/api/app/v1/me", headers=bearer(token), timeout=TIMEOUT).status_code == 401


def test_wrong_codes_kill_the_code_after_five_attempts(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    with twilio_sms(runtime, monkeypatch) as server:
        requests.post(f"{live_server}/api/app/v1/auth/code", json={"phone": CITIZEN_TYPED}, timeout=TIMEOUT)
        run_worker()
        code = code_from(server, CITIZEN)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        answer = requests.post(
            f"{live_server}/api/app/v1/auth/verify", json={"phone": CITIZEN_TYPED, "code": wrong}, timeout=TIMEOUT
        )
        assert answer.status_code == 401 and answer.json()["code"] == "code_wrong"
        assert answer.json()["error"] == "验证码不正确" and answer.json()["detail"] == "wrong code"  # zh by default
    right = requests.post(
        f"{live_server}/api/app/v1/auth/verify", json={"phone": CITIZEN_TYPED, "code": code}, timeout=TIMEOUT
    )
    assert right.status_code == 401 and right.json()["code"] == "code_exhausted"
    assert right.json()["error"] == "验证码错误次数过多，请重新获取"
    with runtime.db.transaction() as session:
        assert session.scalar(select(PhoneCode.attempts)) == 5
        assert session.scalar(select(func.count()).select_from(AppToken)) == 0


def test_codes_are_rate_limited_per_number_and_expire(runtime: Runtime, live_server: str) -> None:
    first = requests.post(f"{live_server}/api/app/v1/auth/code", json={"phone": CITIZEN_TYPED}, timeout=TIMEOUT)
    assert first.status_code == 202 and first.json()["expires_in"] == 300
    second = requests.post(f"{live_server}/api/app/v1/auth/code", json={"phone": CITIZEN_TYPED}, timeout=TIMEOUT)
    assert second.status_code == 429 and 0 < int(second.headers["Retry-After"]) <= 60
    # Expired: no live code any more.
    with runtime.db.transaction() as session:
        row = session.scalars(select(PhoneCode)).one()
        row.created_at -= timedelta(minutes=2)
        row.expires_at = row.created_at + timedelta(seconds=1)
    late = requests.post(
        f"{live_server}/api/app/v1/auth/verify", json={"phone": CITIZEN_TYPED, "code": "123456"}, timeout=TIMEOUT
    )
    assert late.status_code == 401 and late.json()["code"] == "code_expired"
    # Five codes an hour at most, however patient the caller.
    with runtime.db.transaction() as session:
        for _ in range(4):
            session.add(
                PhoneCode(
                    purpose="app",
                    phone=CITIZEN,
                    code_hash="x" * 64,
                    created_at=row.created_at,
                    expires_at=row.expires_at,
                    attempts=0,
                )
            )
    sixth = requests.post(f"{live_server}/api/app/v1/auth/code", json={"phone": CITIZEN_TYPED}, timeout=TIMEOUT)
    assert sixth.status_code == 429 and 3590 <= int(sixth.headers["Retry-After"]) <= 3600


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": "+14155550100"}, "phone"),
        ({}, "phone"),
        ({"phone": 13812348000}, "phone"),
    ],
)
def test_bad_phone_numbers_are_refused(live_server: str, runtime: Runtime, body: dict[str, object], field: str) -> None:
    answer = requests.post(f"{live_server}/api/app/v1/auth/code", json=body, timeout=TIMEOUT)
    assert answer.status_code == 400 and answer.json()["field"] == field


def test_errors_carry_a_stable_code_and_a_message_in_the_users_language(live_server: str, runtime: Runtime) -> None:
    url = f"{live_server}/api/app/v1/auth/code"
    zh = requests.post(url, json={"phone": "12345"}, timeout=TIMEOUT)
    en = requests.post(url, json={"phone": "12345"}, headers={"Accept-Language": "en-US,en;q=0.9"}, timeout=TIMEOUT)
    by_setting = requests.post(
        f"{url}?lang=en", json={"phone": "12345"}, headers={"Accept-Language": "zh-CN"}, timeout=TIMEOUT
    )
    for answer in (zh, en, by_setting):  # the same status, code and field in either language
        assert answer.status_code == 400
        assert (answer.json()["code"], answer.json()["field"]) == ("invalid_phone", "phone")
    assert zh.json()["error"] == "请输入11位手机号码（以1开头）" and zh.headers["Content-Language"] == "zh-CN"
    assert en.json()["error"] == "Enter a mainland mobile number (11 digits starting with 1)"
    assert by_setting.json()["error"] == en.json()["error"] and by_setting.headers["Content-Language"] == "en"
    signed_out = requests.get(f"{live_server}/api/app/v1/me", headers={"Accept-Language": "en"}, timeout=TIMEOUT)
    assert signed_out.status_code == 401 and signed_out.json()["code"] == "not_signed_in"
    assert signed_out.json()["error"] == "Please sign in again"
    first = requests.post(url, json={"phone": CITIZEN_TYPED}, timeout=TIMEOUT)
    assert first.status_code == 202
    again = requests.post(url, json={"phone": CITIZEN_TYPED}, timeout=TIMEOUT)
    wait = int(again.headers["Retry-After"])
    assert again.status_code == 429 and again.json()["code"] == "code_too_soon"
    assert again.json()["error"] == f"验证码刚刚已发送，请{wait}秒后再试"


def test_a_missing_field_is_named_in_the_users_language(
    live_server: str, citizen: tuple[dict[str, str], RecordingServer]
) -> None:
    headers, _ = citizen
    for lang, message in (("zh-CN", "请填写问题描述"), ("en", "Description is required")):
        answer = requests.post(
            f"{live_server}/api/app/v1/reports", json={}, headers={**headers, "Accept-Language": lang}, timeout=TIMEOUT
        )
        assert answer.status_code == 400 and answer.json()["field"] == "description"
        assert (answer.json()["code"], answer.json()["error"]) == ("required", message)


def test_no_token_or_a_forged_one_is_refused(live_server: str, runtime: Runtime) -> None:
    for headers in ({}, {"Authorization": "Bearer ga_forged"}, {"Authorization": "Basic abc"}):
        answer = requests.get(f"{live_server}/api/app/v1/reports", headers=headers, timeout=TIMEOUT)
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"


# --- reports --------------------------------------------------------------------------------------


def test_report_with_photos_and_location_then_my_reports_shows_status_and_result(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    citizen: tuple[dict[str, str], RecordingServer],
    places: None,
) -> None:
    headers, _ = citizen
    body = {
        "description": "小区门口路灯不亮已有一周",
        "category": "street-light",
        "address": "泉河街道青春路12号",
        "lat": 40.3225,
        "lon": 116.6392,
        "photos": [photo_json("lamp.png")],
    }
    sent = requests.post(
        f"{live_server}/api/app/v1/reports", json=body, headers={**headers, "Idempotency-Key": "k-1"}, timeout=TIMEOUT
    )
    assert sent.status_code == 201, sent.text
    number = sent.json()["case_number"]
    again = requests.post(
        f"{live_server}/api/app/v1/reports", json=body, headers={**headers, "Idempotency-Key": "k-1"}, timeout=TIMEOUT
    )
    assert again.status_code == 200 and again.json() == {**sent.json(), "duplicate": True}
    run_worker()
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        assert case.channel == "app" and case.reporter_phone == CITIZEN and case.status is CaseStatus.VERIFYING
        assert case.grid_code == "110116001001004"
        report = session.scalars(select(ReportRecord)).one()
        assert CITIZEN not in report.source_id  # the number stays out of source ids (and so out of logs)
        assert session.scalar(select(Attachment.content_type)) == "image/png"
    mine = requests.get(f"{live_server}/api/app/v1/reports", headers=headers, timeout=TIMEOUT).json()["reports"]
    assert [(r["case_number"], r["status"], r["status_text"]) for r in mine] == [(number, "verifying", "核实中")]
    # The loop runs; the citizen sees the result and rates it.
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        apply(session, case, Action.DISPATCH, actor="user:agent1", department_code="urban-management")
        apply(session, case, Action.ACCEPT, actor="user:urban")
        apply(session, case, Action.REPORT_RESULT, actor="user:urban", detail={"result": "已更换灯泡，恢复照明"})
        apply(session, case, Action.CHECK_PASS, actor="user:agent1", detail={"method": "callback"})
        apply(session, case, Action.CLOSE, actor="user:agent1")
    detail = requests.get(f"{live_server}/api/app/v1/reports/{number}?lang=en", headers=headers, timeout=TIMEOUT).json()
    assert detail["status"] == "closed" and detail["status_text"] == "Closed"
    assert detail["result"] == "已更换灯泡，恢复照明" and detail["can_rate"] is True
    assert [h["kind"] for h in detail["history"]][:2] == ["received", "queue"]
    rated = requests.post(
        f"{live_server}/api/app/v1/reports/{number}/rating", json={"satisfaction": 1}, headers=headers, timeout=TIMEOUT
    )
    assert rated.status_code == 200 and rated.json()["satisfaction"] == 1
    with runtime.db.transaction() as session:
        assert session.scalars(select(CaseEvent.kind).order_by(CaseEvent.id.desc())).first() == "rated"


def test_my_reports_include_the_numbers_other_channels_and_nobody_elses(
    runtime: Runtime, live_server: str, citizen: tuple[dict[str, str], RecordingServer]
) -> None:
    from intake import Contact, Report, submit

    headers, _ = citizen
    mine = submit(Report(channel="sms", source_id="SM1", text="噪声扰民", contact=Contact(phone=CITIZEN))).case_number
    other = submit(Report(channel="sms", source_id="SM2", text="占道经营", contact=Contact(phone="+8613900001111")))
    listed = requests.get(f"{live_server}/api/app/v1/reports", headers=headers, timeout=TIMEOUT).json()["reports"]
    assert [r["case_number"] for r in listed] == [mine]
    assert listed[0]["channel"] == "sms"
    hidden = requests.get(f"{live_server}/api/app/v1/reports/{other.case_number}", headers=headers, timeout=TIMEOUT)
    assert hidden.status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"description": ""}, "description", 400),
        ({"description": "x", "lat": 40.3}, "lon", 400),
        ({"description": "x", "lat": "north", "lon": 116.6}, "lat", 400),
        ({"description": "x", "category": "no-such-thing"}, "category", 400),
        ({"description": "x", "photos": [{"filename": "a.txt", "data_base64": "aGVsbG8="}]}, "photos", 400),
        ({"description": "x", "photos": "not a list"}, "photos", 400),
        ({"description": "x" * 2001}, "description", 400),
    ],
)
def test_malformed_reports_name_the_field(
    live_server: str, citizen: tuple[dict[str, str], RecordingServer], body: dict[str, object], field: str, status: int
) -> None:
    headers, _ = citizen
    answer = requests.post(f"{live_server}/api/app/v1/reports", json=body, headers=headers, timeout=TIMEOUT)
    assert answer.status_code == status and answer.json()["field"] == field


def test_a_body_that_is_not_json_is_refused(live_server: str, citizen: tuple[dict[str, str], RecordingServer]) -> None:
    headers, _ = citizen
    for data, content_type in ((b"{not json", "application/json"), (b"description=x", "text/plain")):
        answer = requests.post(
            f"{live_server}/api/app/v1/reports",
            data=data,
            headers={**headers, "Content-Type": content_type},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 400 and answer.json()["field"] == "body"


@pytest.mark.parametrize("data", [b"[1]", b'"13812348000"', b"5"])
def test_json_that_is_no_object_is_400_naming_the_body(
    live_server: str, citizen: tuple[dict[str, str], RecordingServer], data: bytes
) -> None:
    headers, _ = citizen
    for path in ("auth/code", "auth/verify", "reports/20250101-000001/rating", "reports"):
        answer = requests.post(
            f"{live_server}/api/app/v1/{path}",
            data=data,
            headers={**headers, "Content-Type": "application/json"},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["field"] == "body" and answer.json()["code"] == "invalid_body", path


def test_unknown_endpoint_is_a_json_404(live_server: str, citizen: tuple[dict[str, str], RecordingServer]) -> None:
    headers, _ = citizen
    answer = requests.post(f"{live_server}/api/app/v1/complaints", json={}, headers=headers, timeout=TIMEOUT)
    assert answer.status_code == 404 and answer.json()["status"] == 404


def test_page_manifest_and_service_worker_are_served(live_server: str, runtime: Runtime) -> None:
    page = requests.get(f"{live_server}/app", timeout=TIMEOUT)
    assert page.url.endswith("/app/") and page.status_code == 200
    assert '<link rel="manifest" href="/app/manifest.webmanifest">' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    manifest = requests.get(f"{live_server}/app/manifest.webmanifest", timeout=TIMEOUT)
    assert manifest.headers["Content-Type"].startswith("application/manifest+json")
    data = manifest.json()
    assert data["start_url"] == "/app/" and data["scope"] == "/app/" and data["display"] == "standalone"
    assert {icon["sizes"] for icon in data["icons"]} == {"192x192", "512x512"}
    for icon in data["icons"]:
        image = requests.get(live_server + icon["src"], timeout=TIMEOUT)
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    worker = requests.get(f"{live_server}/app/sw.js", timeout=TIMEOUT)
    assert worker.status_code == 200 and "javascript" in worker.headers["Content-Type"]
    assert worker.headers["Service-Worker-Allowed"] == "/app/"
