"""Grid workers over real HTTP: the register (CSV import), SMS-code sign-in and device tokens, reports
from the phone (JSON and the page's multipart), and check tasks (核查) from the console to the worker
and back onto the case."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from channels.grid.models import GridCheckTask, GridWorker, GridWorkerToken
from channels.grid.workers import WorkerImportError, import_workers, issue_token
from intake import Contact, Location, Report, submit
from intake.cases import apply, get_case
from intake.models import Attachment, CaseEvent, OutboundMessage, ReportRecord
from intake.processing import process_received
from intake.runtime import Runtime
from intake.states import Action, CaseStatus
from tests.support import RecordingServer, fixture_path
from tests.test_app_api import bearer, sign_in, sms_sent, twilio_sms
from tests.test_console import csrf_of
from tests.test_console import sign_in as console_sign_in
from tests.test_web_channel import png_bytes

WORKER_PHONE = "+8613800010001"  # HR0001, cell 110116001001004 (Quanhe, around 40.3225, 116.6392)
WORKER_CELL = "110116001001004"
TIMEOUT = 10


@pytest.fixture
def workers(runtime: Runtime, places: None) -> None:
    with runtime.db.transaction() as session:
        import_workers(session, fixture_path("grid", "workers.csv"))


@pytest.fixture
def worker_token(runtime: Runtime, workers: None) -> str:
    with runtime.db.transaction() as session:
        worker = session.scalars(select(GridWorker).where(GridWorker.code == "HR0001")).one()
        return issue_token(session, worker, "test phone")


@pytest.fixture
def twilio(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    with twilio_sms(runtime, monkeypatch) as server:
        yield server


def report_fixture() -> dict[str, object]:
    return json.loads(fixture_path("grid", "report.json").read_text(encoding="utf-8"))


# --- the register -----------------------------------------------------------------------------


def test_import_creates_updates_and_reads_excel_gb18030(runtime: Runtime, places: None) -> None:
    with runtime.db.transaction() as session:
        first = import_workers(session, fixture_path("grid", "workers.csv"))
        excel = import_workers(session, fixture_path("grid", "workers_excel_gb18030.csv"))
        again = import_workers(session, fixture_path("grid", "workers.csv"))
        workers = {w.code: w for w in session.scalars(select(GridWorker))}
    assert (first.created, excel.created, again.unchanged) == (3, 2, 3)
    assert workers["HR0002"].phone == "+8613800010002"  # spaces in the number are fine
    assert workers["HR0102"].name == "陈静" and workers["HR0102"].active
    assert workers["HR0001"].grid_code == WORKER_CELL


def test_import_is_all_or_nothing_and_names_every_bad_line(runtime: Runtime, places: None, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,name,phone,grid_code\n"
        "HR1,好人,13800020001,110116001001001\n"
        "HR2,,13800020002,110116001001001\n"
        "HR3,电话错,12345,110116001001001\n"
        "HR4,网格错,13800020004,110116999999999\n"
        "HR1,重复,13800020005,110116001001001\n"
        "HR6,同号,13800020001,110116001001001\n",
        encoding="utf-8",
    )
    with pytest.raises(WorkerImportError) as caught, runtime.db.transaction() as session:
        import_workers(session, bad)
    lines = [where for where, _ in caught.value.problems]
    assert lines == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert "no such grid cell" in str(caught.value) and "also worker HR1's" in str(caught.value)
    with runtime.db.transaction() as session:
        assert session.scalars(select(GridWorker)).all() == []


def test_retiring_a_worker_stops_their_token(
    runtime: Runtime, live_server: str, worker_token: str, tmp_path: Path
) -> None:
    assert (
        requests.get(f"{live_server}/api/v1/grid/me", headers=bearer(worker_token), timeout=TIMEOUT).status_code == 200
    )
    retire = tmp_path / "retire.csv"
    retire.write_text(
        "code,name,phone,grid_code,active\nHR0001,王建国,13800010001,110116001001004,0\n", encoding="utf-8"
    )
    with runtime.db.transaction() as session:
        assert import_workers(session, retire).updated == 1
    answer = requests.get(f"{live_server}/api/v1/grid/me", headers=bearer(worker_token), timeout=TIMEOUT)
    assert answer.status_code == 401 and "no longer active" in answer.json()["error"]


def test_cli_imports_and_issues_a_token(runtime: Runtime, backend: str, places: None, tmp_path: Path) -> None:
    if backend != "embedded":
        pytest.skip("the CLI is exercised once, on the embedded backend's database file")
    env = {
        "GRIDLINE_DATABASE__URL": runtime.config.database_url,
        "GRIDLINE_REDIS__URL": runtime.redis_url,
        "PATH": "/usr/bin",
    }
    run = [sys.executable, "-m", "intake.cli", "--log-level", "WARNING", "grid-workers"]
    imported = subprocess.run(
        [*run, "import", str(fixture_path("grid", "workers.csv"))], env=env, capture_output=True, text=True, timeout=60
    )
    assert imported.returncode == 0, imported.stderr
    assert "3 created" in imported.stdout
    token = subprocess.run([*run, "token", "HR0002"], env=env, capture_output=True, text=True, timeout=60)
    assert token.returncode == 0 and token.stdout.startswith("gw_")
    unknown = subprocess.run([*run, "token", "NOPE"], env=env, capture_output=True, text=True, timeout=60)
    assert unknown.returncode != 0 and "no active grid worker NOPE" in unknown.stderr


# --- sign-in ----------------------------------------------------------------------------------


def test_sms_code_sign_in_for_a_registered_worker_only(
    runtime: Runtime, live_server: str, workers: None, twilio: RecordingServer, run_worker: Callable[[], None]
) -> None:
    answer = sign_in(live_server, "/api/v1/grid", "138 0001 0001", WORKER_PHONE, twilio, run_worker)
    assert answer["worker"] == {"code": "HR0001", "name": "王建国", "grid_code": WORKER_CELL, "phone": "138****0001"}
    assert "网格" in sms_sent(twilio)[0]["Body"]
    me = requests.get(f"{live_server}/api/v1/grid/me", headers=bearer(answer["token"]), timeout=TIMEOUT).json()
    assert me["code"] == "HR0001" and me["open_tasks"] == 0
    with runtime.db.transaction() as session:
        token = session.scalars(select(GridWorkerToken)).one()
        assert token.label == "sms" and token.expires_at is not None
    # A number that is not a worker's gets the same answer, and no SMS.
    stranger = requests.post(f"{live_server}/api/v1/grid/auth/code", json={"phone": "13900009999"}, timeout=TIMEOUT)
    assert stranger.status_code == 202
    run_worker()
    assert [sms["To"] for sms in sms_sent(twilio)] == [WORKER_PHONE]
    refused = requests.post(
        f"{live_server}/api/v1/grid/auth/verify", json={"phone": "13900009999", "code": "123456"}, timeout=TIMEOUT
    )
    assert refused.status_code == 401


@pytest.mark.parametrize("body", [b"[1]", b'"13800010001"', b"5", b"{", b""])
@pytest.mark.parametrize("step", ["code", "verify"])
def test_a_sign_in_body_that_is_no_json_object_is_400_naming_it(
    live_server: str, workers: None, step: str, body: bytes
) -> None:
    answer = requests.post(
        f"{live_server}/api/v1/grid/auth/{step}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 400, answer.text
    # Not JSON at all reads as no fields (the phone is missing); JSON that is no object names the body.
    assert answer.json()["field"] == ("body" if body[:1] in (b"[", b'"', b"5") else "phone")


def test_unknown_endpoint_is_a_json_404(live_server: str, worker_token: str) -> None:
    answer = requests.post(f"{live_server}/api/v1/grid/events", json={}, headers=bearer(worker_token), timeout=TIMEOUT)
    assert answer.status_code == 404 and answer.json()["status"] == 404


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer gw_not-a-token", "Token abc"])
def test_bad_or_missing_token_is_refused(live_server: str, workers: None, header: str) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in (("get", "/api/v1/grid/tasks"), ("post", "/api/v1/grid/reports")):
        answer = getattr(requests, method)(f"{live_server}{path}", headers=headers, json={}, timeout=TIMEOUT)
        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"] == "Bearer"


# --- reports ------------------------------------------------------------------------------------


def test_json_report_with_gps_and_photo_becomes_a_grid_case(
    runtime: Runtime, live_server: str, worker_token: str, run_worker: Callable[[], None]
) -> None:
    body = report_fixture()
    sent = requests.post(f"{live_server}/api/v1/grid/reports", json=body, headers=bearer(worker_token), timeout=TIMEOUT)
    assert sent.status_code == 201, sent.text
    number = sent.json()["case_number"]
    # The phone retries (its answer was lost): the same client_id is the same report.
    again = requests.post(
        f"{live_server}/api/v1/grid/reports", json=body, headers=bearer(worker_token), timeout=TIMEOUT
    )
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["case_number"] == number
    run_worker()
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        assert (case.channel, case.status, case.category) == ("grid", CaseStatus.VERIFYING, "manhole-cover")
        assert case.grid_code == WORKER_CELL and case.reporter_phone is None
        report = session.scalars(select(ReportRecord)).one()
        assert report.source_id == "HR0001:6d1f4b2e-3c55-4a8e-9f0b-2b7e1c9a0d11"
        assert report.contact_name == "王建国" and report.meta["grid_worker"] == "HR0001"
        assert json.loads(report.raw)["photos"] == ["IMG_20250312_091502.png"]  # bytes kept once, as attachments
        photo = session.scalars(select(Attachment)).one()
        assert (photo.filename, photo.content_type, photo.status) == ("IMG_20250312_091502.png", "image/png", "stored")
    mine = requests.get(f"{live_server}/api/v1/grid/reports", headers=bearer(worker_token), timeout=TIMEOUT).json()
    assert [(r["case_number"], r["status"]) for r in mine["reports"]] == [(number, "verifying")]


def test_page_style_multipart_report_without_gps_lies_in_the_workers_cell(
    runtime: Runtime, live_server: str, worker_token: str, run_worker: Callable[[], None]
) -> None:
    sent = requests.post(
        f"{live_server}/api/v1/grid/reports",
        data={"description": "楼道堆物堵塞消防通道", "category": "", "address": "3号楼2单元", "lat": "", "lon": ""},
        files=[("photos", ("楼道.png", png_bytes(), "image/png"))],
        headers={**bearer(worker_token), "Idempotency-Key": "page-1"},
        timeout=TIMEOUT,
    )
    assert sent.status_code == 201, sent.text
    run_worker()
    with runtime.db.transaction() as session:
        case = get_case(session, sent.json()["case_number"])
        assert case.lat is None and case.grid_code == WORKER_CELL  # the worker's own cell
        assert session.scalar(select(ReportRecord.meta))["via"] == "page"
        assert session.scalar(select(Attachment.filename)) == "楼道.png"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": ""}, "description"),
        ({"description": "x", "lat": 40.3}, "lon"),
        ({"description": "x", "lat": 95, "lon": 116.6}, "lat"),
        ({"description": "x", "lat": True, "lon": 116.6}, "lat"),
        ({"description": "x", "photos": [{"filename": "x.png", "data_base64": "***"}]}, "photos"),
        ({"description": "x", "photos": [{"filename": "x.exe", "data_base64": "TVqQAAMAAAAEAAAA"}]}, "photos"),
        ({"description": "x", "client_id": "has spaces in it"}, "client_id"),
    ],
)
def test_malformed_report_names_the_field(
    live_server: str, worker_token: str, body: dict[str, object], field: str
) -> None:
    answer = requests.post(
        f"{live_server}/api/v1/grid/reports", json=body, headers=bearer(worker_token), timeout=TIMEOUT
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field


def test_oversized_photo_is_413(
    live_server: str, worker_token: str, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.config.worker, "max_attachment_bytes", 2048)
    big = png_bytes(60, 60, (1, 2, 3)) + b"\0" * 4096
    answer = requests.post(
        f"{live_server}/api/v1/grid/reports",
        data={"description": "大照片"},
        files=[("photos", ("big.png", big, "image/png"))],
        headers=bearer(worker_token),
        timeout=TIMEOUT,
    )
    assert answer.status_code == 413 and answer.json()["field"] == "photos"


# --- check tasks (核查) --------------------------------------------------------------------------


def handled_case(runtime: Runtime, text: str = "青春路12号井盖丢失") -> str:
    number = submit(
        Report(
            channel="sms",
            source_id=text,
            text=text,
            contact=Contact(phone="+8613812348000"),
            location=Location(lat=40.3225, lon=116.6392),
        )
    ).case_number
    process_received()
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        apply(session, case, Action.DISPATCH, actor="user:agent1", department_code="water")
        apply(session, case, Action.ACCEPT, actor="user:water1")
        apply(session, case, Action.REPORT_RESULT, actor="user:water1", detail={"result": "已更换新井盖"})
    return number


class Agent:
    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.http, page = console_sign_in(base, username)
        self.headers = {"X-CSRFToken": csrf_of(page.text)}

    def post(self, path: str, body: object) -> requests.Response:
        return self.http.post(self.base + path, json=body, headers=self.headers, timeout=TIMEOUT)


def test_check_task_from_console_to_worker_and_back_onto_the_case(
    runtime: Runtime,
    live_server: str,
    worker_token: str,
    make_user: Callable[..., str],
    twilio: RecordingServer,
    run_worker: Callable[[], None],
) -> None:
    make_user("agent1", "agent")
    agent = Agent(live_server, "agent1")
    number = handled_case(runtime)
    created = agent.post(f"/console/api/cases/{number}/grid-checks", {"instruction": "请核实井盖是否已更换"})
    assert created.status_code == 201, created.text
    assert created.json()["worker"] == "HR0001"
    # One open task per case.
    assert agent.post(f"/console/api/cases/{number}/grid-checks", {}).status_code == 409
    run_worker()
    notice = [sms for sms in sms_sent(twilio) if sms["To"] == WORKER_PHONE]
    assert len(notice) == 1 and number in notice[0]["Body"] and "核查" in notice[0]["Body"]

    listed = requests.get(f"{live_server}/api/v1/grid/tasks", headers=bearer(worker_token), timeout=TIMEOUT).json()
    (task,) = listed["tasks"]
    assert task["case_number"] == number and task["status"] == "open"
    assert task["result"] == "已更换新井盖" and task["instruction"] == "请核实井盖是否已更换"
    assert task["lat"] == 40.3225

    answer = json.loads(fixture_path("grid", "answer.json").read_text(encoding="utf-8"))
    no_photo = requests.post(
        f"{live_server}/api/v1/grid/tasks/{task['id']}/answer",
        json={**answer, "photos": []},
        headers=bearer(worker_token),
        timeout=TIMEOUT,
    )
    assert no_photo.status_code == 400 and no_photo.json()["field"] == "photos"
    done = requests.post(
        f"{live_server}/api/v1/grid/tasks/{task['id']}/answer",
        json=answer,
        headers=bearer(worker_token),
        timeout=TIMEOUT,
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "answered" and done.json()["resolved"] is True
    twice = requests.post(
        f"{live_server}/api/v1/grid/tasks/{task['id']}/answer",
        json=answer,
        headers=bearer(worker_token),
        timeout=TIMEOUT,
    )
    assert twice.status_code == 409

    with runtime.db.transaction() as session:
        case = get_case(session, number)
        event = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "grid_check_answered")
        ).one()
        assert event.actor == "grid:HR0001" and event.channel == "grid"
        assert event.detail["resolved"] is True and "井盖已更换" in event.detail["note"]
        photo = session.scalars(select(Attachment).where(Attachment.event_id == event.id)).one()
        assert photo.filename == "check_20250314_101233.png" and photo.status == "stored"
        kinds = list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
        assert "grid_check_requested" in kinds and "message_queued" in kinds
    # The center sees the answer and its photo on the case page, then checks by grid worker.
    page = agent.http.get(f"{live_server}/console/cases/{number}", timeout=TIMEOUT).text
    assert 'id="grid-checks"' in page and "现场已解决" in page and "网格员核查反馈" in page
    assert f"/console/attachments/{photo.id}" in page
    image = agent.http.get(f"{live_server}/console/attachments/{photo.id}", timeout=TIMEOUT)
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    checked = agent.post(f"/console/api/cases/{number}/check", {"passed": True, "method": "grid_worker"})
    assert checked.status_code == 200 and checked.json()["status"] == "checked"
    listed = agent.http.get(f"{live_server}/console/api/cases/{number}/grid-checks", timeout=TIMEOUT).json()
    assert listed["tasks"][0]["photos"] == [photo.id]


def test_tasks_are_private_to_their_worker_and_only_for_handled_cases(
    runtime: Runtime, live_server: str, worker_token: str, make_user: Callable[..., str]
) -> None:
    make_user("agent1", "agent")
    agent = Agent(live_server, "agent1")
    with runtime.db.transaction() as session:
        other = session.scalars(select(GridWorker).where(GridWorker.code == "HR0002")).one()
        other_token = issue_token(session, other, "other phone")
    fresh = submit(Report(channel="web", source_id="fresh", text="路灯不亮")).case_number
    refused = agent.post(f"/console/api/cases/{fresh}/grid-checks", {})
    assert refused.status_code == 409 and "only a handled case" in refused.json()["error"]
    assert agent.post("/console/api/cases/20990101-000001/grid-checks", {}).status_code == 404
    number = handled_case(runtime)
    named = agent.post(f"/console/api/cases/{number}/grid-checks", {"worker": "NOBODY"})
    assert named.status_code == 400 and named.json()["field"] == "worker"
    assert agent.post(f"/console/api/cases/{number}/grid-checks", {"worker": "HR0001"}).status_code == 201
    with runtime.db.transaction() as session:
        task_id = session.scalar(select(GridCheckTask.id))
    for path in (f"/api/v1/grid/tasks/{task_id}", "/api/v1/grid/tasks/999999"):
        assert requests.get(live_server + path, headers=bearer(other_token), timeout=TIMEOUT).status_code == 404
    stolen = requests.post(
        f"{live_server}/api/v1/grid/tasks/{task_id}/answer",
        json=json.loads(fixture_path("grid", "answer.json").read_text(encoding="utf-8")),
        headers=bearer(other_token),
        timeout=TIMEOUT,
    )
    assert stolen.status_code == 404
    # Not signed in to the console: the task endpoint answers 401.
    anonymous = requests.post(f"{live_server}/console/api/cases/{number}/grid-checks", json={}, timeout=TIMEOUT)
    assert anonymous.status_code in (400, 401)
    # A malformed answer body names its problem.
    bad = requests.post(
        f"{live_server}/api/v1/grid/tasks/{task_id}/answer",
        json={"resolved": "perhaps"},
        headers=bearer(worker_token),
        timeout=TIMEOUT,
    )
    assert bad.status_code == 400 and bad.json()["field"] == "resolved"
    with runtime.db.transaction() as session:
        notices = session.scalars(select(OutboundMessage.body).where(OutboundMessage.to == WORKER_PHONE)).all()
    assert len(notices) == 1 and number in notices[0]
