"""City-level dispatch over real HTTP: signed pushes open a case, resends update it, the city's deadline
survives routing's clocks, and whatever is wrong with a push is refused with the platform's envelope."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from channels.city.models import CityOrder
from intake.cases import apply, get_case
from intake.models import Attachment, Case, CaseEvent, ReportRecord
from intake.processing import process_received
from intake.runtime import Runtime
from intake.states import Action, CaseStatus
from tests.support import RecordingServer, fixture_path, json_fixture, recording_server

SECRET = "city-shared-secret-5f0c1e7a9b"
PLATFORM = "beijing"
PATH = f"/channels/city/{PLATFORM}/orders"
FEEDBACK_PATH = "/api/district/feedback"
#: A JPEG's first bytes are enough: the worker stores what it downloads.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
CITY_FILES = "http://city-files.example"


def city_signature(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """The signature as the city computes it (written out here, not borrowed from the adapter)."""
    return hmac.new(secret.encode(), f"{method}\n{path}\n{timestamp}\n".encode() + body, hashlib.sha256).hexdigest()


def push(
    base: str,
    body: bytes,
    *,
    secret: str = SECRET,
    timestamp: str | None = None,
    path: str = PATH,
    content_type: str = "application/json;charset=UTF-8",
    signature: str | None = None,
) -> requests.Response:
    """POST a work order the way the city platform does: JSON, timestamped, signed."""
    stamp = str(int(time.time())) if timestamp is None else timestamp
    headers = {
        "Content-Type": content_type,
        "X-Timestamp": stamp,
        "X-Signature": city_signature(secret, "POST", path, stamp, body) if signature is None else signature,
    }
    return requests.post(base + path, data=body, headers=headers, timeout=10)


def order(name: str, files: str = CITY_FILES, **replace: Any) -> bytes:
    """A captured push, its attachment host pointed at ``files`` and some fields replaced."""
    data = json_fixture("city", name)
    if isinstance(data.get("attachments"), str):
        data["attachments"] = data["attachments"].replace(CITY_FILES, files)
    data.update(replace)
    return json.dumps(data, ensure_ascii=False).encode()


def local(days: float = 0, *, zone: str = "Asia/Shanghai") -> datetime:
    return (datetime.now(ZoneInfo(zone)) + timedelta(days=days)).replace(microsecond=0)


def city_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def city_config(peer_url: str, **overrides: Any) -> dict[str, Any]:
    platform = {
        "secret": SECRET,
        "callback_url": peer_url + FEEDBACK_PATH,
        "categories": {"供水": "water-supply", "路灯": "street-light"},
        "priority": 2,
        "attachment_hosts": ["127.0.0.1"],  # the test's file host (a real platform: its own file servers)
    }
    platform.update(overrides)
    return {"platforms": {PLATFORM: platform}}


@pytest.fixture
def city_peer(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    """The city's side, a real HTTP server: its file host and its feedback endpoint (and Twilio's API)."""
    with recording_server() as peer:
        peer.route("/files/", 200, JPEG, content_type="image/jpeg")
        peer.route(FEEDBACK_PATH, 200, fixture_path("city", "callback_ack.json").read_bytes())
        # Units hear of dispatches by SMS: Twilio's REST API is this peer too, so nothing leaves the machine.
        peer.route("/2010-04-01/", 201, fixture_path("sms", "rest_message_created.json").read_bytes())
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", peer.url)
        monkeypatch.setattr(runtime.config, "city", city_config(peer.url))
        # Attachments from a loopback address: allowed for the test's file host only.
        monkeypatch.setattr(runtime.config.worker, "attachment_allowed_private", ["127.0.0.1"])
        yield peer


def stored(runtime: Runtime, code: str = "SJ20250612000123") -> tuple[CityOrder, Case]:
    with runtime.db.transaction() as session:
        row = session.scalars(select(CityOrder).where(CityOrder.order_code == code)).one()
        case = session.get(Case, row.case_id)
        assert case is not None
        session.expunge_all()
    return row, case


def history(runtime: Runtime, case_id: int) -> list[CaseEvent]:
    with runtime.db.transaction() as session:
        events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))
        session.expunge_all()
    return events


def test_a_pushed_order_opens_a_case_with_the_citys_details(
    runtime: Runtime, live_server: str, city_peer: RecordingServer, run_worker: Callable[[], None]
) -> None:
    answer = push(live_server, order("order_push.json", city_peer.url))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["success"] is True and body["code"] == 10000
    assert body["resultData"]["workordercode"] == "SJ20250612000123" and body["resultData"]["updated"] is False
    row, case = stored(runtime)
    assert case.number == body["resultData"]["casenumber"] and case.channel == "city"
    assert case.category == "water-supply" and case.priority == 2
    # The area is not repeated when the place names it already.
    assert case.address == "怀柔区泉河街道青春路南口"
    assert case.description.startswith("市民来电反映") and "自来水管道破裂" in case.summary
    deadline = datetime(2025, 6, 17, 23, 59, 59, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert row.deadline == deadline and case.finish_due_at == deadline
    assert row.dispatched_at == datetime(2025, 6, 12, 9, 18, 11, tzinfo=ZoneInfo("Asia/Shanghai"))
    with runtime.db.transaction() as session:
        report = session.scalars(select(ReportRecord).where(ReportRecord.case_id == case.id)).one()
        assert report.source_id == "beijing:SJ20250612000123" and report.raw == order("order_push.json", city_peer.url)
        assert report.meta["order_code"] == "SJ20250612000123" and report.meta["city_category"] == "供水"
    # The order's pictures: a worker downloads them from the city's file host.
    run_worker()
    assert sorted(r.path for r in city_peer.requests) == [
        "/files/SJ20250612000123/1.jpg",
        "/files/SJ20250612000123/2.jpg",
    ]
    with runtime.db.transaction() as session:
        files = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()
        assert [(a.filename, a.status, a.size) for a in files] == [
            ("1.jpg", "stored", len(JPEG)),
            ("2.jpg", "stored", len(JPEG)),
        ]
        assert session.get(Case, case.id).status is CaseStatus.VERIFYING  # type: ignore[union-attr]


def test_a_resend_updates_the_order_and_the_case_instead_of_duplicating(
    runtime: Runtime, live_server: str, city_peer: RecordingServer, run_worker: Callable[[], None]
) -> None:
    assert push(live_server, order("order_push.json", city_peer.url)).status_code == 200
    # A retry of the very same push changes nothing and records nothing.
    again = push(live_server, order("order_push.json", city_peer.url))
    assert again.status_code == 200 and again.json()["resultData"]["updated"] is True
    row, case = stored(runtime)
    assert row.pushes == 2 and [e.kind for e in history(runtime, case.id)] == ["received"]

    resent = push(live_server, order("order_resend.json", city_peer.url))
    assert resent.status_code == 200 and resent.json()["resultData"]["casenumber"] == case.number
    row, case = stored(runtime)
    with runtime.db.transaction() as session:
        assert session.scalar(select(Case.id).where(Case.id != case.id)) is None  # still one case
        assert len(session.scalars(select(CityOrder)).all()) == 1
    assert row.pushes == 3 and "补充" in row.content
    assert case.description.endswith("交叉口。）") and case.address == "怀柔区泉河街道青春路与府前街交叉口"
    new_deadline = datetime(2025, 6, 20, 18, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert case.finish_due_at == new_deadline
    updated = [e for e in history(runtime, case.id) if e.kind == "city_order_updated"]
    assert len(updated) == 1
    changed = updated[0].detail["changed"]
    assert set(changed) == {"content", "address", "attachments", "deadline"}
    assert datetime.fromisoformat(changed["deadline"]["to"]) == new_deadline and changed["attachments"] == {"added": 1}
    assert updated[0].actor == "channel:city" and updated[0].channel == "city"
    # The added picture is downloaded like the first ones.
    run_worker()
    assert sorted(r.path for r in city_peer.requests)[-1] == "/files/SJ20250612000123/3.jpg"
    with runtime.db.transaction() as session:
        statuses = session.scalars(select(Attachment.status).where(Attachment.case_id == case.id)).all()
    assert statuses == ["stored"] * 3


def test_an_agents_correction_survives_the_citys_resend(
    runtime: Runtime, live_server: str, city_peer: RecordingServer
) -> None:
    assert push(live_server, order("order_push.json", city_peer.url)).status_code == 200
    _, case = stored(runtime)
    with runtime.db.transaction() as session:
        session.get(Case, case.id).address = "怀柔区青春路南口东侧（坐席核实）"  # type: ignore[union-attr]
    assert push(live_server, order("order_resend.json", city_peer.url)).status_code == 200
    _, case = stored(runtime)
    assert case.address == "怀柔区青春路南口东侧（坐席核实）"
    updated = next(e for e in history(runtime, case.id) if e.kind == "city_order_updated")
    assert updated.detail["kept_center_value"] == ["address"]


def test_the_citys_deadline_survives_dispatch_and_a_local_extension(
    runtime: Runtime, live_server: str, city_peer: RecordingServer, places: None
) -> None:
    # Dispatched now, due in ten days: routing's own finish clock (5 working days) would be earlier.
    due = local(10).replace(hour=23, minute=59, second=59)
    body = order(
        "order_push.json", city_peer.url, dispatchtime=city_time(local()), processlimited=due.date().isoformat()
    )
    assert push(live_server, body).status_code == 200
    process_received()
    _, case = stored(runtime)
    with runtime.db.transaction() as session:
        held = get_case(session, case.number)
        assert held.status is CaseStatus.VERIFYING and held.finish_due_at == due
        assert held.due_at is not None and held.due_at < due  # the agents' countdown stays
        event = apply(session, held, Action.DISPATCH, actor="user:agent1", department_code="water")
        assert held.finish_due_at == due and held.due_at == held.respond_due_at < due
        assert held.feedback_due_at is not None and held.feedback_due_at >= due
        assert datetime.fromisoformat(event.detail["city_deadline"]) == due
        apply(session, held, Action.ACCEPT, actor="user:water1")
        assert held.due_at == due
        # A supervisor's extension cannot move a deadline that is the city's to set.
        apply(session, held, Action.EXTEND, actor="user:boss", reason="同意", due_at=due + timedelta(days=5))
        assert held.finish_due_at == due and held.due_at == due


def test_a_later_deadline_from_the_city_is_an_extension(
    runtime: Runtime, live_server: str, city_peer: RecordingServer, places: None
) -> None:
    due = local(3).replace(hour=18, minute=0, second=0)
    first = order("order_push.json", city_peer.url, dispatchtime=city_time(local()), processlimited=city_time(due))
    assert push(live_server, first).status_code == 200
    process_received()
    _, case = stored(runtime)
    with runtime.db.transaction() as session:
        held = get_case(session, case.number)
        apply(session, held, Action.DISPATCH, actor="user:agent1", department_code="water")
        apply(session, held, Action.ACCEPT, actor="user:water1")
        held.extension_until = due + timedelta(days=2)  # the unit asked for two more days
    later = due + timedelta(days=2)
    resent = order("order_push.json", city_peer.url, dispatchtime=city_time(local()), processlimited=city_time(later))
    assert push(live_server, resent).status_code == 200
    _, case = stored(runtime)
    assert case.finish_due_at == later and case.due_at == later and case.extension_until is None
    kinds = [e.kind for e in history(runtime, case.id)]
    assert kinds[-2:] == ["city_order_updated", "extend"]
    extend = history(runtime, case.id)[-1]
    assert extend.actor == "channel:city" and extend.detail["reason"] == "市级平台延长处理时限"


def test_a_push_with_a_wrong_or_missing_signature_is_refused(
    runtime: Runtime, live_server: str, city_peer: RecordingServer
) -> None:
    body = order("order_push.json", city_peer.url)
    wrong_key = push(live_server, body, secret="not-the-secret")
    assert wrong_key.status_code == 403 and wrong_key.json()["success"] is False
    assert "X-Signature" in wrong_key.json()["message"]
    tampered = push(live_server, body, signature=city_signature(SECRET, "POST", PATH, str(int(time.time())), b"{}"))
    assert tampered.status_code == 403
    unsigned = requests.post(live_server + PATH, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert unsigned.status_code == 403 and "missing" in unsigned.json()["message"]
    # Signed for another path (another platform's endpoint): not valid here.
    stamp = str(int(time.time()))
    elsewhere = city_signature(SECRET, "POST", "/channels/city/tianjin/orders", stamp, body)
    assert push(live_server, body, timestamp=stamp, signature=elsewhere).status_code == 403
    with runtime.db.transaction() as session:
        assert session.scalar(select(ReportRecord.id)) is None


def test_a_stale_or_replayed_push_is_refused(runtime: Runtime, live_server: str, city_peer: RecordingServer) -> None:
    body = order("order_push.json", city_peer.url)
    stale = push(live_server, body, timestamp=str(int(time.time()) - 3600))
    assert stale.status_code == 403 and "stale" in stale.json()["message"]
    future = push(live_server, body, timestamp=str(int(time.time()) + 3600))
    assert future.status_code == 403
    # Java senders' millisecond timestamps are read as such.
    assert push(live_server, body, timestamp=str(int(time.time() * 1000))).status_code == 200


def test_a_malformed_push_is_refused(runtime: Runtime, live_server: str, city_peer: RecordingServer) -> None:
    missing = push(live_server, order("order_missing_code.json"))
    assert missing.status_code == 400 and "workordercode" in missing.json()["message"]
    not_json = push(live_server, b'{"workordercode": "SJ1", ')
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["message"]
    a_list = push(live_server, b"[]")
    assert a_list.status_code == 400
    bad_time = push(live_server, order("order_push.json", dispatchtime="yesterday"))
    assert bad_time.status_code == 400 and "dispatchtime" in bad_time.json()["message"]
    backwards = push(live_server, order("order_push.json", processlimited="2025-06-01"))
    assert backwards.status_code == 400 and "processlimited" in backwards.json()["message"]
    bad_url = push(live_server, order("order_push.json", attachments="file:///etc/passwd"))
    assert bad_url.status_code == 400 and "attachments" in bad_url.json()["message"]
    not_utf8 = push(live_server, order("order_push.json").decode().encode("gb18030"))
    assert not_utf8.status_code == 400 and "UTF-8" in not_utf8.json()["message"]
    form = push(live_server, b"workordercode=SJ1", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    with runtime.db.transaction() as session:
        assert session.scalar(select(ReportRecord.id)) is None


def test_an_unknown_kind_of_order_or_platform_is_refused(
    runtime: Runtime, live_server: str, city_peer: RecordingServer
) -> None:
    unknown_type = push(live_server, order("order_unknown_type.json"))
    assert unknown_type.status_code == 422 and "workordertype 9" in unknown_type.json()["message"]
    unknown_state = push(live_server, order("order_push.json", state=7))
    assert unknown_state.status_code == 422
    nowhere = push(live_server, order("order_push.json"), path="/channels/city/tianjin/orders")
    assert nowhere.status_code == 404 and nowhere.json()["success"] is False


def test_a_hazard_order_with_an_unmapped_scene_reaches_the_agents_unclassified(
    runtime: Runtime, live_server: str, city_peer: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.config, "city", city_config(city_peer.url, categories={}))
    assert push(live_server, order("order_hazard.json")).status_code == 200
    row, case = stored(runtime, "YH20250613000045")
    assert row.order_type == 3 and row.city_category == "路灯" and row.category is None
    assert case.category is None and case.address == "怀柔区龙山街道富乐大街北段"
    assert case.finish_due_at == datetime(2025, 6, 16, 23, 59, 59, tzinfo=ZoneInfo("Asia/Shanghai"))
