"""The Twilio Voice driver over real HTTP: signed webhooks in Twilio's form format through every menu path."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import func, select, update

import ivr.settings
from intake import Contact, Report, submit
from intake.models import Attachment, Case, ReportRecord, User, utcnow
from intake.processing import QUEUE_EVENTS_CHANNEL, process_received
from intake.runtime import Runtime
from ivr.calls import open_callbacks, queue_snapshot
from ivr.models import CallbackRequest, CallRecord
from tests.conftest import PUBLIC_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
from tests.support import fixture_path, form_fixture, post_twilio, recording_server, twilio_signature

CALL_SID = "CA5f9a3c2e7b1d4f6a8c0e2b4d6f8a1c3e"
AGENT_LEG = "CA9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a"
CALLER = "+8613812348000"
HOTLINE = "+861069612345"
BASE = "/ivr/twilio"


@dataclass
class Twiml:
    """A TwiML answer, read."""

    root: ET.Element
    text: str

    @classmethod
    def of(cls, response: requests.Response) -> Twiml:
        assert response.status_code == 200, (response.status_code, response.headers.get("X-Gridline-Error"))
        assert response.headers["Content-Type"].startswith("application/xml")
        return cls(ET.fromstring(response.text), response.text)

    def says(self) -> list[str]:
        return [say.text or "" for say in self.root.iter("Say")]

    def languages(self) -> set[str]:
        return {say.get("language", "") for say in self.root.iter("Say")}

    def verbs(self) -> list[str]:
        return [child.tag for child in self.root]

    def find(self, tag: str) -> ET.Element:
        element = self.root.find(f".//{tag}")
        assert element is not None, f"no <{tag}> in {self.text}"
        return element

    def gather_path(self) -> str:
        return path_of(self.find("Gather").get("action", ""))

    def redirect_path(self) -> str:
        return path_of(self.find("Redirect").text or "")


def path_of(url: str) -> str:
    assert url.startswith(PUBLIC_URL), url
    return url.removeprefix(PUBLIC_URL)


def form(name: str, drop: tuple[str, ...] = (), **replace: str) -> list[tuple[str, str]]:
    """A captured form with some values replaced, some fields added (``Digits`` after a <Gather>) or dropped."""
    pairs = [(key, value) for key, value in form_fixture("hotline", name, **replace) if key not in drop]
    present = {key for key, _ in pairs}
    return pairs + [(key, value) for key, value in replace.items() if key not in present and key not in drop]


def caller_form(name: str, **replace: str) -> list[tuple[str, str]]:
    """A fixture as the given caller sent it (Twilio sends the number as From and as Caller)."""
    if "From" in replace:
        replace.setdefault("Caller", replace["From"])
    return form(name, **replace)


@dataclass
class Phone:
    """One caller on the line: posts what Twilio would post as the call goes on."""

    base: str
    sid: str = CALL_SID
    number: str = CALLER
    last: Twiml | None = None

    def post(self, path: str, name: str, drop: tuple[str, ...] = (), **replace: str) -> requests.Response:
        values = {"CallSid": self.sid, "From": self.number, "Caller": self.number, **replace}
        return post_twilio(self.base, path, form(name, drop, **values))

    def dial(self) -> Twiml:
        self.last = Twiml.of(self.post(f"{BASE}/voice", "incoming_call.txt"))
        return self.last

    def press(self, digits: str) -> Twiml:
        assert self.last is not None
        self.last = Twiml.of(self.post(self.last.gather_path(), "gather_digits.txt", Digits=digits))
        return self.last

    def keys(self, *presses: str) -> Twiml:
        for digits in presses:
            self.press(digits)
        assert self.last is not None
        return self.last

    def silence(self) -> Twiml:
        assert self.last is not None
        self.last = Twiml.of(self.post(self.last.redirect_path(), "gather_digits.txt", drop=("Digits",)))
        return self.last

    def wait(self, position: int = 1) -> Twiml:
        return Twiml.of(self.post(f"{BASE}/wait", "queue_wait.txt", QueuePosition=str(position)))

    def wait_keys(self, digits: str) -> Twiml:
        return Twiml.of(self.post(f"{BASE}/wait/keys", "queue_wait.txt", Digits=digits))

    def queue_result(self, result: str, queue_time: str = "45") -> requests.Response:
        return self.post(f"{BASE}/queue-result", "queue_result.txt", QueueResult=result, QueueTime=queue_time)

    def status(self, status: str = "completed", sequence: str = "0") -> requests.Response:
        return self.post(f"{BASE}/status", "call_status_completed.txt", CallStatus=status, SequenceNumber=sequence)


@pytest.fixture
def phone(live_server: str) -> Phone:
    return Phone(live_server)


@pytest.fixture
def ivr_config(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Replace the ``ivr:`` section for one test."""

    def apply(**sections: Any) -> None:
        section = {"twilio": {"number": HOTLINE, "agent_endpoint": "client:{username}"}}
        for name, values in sections.items():
            section.setdefault(name, {}).update(values)
        monkeypatch.setattr(runtime.config, "ivr", section)
        monkeypatch.setattr(ivr.settings, "_cache", {})

    apply()
    return apply


@pytest.fixture
def agents(make_user: Callable[..., str], runtime: Runtime) -> Callable[..., dict[str, int]]:
    """Agents with their console presence set: ``agents(agent1="available", agent2="offline")``."""

    def create(**presence: str) -> dict[str, int]:
        ids = {}
        for index, (name, value) in enumerate(presence.items()):
            make_user(name, "agent")
            with runtime.db.transaction() as session:
                user = session.scalars(select(User).where(User.username == name)).one()
                user.presence = value
                user.presence_at = utcnow().replace(microsecond=index)
                ids[name] = user.id
        return ids

    return create


def call_record(runtime: Runtime, sid: str = CALL_SID) -> CallRecord:
    with runtime.db.transaction() as session:
        record = session.scalars(select(CallRecord).where(CallRecord.provider_call_id == sid)).one()
        session.expunge(record)
        return record


def presence_of(runtime: Runtime, user_id: int) -> str:
    with runtime.db.transaction() as session:
        return session.scalars(select(User.presence).where(User.id == user_id)).one()


def count(runtime: Runtime, model: type) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def twilio_api(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Twilio's REST API, answering "create call" with a recorded response."""
    created = fixture_path("hotline", "rest_call_created.json").read_bytes()
    with recording_server() as api:
        api.route(f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Calls.json", 201, created)
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", api.url)
        yield api


def rest_form(recorded: Any) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(recorded.body.decode())


def sms_case(runtime: Runtime, phone: str = CALLER, text: str = "青春路12号井盖缺失") -> str:
    result = submit(Report(channel="sms", source_id=f"SM{time.time_ns():032x}"[:34], text=text, contact=Contact(phone)))
    process_received()
    return result.case_number


# --- the menu ------------------------------------------------------------------------------------


def test_incoming_call_is_greeted_in_chinese_and_english_and_recorded(runtime: Runtime, phone: Phone) -> None:
    twiml = phone.dial()
    assert twiml.verbs() == ["Gather", "Redirect"]
    gather = twiml.find("Gather")
    assert (gather.get("input"), gather.get("numDigits"), gather.get("timeout")) == ("dtmf", "1", "5")
    assert gather.get("action") == f"{PUBLIC_URL}{BASE}/step?s=0"
    assert twiml.find("Redirect").text == f"{PUBLIC_URL}{BASE}/step?s=0&event=timeout"
    assert twiml.says()[0] == "您好，欢迎致电怀柔区12345市民服务热线。" and "For English, press 2." in twiml.says()
    assert twiml.languages() == {"zh-CN", "en-US"}
    record = call_record(runtime)
    assert (record.provider, record.caller_phone, record.called_number, record.status) == (
        "twilio",
        CALLER,
        HOTLINE,
        "ringing",
    )
    # Twilio retrying its first request gets the same answer and makes no second record.
    assert Twiml.of(phone.post(f"{BASE}/voice", "incoming_call.txt")).text == twiml.text
    assert count(runtime, CallRecord) == 1


def test_english_caller_hears_the_menu_in_english(runtime: Runtime, phone: Phone) -> None:
    phone.dial()
    twiml = phone.press("2")
    assert twiml.languages() == {"en-US"}
    assert twiml.says() == [ivr.settings.DEFAULT_PROMPTS["main"]["en"]]
    assert twiml.gather_path() == f"{BASE}/step?s=1"


def test_wrong_keys_say_invalid_and_repeat_and_silence_falls_back_to_a_voice_message(
    runtime: Runtime, phone: Phone
) -> None:
    phone.dial()
    for _ in range(3):
        twiml = phone.silence()
    assert twiml.says() == [ivr.settings.DEFAULT_PROMPTS["main"]["zh"]]  # default language after 2 repeats
    twiml = phone.press("7")
    assert twiml.says() == ["您的输入有误。", ivr.settings.DEFAULT_PROMPTS["main"]["zh"]]
    phone.silence()
    twiml = phone.silence()
    record = twiml.find("Record")
    assert record.get("recordingStatusCallback") == f"{PUBLIC_URL}{BASE}/recording"
    assert (record.get("finishOnKey"), record.get("maxLength"), record.get("timeout")) == ("#", "120", "5")
    assert twiml.verbs() == ["Say", "Record", "Redirect"]
    assert call_record(runtime).menu_path == [
        "language:no_input",
        "language:no_input",
        "language:no_input",
        "lang:default",
        "main:invalid",
        "main:no_input",
        "main:no_input",
        "main:fallback",
    ]


def test_a_repeated_or_stale_step_gets_the_same_answer(runtime: Runtime, phone: Phone) -> None:
    first = phone.dial()
    pressed = Twiml.of(phone.post(first.gather_path(), "gather_digits.txt", Digits="1"))
    again = Twiml.of(phone.post(first.gather_path(), "gather_digits.txt", Digits="2"))
    assert again.text == pressed.text and "反映问题请按1" in pressed.says()[0]


# --- status of a case ----------------------------------------------------------------------------


def test_status_query_answers_the_reporter_only(runtime: Runtime, live_server: str) -> None:
    number = sms_case(runtime)
    digits = number.replace("-", "")
    reporter = Phone(live_server)
    reporter.dial()
    twiml = reporter.keys("1", "2")
    assert twiml.find("Gather").get("numDigits") == "14" and twiml.find("Gather").get("finishOnKey") == "#"
    twiml = reporter.press(digits)
    spoken = " ".join(digits[:8]) + ", " + " ".join(digits[8:])
    assert twiml.says()[0] == f"诉求{spoken}，当前状态：核实中。"
    assert twiml.says()[1] == ivr.settings.DEFAULT_PROMPTS["main"]["zh"]  # back to the main menu
    english = Phone(live_server, sid="CA" + "e" * 32)
    english.dial()
    assert english.keys("2", "2", digits).says()[0] == f"Case {spoken}: Being verified."
    stranger = Phone(live_server, sid="CA" + "b" * 32, number="+8613900009999")
    stranger.dial()
    assert stranger.keys("1", "2", digits).says()[0].startswith("未找到您名下的诉求")
    unknown = Phone(live_server, sid="CA" + "c" * 32)
    unknown.dial()
    assert unknown.keys("1", "2", "20991231999999").says()[0].startswith("未找到您名下的诉求")
    assert count(runtime, ReportRecord) == 1  # queries are not reports
    reporter.status("completed")  # the way through the menu is stored when the call ends
    assert call_record(runtime).menu_path == ["lang:zh", "main:2", "status:found"]


def test_a_case_number_of_the_wrong_length_is_refused(runtime: Runtime, phone: Phone) -> None:
    phone.dial()
    twiml = phone.keys("1", "2", "12345#")
    assert twiml.says() == ["诉求编号应为14位数字。", ivr.settings.DEFAULT_PROMPTS["case_entry"]["zh"]]


# --- the queue -----------------------------------------------------------------------------------


def test_report_a_problem_rings_a_free_agent_and_connects_them(
    runtime: Runtime,
    phone: Phone,
    live_server: str,
    ivr_config: Callable[..., None],
    agents: Callable[..., dict[str, int]],
    twilio_api: Any,
    run_worker: Callable[[], None],
) -> None:
    ids = agents(agent1="available", agent2="offline")
    agent = ids["agent1"]
    phone.dial()
    twiml = phone.keys("1", "1")
    assert twiml.says() == ["正在为您转接人工服务，请稍候。"]
    enqueue = twiml.find("Enqueue")
    assert enqueue.text == "hotline-3"
    assert enqueue.get("waitUrl") == f"{PUBLIC_URL}{BASE}/wait" and enqueue.get("waitUrlMethod") == "POST"
    assert enqueue.get("action") == f"{PUBLIC_URL}{BASE}/queue-result"
    record = call_record(runtime)
    assert (record.queue_state, record.priority, record.queue) == ("waiting", 3, "hotline")
    assert record.menu_path == ["lang:zh", "main:1", "queue:3"]

    run_worker()  # the dispatch job rings agent1 through Twilio's REST API
    [ring] = twilio_api.requests
    sent = rest_form(ring)
    assert ring.method == "POST" and sent["To"] == ["client:agent1"] and sent["From"] == [HOTLINE]
    assert sent["Url"] == [f"{PUBLIC_URL}{BASE}/agent/{agent}"]
    assert sent["StatusCallback"] == [f"{PUBLIC_URL}{BASE}/agent/{agent}/status"]
    assert sent["StatusCallbackEvent"] == ["answered", "completed"] and sent["Timeout"] == ["20"]
    auth = base64.b64decode(ring.headers["Authorization"].split()[1]).decode()
    assert auth == f"{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}"

    waiting = phone.wait(position=1)
    assert waiting.says()[0] == "您现在排在第1位。" and "预约回电请按2" in waiting.says()[1]
    assert path_of(waiting.find("Gather").get("action", "")) == f"{BASE}/wait/keys"
    assert waiting.verbs() == ["Gather", "Pause"]

    leg = Twiml.of(post_twilio(live_server, f"{BASE}/agent/{agent}", form("agent_answer.txt")))
    dial = leg.find("Dial")
    assert dial.get("action") == f"{PUBLIC_URL}{BASE}/agent/{agent}/dial" and dial.get("timeout") == "10"
    queue = leg.find("Queue")
    assert queue.text == "hotline-3" and queue.get("url") == f"{PUBLIC_URL}{BASE}/agent/{agent}/bridged"

    pubsub = runtime.redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(runtime.key(QUEUE_EVENTS_CHANNEL))
    connecting = Twiml.of(post_twilio(live_server, f"{BASE}/agent/{agent}/bridged", form("queue_dequeued.txt")))
    assert connecting.says() == ["正在为您接通话务员。"]
    record = call_record(runtime)
    assert (record.agent_id, record.wait_seconds, record.outcome, record.queue_state) == (
        agent,
        38,
        "answered",
        "answered",
    )
    assert record.answered_at is not None and record.menu_path[-1] == "agent"
    assert presence_of(runtime, agent) == "busy"
    events = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(event.get("event") == "call" for event in events):
        message = pubsub.get_message(timeout=0.5)
        if message is not None:
            events.append(json.loads(message["data"]))
    pubsub.close()
    assert {"event": "call", "user_id": agent, "call": record.id} in events

    hangup = Twiml.of(phone.queue_result("bridged", "38"))
    assert hangup.verbs() == ["Hangup"]
    assert phone.status("completed").status_code == 204
    record = call_record(runtime)
    assert (record.status, record.duration_seconds) == ("completed", 95) and record.ended_at is not None
    done = post_twilio(
        live_server, f"{BASE}/agent/{agent}/status", form("agent_status_no_answer.txt", CallStatus="completed")
    )
    assert done.status_code == 204 and presence_of(runtime, agent) == "available"
    assert queue_snapshot()["answered"] == 1


def test_the_console_pops_up_the_callers_history_and_a_draft(
    runtime: Runtime, phone: Phone, live_server: str, ivr_config: Callable[..., None], make_user: Callable[..., str]
) -> None:
    from tests.test_console import sign_in

    earlier = sms_case(runtime)
    make_user("agent1", "agent")
    browser, _response = sign_in(live_server, "agent1")  # signing in makes the agent available
    assert browser.get(f"{live_server}/console/api/calls/current", timeout=10).json() == {"current": None}
    assert requests.get(f"{live_server}/console/api/calls/current", timeout=10).status_code == 401
    with runtime.db.transaction() as session:
        agent = session.scalars(select(User.id).where(User.username == "agent1")).one()
    phone.dial()
    assert phone.keys("1", "1").find("Enqueue").text == "hotline-3"
    post_twilio(live_server, f"{BASE}/agent/{agent}/bridged", form("queue_dequeued.txt"))
    current = browser.get(f"{live_server}/console/api/calls/current", timeout=10).json()["current"]
    assert current["call"]["caller"] == "138****8000" and current["call"]["call_id"] == CALL_SID
    assert current["call"]["wait_seconds"] == 38 and current["call"]["priority"] == 3
    assert [item["number"] for item in current["history"]] == [earlier]
    assert current["history"][0]["status"] == "verifying" and current["history"][0]["summary"].startswith("青春路")
    assert current["open_case"] == earlier
    assert current["draft"] == {
        "channel": "hotline",
        "source_id": CALL_SID,
        "caller": "138****8000",
        "priority": 3,
        "joins": earlier,
        "text": "",
    }
    assert "13812348000" not in json.dumps(current)
    phone.status("completed")
    assert browser.get(f"{live_server}/console/api/calls/current", timeout=10).json() == {"current": None}


def test_no_agent_available_offers_a_message_or_a_call_back_at_once(runtime: Runtime, phone: Phone) -> None:
    phone.dial()
    twiml = phone.keys("1", "1")
    assert "Enqueue" not in twiml.verbs()
    assert twiml.says() == ["现在没有空闲的话务员。", "留言请按1；预约回电请按2。"]
    twiml = phone.press("2")
    assert twiml.says() == [ivr.settings.DEFAULT_PROMPTS["callback_ok"]["zh"], "感谢您的来电，再见。"]
    assert twiml.verbs()[-1] == "Hangup"
    record = call_record(runtime)
    assert (record.outcome, record.queue_state) == ("callback", None)
    assert record.menu_path == ["lang:zh", "main:1", "queue:3", "queue:no_agents", "message:2", "callback"]
    [task] = open_callbacks()
    assert (task["reason"], task["caller"], task["call_id"]) == ("requested", "138****8000", CALL_SID)


def test_operator_goes_to_the_urgent_queue_which_agents_take_first(
    runtime: Runtime, live_server: str, ivr_config: Callable[..., None], agents: Callable[..., dict[str, int]]
) -> None:
    agent = agents(agent1="available")["agent1"]
    first = Phone(live_server, sid="CA" + "d" * 32, number="+8613700001111")
    first.dial()
    assert first.keys("1", "1").find("Enqueue").text == "hotline-3"
    operator = Phone(live_server)
    operator.dial()
    assert operator.keys("1", "0").find("Enqueue").text == "hotline-2"
    leg = Twiml.of(post_twilio(live_server, f"{BASE}/agent/{agent}", form("agent_answer.txt")))
    assert leg.find("Queue").text == "hotline-2"


def test_an_agent_who_lets_it_ring_goes_on_break_and_the_next_agent_is_rung(
    runtime: Runtime,
    phone: Phone,
    live_server: str,
    ivr_config: Callable[..., None],
    agents: Callable[..., dict[str, int]],
    twilio_api: Any,
    run_worker: Callable[[], None],
) -> None:
    ids = agents(agent1="available", agent2="available")
    phone.dial()
    phone.keys("1", "1")
    run_worker()
    assert [rest_form(request)["To"] for request in twilio_api.requests] == [["client:agent1"]]
    missed = post_twilio(live_server, f"{BASE}/agent/{ids['agent1']}/status", form("agent_status_no_answer.txt"))
    assert missed.status_code == 204
    assert presence_of(runtime, ids["agent1"]) == "break"
    run_worker()
    assert [rest_form(request)["To"] for request in twilio_api.requests] == [["client:agent1"], ["client:agent2"]]
    # Twilio repeating the callback changes nothing, even after agent1 made themselves available again.
    with runtime.db.transaction() as session:
        session.execute(update(User).where(User.id == ids["agent1"]).values(presence="available"))
    post_twilio(live_server, f"{BASE}/agent/{ids['agent1']}/status", form("agent_status_no_answer.txt"))
    assert presence_of(runtime, ids["agent1"]) == "available"


def test_hanging_up_in_the_queue_is_counted_and_becomes_a_call_back_task(
    runtime: Runtime, live_server: str, ivr_config: Callable[..., None], agents: Callable[..., dict[str, int]]
) -> None:
    agents(agent1="available")
    queued = Phone(live_server)
    queued.dial()
    queued.keys("1", "1")
    enqueued_at = call_record(runtime).enqueued_at
    assert queued.queue_result("hangup", "45").status_code == 200
    record = call_record(runtime)
    assert (record.queue_state, record.outcome, record.wait_seconds) == ("abandoned", "abandoned", 45)
    # ... and its final status arriving afterwards adds nothing.
    queued.status("completed")
    queued.status("completed")
    # The other order: the final status first, then the queue's result.
    other = Phone(live_server, sid="CA" + "a" * 32, number="+8613700002222")
    other.dial()
    other.keys("1", "1")
    other.status("completed")
    assert call_record(runtime, other.sid).queue_state == "abandoned"
    other.queue_result("hangup", "50")
    with runtime.db.transaction() as session:
        tasks = session.scalars(select(CallbackRequest).order_by(CallbackRequest.queued_at)).all()
        assert [(task.reason, task.phone) for task in tasks] == [
            ("abandoned", CALLER),
            ("abandoned", "+8613700002222"),
        ]
        assert tasks[0].queued_at == enqueued_at  # the caller's place in the queue
    assert queue_snapshot()["abandoned"] == 2 and queue_snapshot()["open_callbacks"] == 2


def test_leaving_the_queue_for_a_call_back_keeps_the_callers_place(
    runtime: Runtime, live_server: str, ivr_config: Callable[..., None], agents: Callable[..., dict[str, int]]
) -> None:
    agents(agent1="available")
    waiting = Phone(live_server)
    waiting.dial()
    waiting.keys("1", "1")
    # A later caller asks for a call back straight from the menu ...
    later = Phone(live_server, sid="CA" + "f" * 32, number="+8613700003333")
    later.dial()
    later.keys("1", "3", "2")
    # ... then the first caller gives up waiting and asks for one too: they stay ahead.
    assert waiting.wait_keys("2").verbs() == ["Leave"]
    twiml = Twiml.of(waiting.queue_result("leave", "61"))
    assert twiml.says()[0] == ivr.settings.DEFAULT_PROMPTS["callback_ok"]["zh"] and twiml.verbs()[-1] == "Hangup"
    record = call_record(runtime)
    assert (record.queue_state, record.outcome, record.wait_seconds) == ("left", "callback", 61)
    assert [(task["call_id"], task["reason"]) for task in open_callbacks()] == [
        (CALL_SID, "queue"),
        (later.sid, "requested"),
    ]


def test_leaving_the_queue_for_a_voice_message(
    runtime: Runtime, phone: Phone, ivr_config: Callable[..., None], agents: Callable[..., dict[str, int]]
) -> None:
    agents(agent1="available")
    phone.dial()
    phone.keys("1", "1")
    wrong = phone.wait_keys("5")
    assert wrong.says() == ["您的输入有误。"] and wrong.verbs() == ["Say", "Pause"]
    assert phone.wait_keys("1").verbs() == ["Leave"]
    twiml = Twiml.of(phone.queue_result("leave", "20"))
    assert twiml.find("Record") is not None
    assert (call_record(runtime).queue_state, call_record(runtime).outcome) == ("left", "voicemail")


# --- voice messages ------------------------------------------------------------------------------


def leave_message(runtime: Runtime, phone: Phone, media_url: str) -> requests.Response:
    """The recording's action, then Twilio's recording status callback pointing at ``media_url``."""
    assert phone.last is not None
    record_action = phone.post(record_path(phone.last), "record_action.txt")
    thanks = Twiml.of(record_action)
    assert thanks.says() == ["您的留言已收到，我们会尽快处理。", "感谢您的来电，再见。"]
    assert thanks.verbs()[-1] == "Hangup"
    params = [
        (key, value.replace("https://api.twilio.com", media_url)) for key, value in form("recording_completed.txt")
    ]
    return post_twilio(phone.base, f"{BASE}/recording", params)


def record_path(twiml: Twiml) -> str:
    return path_of(twiml.find("Record").get("action", ""))


def test_voice_message_becomes_a_report_whose_recording_the_worker_downloads(
    runtime: Runtime, phone: Phone, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    audio = b"ID3\x04\x00" + b"\x00" * 3000
    phone.dial()
    twiml = phone.keys("1", "3", "1")
    assert twiml.says() == [ivr.settings.DEFAULT_PROMPTS["record"]["zh"]]  # no open case: no question
    with recording_server() as media:
        media.route(f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Recordings/", 200, audio, "audio/mpeg")
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", media.url)
        monkeypatch.setattr(runtime.config.worker, "attachment_allowed_private", ["127.0.0.1"])
        assert leave_message(runtime, phone, media.url).status_code == 204
        with runtime.db.transaction() as session:
            report = session.scalars(select(ReportRecord)).one()
            attachment = session.scalars(select(Attachment)).one()
            assert (report.channel, report.source_id) == ("hotline", f"{CALL_SID}:RE7c3e9a1b5d2f4a6c8e0b2d4f6a8c1e3d")
            assert report.contact_phone == CALLER and report.text == "热线留言（录音14秒）"
            assert report.meta["menu_path"] == ["lang:zh", "main:3", "message:1", "voicemail"]
            assert attachment.status == "pending" and attachment.content_type == "audio/mpeg"
            assert (attachment.source_url or "").endswith("/Recordings/RE7c3e9a1b5d2f4a6c8e0b2d4f6a8c1e3d.mp3")
        run_worker()
        [download] = media.requests
    assert base64.b64decode(download.headers["Authorization"].split()[1]).decode() == (
        f"{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}"
    )
    with runtime.db.transaction() as session:
        attachment = session.scalars(select(Attachment)).one()
        assert (attachment.status, attachment.size) == ("stored", len(audio))
        case = session.get(Case, attachment.case_id)
        assert case is not None and case.channel == "hotline" and case.status.value == "verifying"
    record = call_record(runtime)
    assert (record.case_id, record.outcome) == (attachment.case_id, "voicemail")
    # Twilio repeating the callback makes no second report.
    params = [(k, v.replace("https://api.twilio.com", "http://x")) for k, v in form("recording_completed.txt")]
    assert post_twilio(phone.base, f"{BASE}/recording", params).status_code == 204
    assert count(runtime, ReportRecord) == 1


def test_voice_message_about_the_open_case_joins_it(runtime: Runtime, live_server: str) -> None:
    number = sms_case(runtime)
    about = Phone(live_server)
    about.dial()
    twiml = about.keys("1", "3", "1")
    assert twiml.says() == [ivr.settings.DEFAULT_PROMPTS["about_case"]["zh"]]
    about.press("1")
    assert leave_message(runtime, about, "https://api.twilio.com").status_code == 204
    fresh = Phone(live_server, sid="CA" + "9" * 32)
    fresh.dial()
    fresh.keys("1", "3", "1", "2")
    params = [
        (key, value.replace(CALL_SID, fresh.sid).replace("RE7c3e", "RE8d4f"))
        for key, value in form("recording_completed.txt")
    ]
    assert Twiml.of(fresh.post(record_path(fresh.last), "record_action.txt")).verbs()[-1] == "Hangup"  # type: ignore[arg-type]
    assert post_twilio(live_server, f"{BASE}/recording", params).status_code == 204
    with runtime.db.transaction() as session:
        joined = session.scalars(select(Case).where(Case.number == number)).one()
        assert [report.channel for report in joined.reports] == ["sms", "hotline"]
        assert session.scalar(select(func.count()).select_from(Case)) == 2
    assert call_record(runtime).case_id == joined.id
    assert call_record(runtime, fresh.sid).case_id != joined.id


def test_a_recording_that_is_absent_makes_no_report(runtime: Runtime, phone: Phone) -> None:
    phone.dial()
    response = post_twilio(phone.base, f"{BASE}/recording", form("recording_completed.txt", RecordingStatus="absent"))
    assert response.status_code == 204 and count(runtime, ReportRecord) == 0


# --- status callbacks ----------------------------------------------------------------------------


def test_out_of_order_and_repeated_status_callbacks_never_go_backwards(runtime: Runtime, phone: Phone) -> None:
    phone.dial()
    assert phone.status("completed", "2").status_code == 204
    ended = call_record(runtime)
    assert ended.status == "completed" and ended.duration_seconds == 95
    assert ended.ended_at is not None and ended.ended_at.isoformat().startswith("2026-11-26T07:31:12")
    for status, sequence in (("in-progress", "1"), ("ringing", "0"), ("completed", "2"), ("busy", "3")):
        assert phone.status(status, sequence).status_code == 204
    again = call_record(runtime)
    assert (again.status, again.ended_at, again.duration_seconds) == ("completed", ended.ended_at, 95)
    assert count(runtime, CallbackRequest) == 0  # never queued: nothing abandoned
    # A status for a call we never saw is acknowledged and ignored.
    stranger = Phone(phone.base, sid="CA" + "7" * 32)
    assert stranger.status("completed").status_code == 204 and count(runtime, CallRecord) == 1


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [f"{BASE}/voice", f"{BASE}/step?s=0", f"{BASE}/status", f"{BASE}/recording", f"{BASE}/agent/1/status"],
)
@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"], ids=["missing", "wrong"])
def test_bad_signature_is_refused(runtime: Runtime, live_server: str, path: str, signature: str) -> None:
    response = post_twilio(live_server, path, form("incoming_call.txt"), signature=signature)
    assert response.status_code == 403
    assert "X-Twilio-Signature" in response.headers["X-Gridline-Error"]
    assert response.text.startswith("<?xml")
    assert count(runtime, CallRecord) == 0


def test_signature_over_another_url_or_body_is_refused(runtime: Runtime, live_server: str) -> None:
    params = form("incoming_call.txt")
    other_url = twilio_signature(f"{BASE}/status", params)
    assert post_twilio(live_server, f"{BASE}/voice", params, signature=other_url).status_code == 403
    forged = twilio_signature(f"{BASE}/voice", params, token="f" * 32)
    assert post_twilio(live_server, f"{BASE}/voice", params, signature=forged).status_code == 403
    tampered = form("incoming_call.txt", From="+8613900000000")
    signed = twilio_signature(f"{BASE}/voice", params)
    assert post_twilio(live_server, f"{BASE}/voice", tampered, signature=signed).status_code == 403
    assert count(runtime, CallRecord) == 0


@pytest.mark.parametrize(
    ("path", "name", "change", "field"),
    [
        (f"{BASE}/voice", "incoming_call.txt", {"CallSid": ""}, "CallSid"),
        (f"{BASE}/voice", "incoming_call.txt", {"CallSid": "CA123"}, "CallSid"),
        (f"{BASE}/wait", "queue_wait.txt", {"QueuePosition": ""}, "QueuePosition"),
        (f"{BASE}/wait", "queue_wait.txt", {"QueuePosition": "first"}, "QueuePosition"),
        (f"{BASE}/queue-result", "queue_result.txt", {"QueueResult": ""}, "QueueResult"),
        (f"{BASE}/recording", "recording_completed.txt", {"RecordingSid": "REx"}, "RecordingSid"),
        (f"{BASE}/recording", "recording_completed.txt", {"RecordingUrl": "ftp://x"}, "RecordingUrl"),
        (f"{BASE}/status", "call_status_completed.txt", {"CallStatus": ""}, "CallStatus"),
        (f"{BASE}/status", "call_status_completed.txt", {"Timestamp": "yesterday"}, "Timestamp"),
        (f"{BASE}/status", "call_status_completed.txt", {"CallDuration": "-3"}, "CallDuration"),
        (f"{BASE}/agent/1/dial", "agent_dial_action.txt", {"DialCallStatus": ""}, "DialCallStatus"),
        (f"{BASE}/agent/1/bridged", "queue_dequeued.txt", {"DequeingCallSid": ""}, "DequeingCallSid"),
    ],
)
def test_malformed_payload_gets_400_naming_the_field(
    runtime: Runtime, live_server: str, path: str, name: str, change: dict[str, str], field: str
) -> None:
    response = post_twilio(live_server, path, form(name, **change))
    assert response.status_code == 400
    assert field in response.headers["X-Gridline-Error"]
    assert response.text.startswith("<?xml")


def test_malformed_keys_are_refused(runtime: Runtime, phone: Phone) -> None:
    twiml = phone.dial()
    response = phone.post(twiml.gather_path(), "gather_digits.txt", Digits="1<script>")
    assert response.status_code == 400 and "Digits" in response.headers["X-Gridline-Error"]
    response = phone.post(twiml.gather_path(), "gather_digits.txt", drop=("Digits",))
    assert response.status_code == 400 and "Digits" in response.headers["X-Gridline-Error"]


@pytest.mark.parametrize(
    ("path", "name", "change", "problem"),
    [
        (f"{BASE}/voice", "call_status_completed.txt", {}, "status callback"),
        (f"{BASE}/voice", "recording_completed.txt", {}, "RecordingSid"),
        (f"{BASE}/status", "call_status_completed.txt", {"CallStatus": "exploded"}, "exploded"),
        (f"{BASE}/queue-result", "queue_result.txt", {"QueueResult": "teleported"}, "teleported"),
        (f"{BASE}/recording", "recording_completed.txt", {"RecordingStatus": "lost"}, "lost"),
        (f"{BASE}/agent/1/dial", "agent_dial_action.txt", {"DialCallStatus": "maybe"}, "maybe"),
    ],
)
def test_unknown_events_get_422(
    runtime: Runtime, live_server: str, path: str, name: str, change: dict[str, str], problem: str
) -> None:
    response = post_twilio(live_server, path, form(name, **change))
    assert response.status_code == 422
    assert problem in response.headers["X-Gridline-Error"]
    assert count(runtime, CallRecord) == 0


def test_wrong_content_type_and_non_utf8_are_refused(runtime: Runtime, live_server: str) -> None:
    response = requests.post(f"{live_server}{BASE}/voice", json={"CallSid": CALL_SID}, timeout=10)
    assert response.status_code == 415 and "x-www-form-urlencoded" in response.headers["X-Gridline-Error"]
    body = b"CallSid=" + CALL_SID.encode() + b"&From=" + "井盖".encode("gbk")
    response = requests.post(
        f"{live_server}{BASE}/voice",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 400 and "UTF-8" in response.headers["X-Gridline-Error"]


def test_unknown_agent_is_refused(runtime: Runtime, live_server: str) -> None:
    response = post_twilio(live_server, f"{BASE}/agent/999", form("agent_answer.txt"))
    assert response.status_code == 404 and "999" in response.headers["X-Gridline-Error"]


def test_logs_carry_no_phone_numbers(
    runtime: Runtime,
    phone: Phone,
    ivr_config: Callable[..., None],
    agents: Callable[..., dict[str, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    agents(agent1="available")
    phone.dial()
    phone.keys("1", "1")
    phone.queue_result("hangup")
    phone.status("completed")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "abandoned" in logged and "138****8000" in logged
    assert "13812348000" not in logged and re.search(r"1\d{10}", logged) is None


def test_call_back_tasks_and_queue_figures_in_the_console(
    runtime: Runtime, phone: Phone, live_server: str, make_user: Callable[..., str]
) -> None:
    from tests.test_console import csrf_of, sign_in

    phone.dial()
    phone.keys("1", "3", "2")  # no agent is on: the caller asks for a call back
    make_user("agent1", "agent")
    make_user("boss", "supervisor")
    browser, page = sign_in(live_server, "agent1")
    [task] = browser.get(f"{live_server}/console/api/calls/callbacks", timeout=10).json()["callbacks"]
    assert (task["caller"], task["reason"]) == ("138****8000", "requested")
    done_url = f"{live_server}/console/api/calls/callbacks/{task['id']}/done"
    assert browser.post(done_url, json={"note": "已回电"}, timeout=10).status_code == 400  # no CSRF token
    headers = {"X-CSRFToken": csrf_of(page.text)}
    not_an_object = browser.post(done_url, json=["已回电"], headers=headers, timeout=10)
    assert not_an_object.status_code == 400 and "JSON object" in not_an_object.json()["error"]
    assert browser.post(done_url, json={"note": "已回电"}, headers=headers, timeout=10).json() == {"done": task["id"]}
    assert browser.post(done_url, json={}, headers=headers, timeout=10).status_code == 409
    assert browser.get(f"{live_server}/console/api/calls/callbacks", timeout=10).json() == {"callbacks": []}
    with runtime.db.transaction() as session:
        closed = session.scalars(select(CallbackRequest)).one()
        assert (closed.status, closed.note, closed.done_at is not None) == ("done", "已回电", True)
    assert browser.get(f"{live_server}/console/api/calls/queue", timeout=10).status_code == 403
    supervisor, _page = sign_in(live_server, "boss")
    figures = supervisor.get(f"{live_server}/console/api/calls/queue", timeout=10).json()
    assert (figures["calls"], figures["callback"], figures["open_callbacks"], figures["waiting"]) == (1, 1, 0, 0)
