"""The Twilio SMS channel, driven by captured Twilio payloads over real HTTP."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import pytest
import requests
from sqlalchemy import func, select

from intake import Contact, Report, submit
from intake.cases import apply, get_case
from intake.models import Attachment, Case, CaseEvent, OptOut, OutboundMessage, ReportRecord
from intake.runtime import Runtime
from intake.states import Action, CaseStatus
from tests.conftest import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from tests.support import fixture_path, form_fixture, post_twilio, recording_server

PATH = "/channels/sms/twilio"
NUMBER = re.compile(r"\d{8}-\d{6}")


def reply_text(response_text: str) -> str:
    match = re.search(r"<Message>(.*)</Message>", response_text, re.S)
    return match.group(1) if match else ""


def count(runtime: Runtime, model: type) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_inbound_sms_opens_a_case_and_replies_with_its_number(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None]
) -> None:
    params = form_fixture("sms", "inbound_sms.txt")
    response = post_twilio(live_server, PATH, params)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    text = reply_text(response.text)
    number = NUMBER.search(text).group(0)  # type: ignore[union-attr]
    assert "已受理" in text
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        assert case.status is CaseStatus.RECEIVED
        report = session.scalar(select(ReportRecord).where(ReportRecord.case_id == case.id))
        assert report is not None
        assert report.text == "青春路12号门前井盖缺失，夜间行人容易踩空，请尽快处理。"
        assert report.contact_phone == "+8613812348000"
        assert report.raw == fixture_path("sms", "inbound_sms.txt").read_text().strip().encode()
    run_worker()
    with runtime.db.transaction() as session:
        assert get_case(session, number).status is CaseStatus.VERIFYING


def test_same_message_sid_five_times_makes_one_report(runtime: Runtime, live_server: str) -> None:
    params = form_fixture("sms", "inbound_sms.txt")
    numbers = {NUMBER.search(post_twilio(live_server, PATH, params).text).group(0) for _ in range(5)}  # type: ignore[union-attr]
    assert len(numbers) == 1
    assert count(runtime, ReportRecord) == 1
    assert count(runtime, Case) == 1


def test_later_sms_joins_the_open_case_and_new_opens_another(runtime: Runtime, live_server: str) -> None:
    first = NUMBER.search(post_twilio(live_server, PATH, form_fixture("sms", "inbound_sms.txt")).text).group(0)  # type: ignore[union-attr]
    followup = post_twilio(live_server, PATH, form_fixture("sms", "inbound_followup.txt"))
    assert first in followup.text and "已补充" in reply_text(followup.text)
    fresh = post_twilio(live_server, PATH, form_fixture("sms", "inbound_new_case.txt"))
    second = NUMBER.search(fresh.text).group(0)  # type: ignore[union-attr]
    assert second != first
    with runtime.db.transaction() as session:
        case = get_case(session, first)
        assert len(case.reports) == 2
        kinds = [event.kind for event in case.events]
        assert kinds == ["received", "report_added"]
        assert get_case(session, second).reports[0].text == "开放路路灯不亮"


def test_sms_after_the_case_is_closed_opens_a_new_case(runtime: Runtime, live_server: str) -> None:
    first = NUMBER.search(post_twilio(live_server, PATH, form_fixture("sms", "inbound_sms.txt")).text).group(0)  # type: ignore[union-attr]
    with runtime.db.transaction() as session:
        case = get_case(session, first)
        apply(session, case, Action.INVALIDATE, actor="user:agent1", reason="test message")
    followup = post_twilio(live_server, PATH, form_fixture("sms", "inbound_followup.txt"))
    assert first not in followup.text
    assert "已受理" in reply_text(followup.text)


def test_status_query_answers_only_the_reporter(runtime: Runtime, live_server: str, run_worker: Callable) -> None:
    number = NUMBER.search(post_twilio(live_server, PATH, form_fixture("sms", "inbound_sms.txt")).text).group(0)  # type: ignore[union-attr]
    run_worker()
    for body in (f"CX {number}", f"查询{number}", f"cx：{number}"):
        reply = post_twilio(
            live_server, PATH, form_fixture("sms", "status_query.txt", Body=body, MessageSid="SM" + "e6" * 16)
        )
        assert reply.status_code == 200
        assert f"诉求{number}当前状态：核实中" in reply_text(reply.text), body
    stranger = form_fixture("sms", "status_query.txt", Body=f"CX {number}", From="+8613900009999")
    assert "未找到" in reply_text(post_twilio(live_server, PATH, stranger).text)
    assert count(runtime, ReportRecord) == 1  # queries are not reports


def test_help_in_english_for_a_foreign_number(runtime: Runtime, live_server: str) -> None:
    reply = post_twilio(live_server, PATH, form_fixture("sms", "help.txt"))
    assert reply.status_code == 200
    assert "CX <number>" in reply_text(reply.text).replace("&lt;", "<").replace("&gt;", ">")


def test_chinese_text_and_emoji_survive(runtime: Runtime, live_server: str) -> None:
    params = form_fixture("sms", "inbound_sms_emoji.txt")
    assert post_twilio(live_server, PATH, params).status_code == 200
    with runtime.db.transaction() as session:
        assert session.scalar(select(ReportRecord.text)) == "Street light broken at 府前街 🚧💡 please fix"


@pytest.mark.parametrize(
    "signature",
    ["", "bm90IGEgc2lnbmF0dXJl", base64.b64encode(b"x" * 20).decode()],
    ids=["missing", "garbage", "wrong"],
)
def test_bad_signature_is_refused(runtime: Runtime, live_server: str, signature: str) -> None:
    response = post_twilio(live_server, PATH, form_fixture("sms", "inbound_sms.txt"), signature=signature)
    assert response.status_code == 403
    assert "X-Twilio-Signature" in response.headers["X-Gridline-Error"]
    assert count(runtime, ReportRecord) == 0


def test_signature_with_another_token_or_a_changed_body_is_refused(runtime: Runtime, live_server: str) -> None:
    from tests.support import twilio_signature

    params = form_fixture("sms", "inbound_sms.txt")
    forged = twilio_signature(PATH, params, token="f" * 32)
    assert post_twilio(live_server, PATH, params, signature=forged).status_code == 403
    tampered = form_fixture("sms", "inbound_sms.txt", Body="改过的内容")
    assert post_twilio(live_server, PATH, tampered, signature=twilio_signature(PATH, params)).status_code == 403
    assert count(runtime, ReportRecord) == 0


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"MessageSid": "", "SmsMessageSid": "", "SmsSid": ""}, "MessageSid"),
        ({"MessageSid": "12345"}, "MessageSid"),
        ({"From": ""}, "From"),
        ({"Body": "   "}, "Body"),
        ({"NumMedia": "two"}, "NumMedia"),
        ({"NumMedia": "1"}, "MediaUrl0"),
    ],
)
def test_malformed_payload_gets_400_naming_the_field(
    runtime: Runtime, live_server: str, change: dict[str, str], problem: str
) -> None:
    response = post_twilio(live_server, PATH, form_fixture("sms", "inbound_sms.txt", **change))
    assert response.status_code == 400
    assert problem in response.headers["X-Gridline-Error"]
    assert response.text.startswith("<?xml")


def test_non_utf8_and_wrong_content_type_are_refused(runtime: Runtime, live_server: str) -> None:
    import requests

    body = b"Body=" + "井盖".encode("gbk") + b"&MessageSid=SM" + b"a" * 32
    response = requests.post(
        live_server + PATH, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10
    )
    assert response.status_code == 400 and "UTF-8" in response.headers["X-Gridline-Error"]
    response = requests.post(live_server + PATH, json={"Body": "x"}, timeout=10)
    assert response.status_code == 415


def test_oversized_body_gets_413_twiml(runtime: Runtime, live_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    params = form_fixture("sms", "inbound_sms.txt", Body="长" * 300_000)
    response = post_twilio(live_server, PATH, params)
    assert response.status_code == 413
    assert response.text.startswith("<?xml") and "larger than" in response.headers["X-Gridline-Error"]


def test_status_callback_on_the_inbound_url_is_an_unknown_event(runtime: Runtime, live_server: str) -> None:
    response = post_twilio(live_server, PATH, form_fixture("sms", "status_callback.txt"))
    assert response.status_code == 422
    assert "status callback" in response.headers["X-Gridline-Error"]
    assert count(runtime, ReportRecord) == 0


def test_mms_photos_are_downloaded_by_the_worker_with_a_size_limit(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x01" * 2000 + b"\xff\xd9"
    monkeypatch.setattr(runtime.config.worker, "max_attachment_bytes", 50_000)
    with recording_server() as media:
        # Twilio's API is this loopback server: its host is allowed for media, and so is its address.
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", media.url)
        monkeypatch.setattr(runtime.config.worker, "attachment_allowed_private", ["127.0.0.1"])
        media.route("/2010-04-01/Accounts/", 200, jpeg, "image/jpeg")
        media.route(
            f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages/MM{'c9' * 16}/Media/ME{'2' * 32}",
            200,
            b"\x89PNG" + b"\x00" * 60_000,
            "image/png",
        )
        params = [
            (key, value.replace("https://api.twilio.com", media.url))
            for key, value in form_fixture("sms", "inbound_mms.txt")
        ]
        assert post_twilio(live_server, PATH, params).status_code == 200
        with runtime.db.transaction() as session:
            statuses = session.scalars(select(Attachment.status).order_by(Attachment.id)).all()
        assert statuses == ["pending", "pending"]  # the webhook answered before any download
        run_worker()
        auth = media.requests[0].headers["Authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == f"{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}"
    with runtime.db.transaction() as session:
        photo, big = session.scalars(select(Attachment).order_by(Attachment.id)).all()
        assert (photo.status, photo.content_type, photo.size) == ("stored", "image/jpeg", len(jpeg))
        assert big.status == "too_large" and big.sha256 is None


def test_stop_silences_outbound_sms_and_start_restores_it(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    created = fixture_path("sms", "rest_message_created.json").read_bytes()
    with recording_server() as twilio_api:
        twilio_api.route(f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json", 201, created)
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", twilio_api.url)
        number = NUMBER.search(post_twilio(live_server, PATH, form_fixture("sms", "inbound_sms.txt")).text).group(0)  # type: ignore[union-attr]
        run_worker()
        stop = post_twilio(live_server, PATH, form_fixture("sms", "stop.txt"))
        assert "已退订" in reply_text(stop.text)
        assert count(runtime, OptOut) == 1
        with runtime.db.transaction() as session:
            apply(session, get_case(session, number), Action.DISPATCH, actor="user:agent1", department_code="water")
        run_worker()
        assert twilio_api.requests == []
        with runtime.db.transaction() as session:
            assert session.scalar(select(OutboundMessage.status)) == "suppressed"
        start = post_twilio(live_server, PATH, form_fixture("sms", "start.txt"))
        assert "恢复" in reply_text(start.text)
        assert count(runtime, OptOut) == 0
        with runtime.db.transaction() as session:
            case = get_case(session, number)
            apply(session, case, Action.RETURN, actor="user:water", reason="不属于本单位职责")
            apply(session, case, Action.DISPATCH, actor="user:agent1", department_code="urban-management")
        run_worker()
        assert len(twilio_api.requests) == 1
        sent = twilio_api.requests[0]
    form = dict(__import__("urllib.parse").parse.parse_qsl(sent.body.decode()))
    assert sent.method == "POST" and form["To"] == "+8613812348000"
    assert number in form["Body"] and "已派遣" in form["Body"]
    with runtime.db.transaction() as session:
        sent_message = session.scalars(select(OutboundMessage).where(OutboundMessage.status == "sent")).one()
        assert sent_message.provider_id == "SM6f2b0c4e4d8a4b37a54a3b2f0e1c9d8a"
        kinds = session.scalars(select(CaseEvent.kind).order_by(CaseEvent.id)).all()
    assert kinds[-3:] == ["dispatch", "message_queued", "message_sent"]
    assert "message_suppressed" in kinds


def test_an_opted_out_sender_is_heard_but_not_answered(runtime: Runtime, live_server: str) -> None:
    assert post_twilio(live_server, PATH, form_fixture("sms", "stop.txt")).status_code == 200
    for name in ("inbound_sms.txt", "help.txt"):
        reply = post_twilio(live_server, PATH, form_fixture("sms", name, From="+8613812348000"))
        assert reply.status_code == 200 and reply_text(reply.text) == "", name
    with runtime.db.transaction() as session:
        assert session.scalar(select(ReportRecord.text)).startswith("青春路12号")


def test_twilio_errors_are_recorded_transient_ones_retried(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    invalid_to = fixture_path("sms", "rest_error_21211.json").read_bytes()
    with recording_server() as twilio_api:
        twilio_api.route("/2010-04-01/", 503, b'{"code": 20500, "message": "Internal Server Error", "status": 503}')
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", twilio_api.url)
        number = NUMBER.search(post_twilio(live_server, PATH, form_fixture("sms", "inbound_sms.txt")).text).group(0)  # type: ignore[union-attr]
        with runtime.db.transaction() as session:
            apply(session, get_case(session, number), Action.INVALIDATE, actor="user:agent1", reason="spam")
        run_worker()
        assert len(twilio_api.requests) == 1
        with runtime.db.transaction() as session:
            message = session.scalars(select(OutboundMessage)).one()
            assert message.status == "queued" and message.attempts == 1
            assert "20500" in (message.error or "")
        from rq import Queue
        from rq.registry import ScheduledJobRegistry

        # RQ holds the job for its next try (Retry with back-off), so nothing is lost.
        assert ScheduledJobRegistry(queue=Queue("outbound", connection=runtime.redis)).count == 1
        # A bad number is final: no retry can fix it.
        twilio_api.route("/2010-04-01/", 400, invalid_to)
        from intake.outbound import deliver

        assert deliver(message.id) == "failed"
    with runtime.db.transaction() as session:
        message = session.scalars(select(OutboundMessage)).one()
        assert message.status == "failed" and "21211" in (message.error or "")


def test_logs_carry_no_phone_numbers_or_message_text(
    runtime: Runtime,
    live_server: str,
    run_worker: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    created = fixture_path("sms", "rest_message_created.json").read_bytes()
    with recording_server() as twilio_api:
        twilio_api.route("/2010-04-01/", 201, created)
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", twilio_api.url)
        reply = post_twilio(live_server, PATH, form_fixture("sms", "inbound_sms.txt"))
        number = NUMBER.search(reply.text).group(0)  # type: ignore[union-attr]
        post_twilio(live_server, PATH, form_fixture("sms", "inbound_new_case.txt", Body="新 电话13812348000的邻居"))
        run_worker()
        with runtime.db.transaction() as session:
            apply(session, get_case(session, number), Action.DISPATCH, actor="user:agent1", department_code="water")
        run_worker()
        assert len(twilio_api.requests) == 1
    logged = "\n".join(record.getMessage() for record in caplog.records)
    # Random ids (RQ workers and jobs, Twilio SIDs), local ports and job durations may hold any
    # digits, "8000" too: none of them is a phone's.
    logged = re.sub(
        r"(?i)\b(?:[A-Z]{2})?[0-9a-f]{32}\b"  # worker ids, Twilio SIDs
        r"|\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b"  # job ids
        r"|127\.0\.0\.1:\d+"  # the test servers' ports
        r"|\b\d+:\d\d:\d\d\.\d+s?",  # RQ's job durations
        "<random>",
        logged,
    )
    assert "stored report sms/" in logged  # the logs do say what happened
    for secret in ("13812348000", "8000", "井盖", "邻居", "已派遣"):
        assert secret not in logged.replace(number, ""), secret


STATUS_PATH = "/channels/sms/twilio/status"


def test_delivery_receipts_update_the_message_in_order(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    created = fixture_path("sms", "rest_message_created.json").read_bytes()
    with recording_server() as twilio_api:
        twilio_api.route("/2010-04-01/", 201, created)
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", twilio_api.url)
        number = NUMBER.search(post_twilio(live_server, PATH, form_fixture("sms", "inbound_sms.txt")).text).group(0)  # type: ignore[union-attr]
        with runtime.db.transaction() as session:
            apply(session, get_case(session, number), Action.INVALIDATE, actor="user:agent1", reason="重复")
        run_worker()
        sent = dict(__import__("urllib.parse").parse.parse_qsl(twilio_api.requests[0].body.decode()))
    assert sent["StatusCallback"] == "https://hotline.gridline.test" + STATUS_PATH
    # Twilio's callbacks arrive out of order: "delivered" before "sent".
    for name in ("status_delivered.txt", "status_sent.txt"):
        assert post_twilio(live_server, STATUS_PATH, form_fixture("sms", name)).status_code == 204
    with runtime.db.transaction() as session:
        assert session.scalar(select(OutboundMessage.status)) == "delivered"
        kinds = session.scalars(select(CaseEvent.kind).order_by(CaseEvent.id)).all()
    assert kinds[-1] == "message_delivered" and kinds.count("message_delivered") == 1


def test_undelivered_receipt_keeps_the_error_code(runtime: Runtime, live_server: str) -> None:
    from intake.models import OutboundMessage as Message

    number = NUMBER.search(post_twilio(live_server, PATH, form_fixture("sms", "inbound_sms.txt")).text).group(0)  # type: ignore[union-attr]
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        session.add(
            Message(
                case_id=case.id,
                channel="sms",
                to="+8613812348000",
                body="x",
                status="sent",
                provider_id="SM6f2b0c4e4d8a4b37a54a3b2f0e1c9d8a",
            )
        )
    assert post_twilio(live_server, STATUS_PATH, form_fixture("sms", "status_undelivered.txt")).status_code == 204
    with runtime.db.transaction() as session:
        message = session.scalars(select(Message)).one()
        assert (message.status, message.error) == ("undelivered", "provider error 30005")


def test_status_callback_refuses_bad_signature_malformed_and_unknown_status(runtime: Runtime, live_server: str) -> None:
    params = form_fixture("sms", "status_delivered.txt")
    assert post_twilio(live_server, STATUS_PATH, params, signature="bm9wZQ==").status_code == 403
    malformed = post_twilio(
        live_server, STATUS_PATH, form_fixture("sms", "status_delivered.txt", MessageSid="x", SmsSid="")
    )
    assert malformed.status_code == 400 and "MessageSid" in malformed.headers["X-Gridline-Error"]
    unknown = post_twilio(
        live_server, STATUS_PATH, form_fixture("sms", "status_delivered.txt", MessageStatus="teleported", SmsStatus="")
    )
    assert unknown.status_code == 422 and "teleported" in unknown.headers["X-Gridline-Error"]
    # A receipt for a message that is not ours is acknowledged (Twilio would retry) and changes nothing.
    assert post_twilio(live_server, STATUS_PATH, params).status_code == 204


def test_a_merged_reporter_follows_the_surviving_case(runtime: Runtime, live_server: str, run_worker: Callable) -> None:
    """A citizen whose case was merged into another one (reported first by someone else, on the website)
    adds to, asks about and tracks the surviving case."""
    web = submit(Report(channel="web", source_id="w-1", text="青春路井盖丢了", contact=Contact(phone="+8613900001111")))
    mine = NUMBER.search(post_twilio(live_server, PATH, form_fixture("sms", "inbound_sms.txt")).text).group(0)  # type: ignore[union-attr]
    run_worker()
    with runtime.db.transaction() as session:
        apply(
            session,
            get_case(session, mine),
            Action.MERGE,
            actor="user:agent1",
            merged_into=get_case(session, web.case_number),
        )
    followup = post_twilio(live_server, PATH, form_fixture("sms", "inbound_followup.txt"))
    assert web.case_number in reply_text(followup.text) and "已补充" in reply_text(followup.text)
    query = form_fixture("sms", "status_query.txt", Body=f"CX {mine}", MessageSid="SM" + "e7" * 16)
    answer = reply_text(post_twilio(live_server, PATH, query).text)
    assert f"诉求{mine}已与同一问题的诉求{web.case_number}合并办理，当前状态：核实中" in answer
    tracked = requests.get(
        live_server + "/api/v1/track", params={"number": mine, "phone_last4": "8000", "lang": "en"}, timeout=10
    ).json()
    assert (tracked["status"], tracked["merged_into"]) == ("verifying", web.case_number)
    assert {item["kind"] for item in tracked["history"]} >= {"received", "queue"}
    with runtime.db.transaction() as session:
        assert len(get_case(session, web.case_number).reports) == 2  # the web report and the follow-up
        assert len(get_case(session, mine).reports) == 1
