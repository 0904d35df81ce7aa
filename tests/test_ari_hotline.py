"""The hotline's configured menu (ivr.menu.Engine) driven over ARI: language, status lookup, voice message."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from intake.models import ReportRecord
from intake.runtime import Runtime
from ivr import menu
from ivr.ari.call_services import DatabaseServices
from ivr.ari.hotline_menu import HotlineMenu
from ivr.ari.menu_port import CallInfo
from ivr.ari.settings import AriSettings
from ivr.models import CallRecord
from ivr.settings import MenuSettings
from tests.ari_harness import plays, running_app, server
from tests.ari_server import AriTestServer

__all__ = ["server"]  # the fixture

CALLER = "13812348000"


class FakeServices:
    """Answers the menu's questions from memory and remembers what the call left."""

    def __init__(self, status: str | None = None) -> None:
        self.status = status
        self.log: list[tuple[str, Any]] = []

    def call_started(self, call: CallInfo) -> None:
        self.log.append(("started", call.caller_number))

    def case_status(self, call: CallInfo, case_number: str) -> str | None:
        self.log.append(("lookup", case_number))
        return self.status

    def open_case(self, call: CallInfo) -> str | None:
        return None

    def request_callback(self, call: CallInfo, reason: str) -> None:
        self.log.append(("callback", reason))

    def progress(self, call: CallInfo, state: menu.CallState) -> None:
        self.log.append(("path", list(state.path)))

    def queued(self, call: CallInfo, state: menu.CallState, queue: str, priority: int) -> None:
        self.log.append(("queued", (queue, priority)))

    def voice_message(self, call: CallInfo, state: menu.CallState, name: str, duration: int) -> None:
        self.log.append(("voice_message", name))

    def agents_available(self) -> bool:
        return True

    def agent_connected(self, call: CallInfo, user_id: int, wait_seconds: int | None) -> None:
        self.log.append(("agent", user_id))

    def left_queue(self, call: CallInfo, pending: str | None, wait_seconds: int | None) -> None:
        self.log.append(("left_queue", pending))

    def reconcile(self, live: frozenset[str], ours: frozenset[str], before: float) -> None:
        self.log.append(("reconcile", len(ours)))


def hotline(services: Any, **menu_settings: Any) -> HotlineMenu:
    return HotlineMenu(menu.Engine(MenuSettings(**menu_settings)), services)


def play_requests(server: AriTestServer, channel: str) -> list[tuple[list[str], str]]:
    requests = server.requests_to("POST /channels/{channelId}/play")
    return [(r.args["media"], r.args["lang"]) for r in requests if r.args["channelId"] == channel]


def test_language_then_voice_message(server: AriTestServer) -> None:
    services = FakeServices()
    with running_app(server, hotline(services)) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: len(plays(server, channel)) == 4, what="the language question")
        server.press(channel, "1")  # 中文
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "3")
        server.wait_for(lambda: "sound:gridline/message_menu" in plays(server, channel), what="the message menu")
        server.press(channel, "1")
        server.wait_for(lambda: app.records, what="the call to end")

    requests = play_requests(server, channel)
    # Both languages greet and ask: one playback per language run, each from its own sound folder.
    assert requests[:4] == [
        (["sound:gridline/greeting"], "zh"),
        (["sound:gridline/greeting"], "en"),
        (["sound:gridline/language"], "zh"),
        (["sound:gridline/language"], "en"),
    ]
    assert requests[4:] == [
        (["sound:gridline/main"], "zh"),
        (["sound:gridline/message_menu"], "zh"),
        (["sound:gridline/record"], "zh"),
        (["sound:gridline/record_thanks"], "zh"),
        (["sound:gridline/goodbye"], "zh"),
    ]
    (name,) = [value for kind, value in services.log if kind == "voice_message"]
    assert app.records[0].recordings == [name]
    paths = [value for kind, value in services.log if kind == "path"]
    assert paths[-1] == ["lang:zh", "main:3", "message:1", "voicemail"]


def test_case_status_lookup_plays_the_number(server: AriTestServer) -> None:
    services = FakeServices(status="verifying")
    with running_app(server, hotline(services, digit_timeout_seconds=1)) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: plays(server, channel), what="the greeting")
        server.press(channel, "2")  # English
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "2")  # status of a case
        server.wait_for(lambda: "sound:gridline/case_entry" in plays(server, channel), what="the case prompt")
        server.press(channel, "20261126000123#")
        server.wait_for(lambda: "sound:gridline/case_status" in plays(server, channel), what="the status")
        server.hang_up(channel)
        server.wait_for(lambda: app.records, what="the call to end")
    assert ("lookup", "20261126-000123") in services.log
    status = next(media for media, _ in play_requests(server, channel) if media[0] == "sound:gridline/case_status")
    assert status[:2] == ["sound:gridline/case_status", "digits:20261126000123"]
    assert all(lang == "en" for _, lang in play_requests(server, channel)[2:])


def test_voice_message_becomes_a_call_record_and_a_hotline_report(server: AriTestServer, runtime: Runtime) -> None:
    settings = AriSettings(url=server.url, username=server.username, password=server.password)
    services = DatabaseServices(settings)
    with running_app(server, hotline(services), on_call_end=services.call_ended) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: plays(server, channel), what="the greeting")
        server.press(channel, "1")
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "3")
        server.wait_for(lambda: "sound:gridline/message_menu" in plays(server, channel), what="the message menu")
        server.press(channel, "1")
        server.wait_for(lambda: app.records, what="the call to end")
    name = app.records[0].recordings[0]
    with runtime.db.transaction() as session:
        call = session.scalar(select(CallRecord).where(CallRecord.provider_call_id == channel))
        assert call is not None and call.provider == "asterisk"
        assert call.caller_phone == "+8613812348000" and call.status == "completed"
        assert call.menu_path == ["lang:zh", "main:3", "message:1", "voicemail"]
        report = session.scalar(select(ReportRecord).where(ReportRecord.source_id == f"{channel}:{name}"))
        assert report is not None and report.channel == "hotline" and call.case_id == report.case_id
    assert services.recording_url(name) == f"{server.url}/recordings/stored/{name}/file"
