"""One problem, many channels: a citizen's SMS, a camera alarm, a grid worker's photo report, an app report,
a mail, a partner's Open311 request and a city order about the same pile of garbage are proposed as
duplicates of each other, merged into one case, dispatched, handled, closed — and every reporter hears the
outcome through the channel they came by. All over real HTTP, with the real RQ worker; Twilio's REST API,
the city's platform and the mail server are real local servers that record what they receive.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage, Message
from email.utils import make_msgid

import pytest
import requests
from sqlalchemy import select

from agent_ui.duplicates import candidates, similarity, text_score
from channels.open311.partners import add_partner
from intake import Contact, Location, Report, submit
from intake.cases import apply, get_case
from intake.models import Case, CaseEvent
from intake.processing import process_received
from intake.runtime import Runtime
from intake.states import Action, CaseStatus
from tests.support import RecordingServer, fixture_path, form_fixture, post_twilio, recording_server
from tests.test_app_api import MESSAGES_PATH, bearer, sign_in
from tests.test_camera_common import cameras, fixture, post_generic
from tests.test_city_callbacks import verified
from tests.test_city_orders import FEEDBACK_PATH, city_config, city_time, local, order, push
from tests.test_email_inbound import Mail, ident, mail
from tests.test_grid_workers import worker_token, workers
from tests.test_loop import Person
from tests.test_open311_api import SETTINGS, get
from tests.test_open311_api import post as post_open311

__all__ = ["cameras", "mail", "worker_token", "workers"]  # fixtures shared with the channels' own tests

SMS_CITIZEN = "+8613812340001"
APP_CITIZEN = "+8613812348000"
APP_TYPED = "138 1234 8000"
WORKER_PHONE = "+8613800010001"
MAILER = "li.na@qq.com"
#: The camera HR-QH-0007 of the camera tests' registry stands here (怀柔区青春路11号).
SPOT = (40.3260, 116.6420)
SMS_TEXT = "青春路11号门口路边垃圾堆了好几天，臭气熏天，请尽快清理"
RESULT = "已清运路边垃圾并冲洗路面"


@pytest.fixture
def peer(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    """Twilio's REST API and the city's platform: one real local HTTP server recording what reaches it."""
    with recording_server() as server:
        server.route(MESSAGES_PATH, 201, fixture_path("sms", "rest_message_created.json").read_bytes())
        server.route(FEEDBACK_PATH, 200, fixture_path("city", "callback_ack.json").read_bytes())
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", server.url)
        monkeypatch.setattr(runtime.config, "city", city_config(server.url, categories={"环境卫生": "garbage"}))
        monkeypatch.setattr(runtime.config, "open311", json.loads(json.dumps(SETTINGS)))
        yield server


@pytest.fixture
def people(live_server: str, make_user: Callable[..., str], places: None) -> dict[str, Person]:
    make_user("agent1", "agent")
    make_user("agent2", "agent")
    make_user("urban1", "department", department="urban-management")
    return {name: Person(live_server, name) for name in ("agent1", "agent2", "urban1")}


def sms_bodies(server: RecordingServer) -> list[dict[str, str]]:
    """The SMS the worker sent through Twilio's REST API (the server also plays the city's platform)."""
    return [
        dict(urllib.parse.parse_qsl(request.body.decode()))
        for request in server.requests
        if request.path == MESSAGES_PATH
    ]


def sms_to(server: RecordingServer, phone: str) -> list[str]:
    return [sms["Body"] for sms in sms_bodies(server) if sms.get("To") == phone]


def city_callbacks(server: RecordingServer) -> list[dict[str, object]]:
    return [verified(request) for request in server.requests if request.path == FEEDBACK_PATH]


def a_mail(subject: str, body: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"李娜 <{MAILER}>"
    message["To"] = "12345@huairou.example.gov.cn"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="qq.com")
    message["Date"] = "Thu, 26 Nov 2026 09:20:00 +0800"
    message.set_content(body)
    return message.as_bytes()


def plain_text(message: Message) -> str:
    parts = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    return "".join(
        part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")  # type: ignore[union-attr]
        for part in parts
    )


def next_case(agent: Person) -> str:
    claimed = agent.http.post(f"{agent.base}/console/api/next", headers=agent.headers, timeout=10)
    assert claimed.status_code == 200, claimed.text
    return str(claimed.json()["number"])


def proposed(agent: Person, number: str, lang: str = "zh") -> list[dict[str, object]]:
    answer = agent.get(f"/console/api/cases/{number}/candidates?lang={lang}")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["candidates"])


def number_of(runtime: Runtime, channel: str) -> str:
    with runtime.db.transaction() as session:
        return str(session.scalars(select(Case.number).where(Case.channel == channel)).one())


def test_the_same_problem_from_seven_channels_is_one_case_and_everyone_hears_the_outcome(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    people: dict[str, Person],
    peer: RecordingServer,
    mail: Mail,
    cameras: object,
    worker_token: str,
) -> None:
    agent1, agent2, urban = people["agent1"], people["agent2"], people["urban1"]
    app_token = bearer(sign_in(live_server, "/api/app/v1", APP_TYPED, APP_CITIZEN, peer, run_worker)["token"])

    # 1. A citizen's SMS comes first: no point, no category. The agent places it and names the problem.
    sms = form_fixture("sms", "inbound_sms.txt", Body=SMS_TEXT, From=SMS_CITIZEN, MessageSid="SM" + "c1" * 16)
    assert post_twilio(live_server, "/channels/sms/twilio", sms).status_code == 200
    run_worker()
    survivor = next_case(agent1)
    moved = agent1.act(survivor, "update", {"category": "garbage", "lat": SPOT[0] - 0.0001, "lon": SPOT[1] - 0.0002})
    assert moved.status_code == 200, moved.text

    # 2. The same garbage through five more channels.
    alarm = post_generic(live_server, fixture("generic/garbage.json"), cameras.secrets["ai-platform"])  # type: ignore[attr-defined]
    assert alarm.status_code == 200, alarm.text
    grid = {"description": "垃圾堆积", "category": "garbage", "lat": SPOT[0] - 0.0002, "lon": SPOT[1] - 0.0003}
    sent = requests.post(
        f"{live_server}/api/v1/grid/reports",
        json={**grid, "client_id": str(uuid.uuid4())},
        headers=bearer(worker_token),
        timeout=10,
    )
    assert sent.status_code == 201, sent.text
    app = {"description": "青春路11号路边垃圾好几天没人清理了", "lat": SPOT[0] + 0.0001, "lon": SPOT[1]}
    sent = requests.post(
        f"{live_server}/api/app/v1/reports", json={**app, "client_id": str(uuid.uuid4())}, headers=app_token, timeout=10
    )
    assert sent.status_code == 201, sent.text
    assert mail.send(a_mail("青春路11号垃圾没人清理", "青春路11号门口路边垃圾堆了好几天，臭味很大，请尽快清理。")) == {}
    with runtime.db.transaction() as session:
        key = add_partner(session, "fixmystreet")
    request_form = [
        ("api_key", key),
        ("jurisdiction_id", "huairou.gov.cn"),
        ("service_code", "003"),
        ("description", "青春路11号路侧有垃圾堆放"),
        ("lat", str(SPOT[0] + 0.0002)),
        ("long", str(SPOT[1] + 0.0001)),
        ("email", "wang.fang@example.com"),
    ]
    filed = post_open311(live_server, request_form)
    assert filed.status_code in (200, 201), filed.text
    run_worker()
    run_worker()
    numbers = {channel: number_of(runtime, channel) for channel in ("camera", "grid", "app", "email", "partner")}

    # 3. The agent holding the SMS case is offered every one of them, whatever its text says.
    found = {c["number"]: c for c in proposed(agent1, survivor)}
    assert set(numbers.values()) <= found.keys()
    assert found[numbers["camera"]]["place"] == "near" and found[numbers["camera"]]["category"] == "same"
    # The camera's machine-written text hardly resembles the citizen's: proposed for its place and kind.
    assert found[numbers["camera"]]["similarity"] < 0.25
    assert found[numbers["grid"]]["similarity"] >= 0.25  # four characters, all of them in the citizen's text
    assert {c["channel_label"] for c in found.values()} >= {"探头巡查", "网格员上报", "社管通App", "电子邮件"}

    # 4. Whoever takes each duplicate finds the SMS case among its proposals and merges it there.
    for _ in numbers:
        number = next_case(agent2)
        assert survivor in [c["number"] for c in proposed(agent2, number)], number
        merged = agent2.act(number, "merge", {"into": survivor})
        assert merged.status_code == 200, merged.text

    # 5. The surviving case shows who reported what, through which channel, masked.
    page = agent1.get(f"/console/cases/{survivor}").text
    for label in ("短信", "探头巡查", "网格员上报", "社管通App", "电子邮件", "平台推送"):
        assert f'<span class="channel">{label}</span>' in page, label
    assert "138****0001" in page and "138****8000" in page and "l***@qq.com" in page
    assert "王建国 HR0001" in page and "HR-QH-0007" in page and SMS_CITIZEN not in page and MAILER not in page
    for number in numbers.values():
        assert f">{number}</a>" in page  # "from case ..." beside each merged report
    english = agent1.get(f"/console/cases/{survivor}?lang=en").text
    for label in ("SMS", "Grid workers", "Citizen app", "Email", "Partner platforms"):
        assert f'<span class="channel">{label}</span>' in english, label
    with runtime.db.transaction() as session:
        case = get_case(session, survivor)
        merged_in = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "merged_in")
        ).all()
        assert {event.detail["from_channel"] for event in merged_in} == {"camera", "grid", "app", "email", "partner"}
        for number in numbers.values():
            duplicate = get_case(session, number)
            assert duplicate.status is CaseStatus.MERGED and duplicate.merged_into_id == case.id

    # 6. Dispatch, sign for it: the city sends the same problem as an order now, and the agent merges it too.
    dispatched = agent1.act(survivor, "dispatch", {"department": "urban-management", "override_reason": "城管负责"})
    assert dispatched.status_code == 200, dispatched.text
    assert urban.act(survivor, "sign").status_code == 200
    body = order(
        "order_push.json",
        peer.url,
        workordercode="SJ20261126000777",
        scene="环境卫生",
        workordercontent="市民反映：怀柔区泉河街道青春路11号门口路边垃圾堆积多日，请尽快清理。",
        place="怀柔区泉河街道青春路11号",
        dispatchtime=city_time(local()),
        processlimited=local(5).date().isoformat(),
        attachments="",
    )
    pushed = push(live_server, body)
    assert pushed.status_code == 200, pushed.text
    city_number = pushed.json()["resultData"]["casenumber"]
    run_worker()
    assert next_case(agent2) == city_number
    assert survivor in [c["number"] for c in proposed(agent2, city_number)]
    assert agent2.act(city_number, "merge", {"into": survivor}).status_code == 200
    run_worker()
    # The city hears the signing it missed by joining late, from the surviving case.
    [accepted] = city_callbacks(peer)
    assert accepted["event"] == "accept" and accepted["casenumber"] == survivor
    assert accepted["workordercode"] == "SJ20261126000777" and accepted["disposaldeptid"] == "urban-management"

    # 7. Result, check, close.
    assert urban.act(survivor, "result", {"note": RESULT}).json()["status"] == "handled"
    assert agent1.act(survivor, "check", {"passed": True, "method": "callback"}).json()["status"] == "checked"
    assert agent1.act(survivor, "close", {"note": "回访确认"}).json()["status"] == "closed"
    run_worker()

    # SMS: the citizens (SMS and app) heard the merge, the dispatch and the result with the question.
    for phone in (SMS_CITIZEN, APP_CITIZEN):
        bodies = sms_to(peer, phone)
        assert any(f"诉求{survivor}状态更新：已派遣" in b for b in bodies), bodies
        closing = [b for b in bodies if "已办结" in b]
        assert len(closing) == 1 and RESULT in closing[0] and "1满意" in closing[0] and survivor in closing[0]
    assert any(numbers["app"] in b and survivor in b and "合并办理" in b for b in sms_to(peer, APP_CITIZEN))
    # Internal reporters are not texted, and nobody but the citizens is asked how satisfied they are.
    assert sms_to(peer, WORKER_PHONE) == []
    asked = {sms["To"] for sms in sms_bodies(peer) if "1满意" in sms["Body"]}
    assert asked == {SMS_CITIZEN, APP_CITIZEN}

    # Mail: the merge, the dispatch and the close with the result, in the mailer's own thread.
    to_mailer = [m for m in mail.answers() if m["To"] == MAILER]
    texts = [plain_text(m) for m in to_mailer]
    assert any(survivor in text and "合并办理" in text for text in texts)
    assert any(RESULT in text for text in texts)
    assert all(ident(m["In-Reply-To"]) for m in to_mailer[1:])

    # The app: the report shows the surviving case's status and result, and can be rated.
    mine = requests.get(f"{live_server}/api/app/v1/reports", headers=app_token, timeout=10).json()["reports"]
    [shown] = [r for r in mine if r["case_number"] == numbers["app"]]
    assert (shown["merged_into"], shown["status"], shown["result"], shown["can_rate"]) == (
        survivor,
        "closed",
        RESULT,
        True,
    )

    # Open311: the partner's request reports the surviving case's progress.
    [request_view] = get(live_server, f"requests/{numbers['partner']}.json").json()
    assert request_view["status"] == "closed"
    assert survivor in request_view["status_notes"] and RESULT in request_view["status_notes"]
    listed = get(live_server, "requests.json", service_request_id=numbers["partner"]).json()
    assert [(r["service_request_id"], r["status"]) for r in listed] == [(numbers["partner"], "closed")]
    with runtime.db.transaction() as session:
        closed_at = get_case(session, survivor).closed_at
    assert (
        closed_at is not None
        and request_view["updated_datetime"][:16] == closed_at.astimezone(local().tzinfo).isoformat()[:16]
    )

    # The city: the result, from the surviving case, for its order.
    events = [(c["event"], c["workordercode"], c["casenumber"]) for c in city_callbacks(peer)]
    assert events == [("accept", "SJ20261126000777", survivor), ("result", "SJ20261126000777", survivor)]

    # The grid worker's list: the surviving case's outcome.
    reports = requests.get(f"{live_server}/api/v1/grid/reports", headers=bearer(worker_token), timeout=10).json()
    [grid_view] = reports["reports"]
    assert (grid_view["case_number"], grid_view["merged_into"], grid_view["status"], grid_view["result"]) == (
        numbers["grid"],
        survivor,
        "closed",
        RESULT,
    )


# --- the proposals' scoring ---------------------------------------------------------------------


def open_case(
    runtime: Runtime,
    channel: str,
    text: str,
    *,
    point: tuple[float, float] | None = None,
    category: str | None = None,
    phone: str | None = None,
) -> str:
    number = submit(
        Report(
            channel=channel,
            source_id=str(uuid.uuid4()),
            text=text,
            contact=Contact(phone=phone),
            location=Location(lat=point[0], lon=point[1]) if point else Location(),
            category=category,
        )
    ).case_number
    process_received()
    return number


def test_machine_text_and_short_text_are_proposed_by_place_and_kind_not_by_wording(
    runtime: Runtime, places: None
) -> None:
    camera_text = (
        "【探头巡查】暴露垃圾：测试点位11\n摄像机 HR-QH-0007（怀柔区青春路11号）\n首次报警：2026-11-26 09:14:03"
    )
    assert similarity(SMS_TEXT, camera_text) < 0.25  # the wording alone would never propose it
    assert text_score("井盖缺失", "青春路12号门前井盖缺失，夜间行人容易踩空") > 0.5  # short text: contained
    assert text_score("垃圾", SMS_TEXT) == similarity("垃圾", SMS_TEXT)  # one word is not enough
    held = open_case(runtime, "camera", camera_text, point=SPOT, category="garbage")
    near_same = open_case(runtime, "grid", "垃圾堆积", point=(SPOT[0] + 0.001, SPOT[1]), category="garbage")
    near_related = open_case(
        runtime, "sms", "路边有人倒渣土", point=(SPOT[0], SPOT[1] + 0.001), category="construction-waste"
    )
    near_unrelated = open_case(runtime, "sms", "路灯坏了", point=(SPOT[0], SPOT[1] + 0.0005), category="street-light")
    near_vague = open_case(runtime, "sms", "有点问题", point=(SPOT[0], SPOT[1] + 0.0005), category="other")
    far_same = open_case(runtime, "grid", "垃圾堆积", point=(SPOT[0] + 0.02, SPOT[1]), category="garbage")
    old_closed = open_case(runtime, "grid", "垃圾堆积", point=SPOT, category="garbage")
    with runtime.db.transaction() as session:
        apply(session, get_case(session, old_closed), Action.INVALIDATE, actor="user:x", reason="test")
    found = candidates(held)
    numbers = [c.number for c in found]
    assert numbers[:2] == [near_same, near_related]  # the same kind first, then the related kind
    assert found[0].place == "near" and found[0].category == "same" and found[0].channel == "grid"
    assert found[1].category == "related" and "相近类别" in found[1].reasons
    for left_out in (near_unrelated, near_vague, far_same, old_closed):
        assert left_out not in numbers
    # The grid worker's report without a point lies in its cell: proposed by the cell.
    with runtime.db.transaction() as session:
        camera_cell = get_case(session, held).grid_code
    assert camera_cell
    in_cell = open_case(runtime, "city", "市级派单：垃圾清运", category="garbage")
    with runtime.db.transaction() as session:
        get_case(session, in_cell).grid_code = camera_cell
    by_cell = {c.number: c for c in candidates(in_cell, "en")}
    assert by_cell[held].place == "cell" and "same grid cell" in by_cell[held].reasons
    assert by_cell[held].channel_label  # a label for people, in the page language


def test_a_chain_of_merges_stays_one_level_deep_and_leaders_follow_the_survivor(
    runtime: Runtime, live_server: str, make_user: Callable[..., str], places: None
) -> None:
    from channels.leader.models import LeaderAssignment
    from intake.models import User

    first = open_case(runtime, "sms", SMS_TEXT, point=SPOT, phone=SMS_CITIZEN)
    middle = open_case(runtime, "leader", "青春路11号垃圾，请尽快处理", point=SPOT)
    last = open_case(runtime, "web", "青春路11号垃圾成堆", point=SPOT, phone="+8613900002222")
    make_user("leader1", "leader")
    with runtime.db.transaction() as session:
        leader = session.scalars(select(User).where(User.username == "leader1")).one()
        session.add(
            LeaderAssignment(case_id=get_case(session, middle).id, leader_id=leader.id, instruction="尽快", priority=1)
        )
    with runtime.db.transaction() as session:
        apply(session, get_case(session, first), Action.MERGE, actor="user:a", merged_into=get_case(session, middle))
    with runtime.db.transaction() as session:
        event = apply(
            session, get_case(session, middle), Action.MERGE, actor="user:a", merged_into=get_case(session, last)
        )
        assert event.detail["carried"] == [first]
    with runtime.db.transaction() as session:
        survivor = get_case(session, last)
        assert get_case(session, first).merged_into_id == survivor.id  # carried along, not left behind
        assert survivor.priority == 1  # the leader's mark passed on
        kinds = session.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == get_case(session, first).id).order_by(CaseEvent.id)
        ).all()
        assert kinds[-1] == "merge_moved"
    leader = Person(live_server, "leader1")
    rows = leader.get("/console/api/leader/assignments").json()["assignments"]
    assert [(r["case_number"], r["assigned_case"]) for r in rows] == [(last, middle)]
    followed = leader.http.get(f"{live_server}/leader/cases/{middle}", timeout=10, allow_redirects=True)
    assert followed.status_code == 200 and followed.url.endswith(f"/leader/cases/{last}")
    assert SMS_TEXT in followed.text and first in followed.text  # every report, the duplicates' too
    marks = leader.get("/console/api/leader/marks").json()["marks"]  # the queue's 领导指派 badges
    assert list(marks) == [last] and marks[last]["priority"] == 1
