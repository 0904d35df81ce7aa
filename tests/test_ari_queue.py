"""The Asterisk queue by the console's presence, through the ARI test server (every request spec-checked).

The hotline's configured menu (ivr.menu.Engine) with the database: an available agent is rung at their
endpoint and bridged, the console hears of the call; an agent who lets it ring out is hung up on and goes
on break, the next one is rung; waiting callers hear their place and can leave for a message or a call
back; callers hanging up in the queue leave a call-back task; nobody on: a message or a call back at once.
And the worker downloads a voice message left on Asterisk with the ARI user's credentials.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

import ivr.settings
from intake.models import Attachment, ReportRecord, User, utcnow
from intake.processing import QUEUE_EVENTS_CHANNEL
from intake.runtime import Runtime
from ivr import acd
from ivr.ari.agents import AgentOffer, Candidate, PresencePool
from ivr.ari.call_services import DatabaseServices
from ivr.ari.hotline_menu import HotlineMenu
from ivr.ari.settings import AriSettings
from ivr.calls import current_call_for
from ivr.menu import Engine
from ivr.models import CallbackRequest, CallRecord
from ivr.settings import MenuSettings
from tests.ari_harness import plays, running_app, server
from tests.ari_server import AriTestServer

__all__ = ["server"]  # the fixture

CALLER = "13812348000"
OTHER_CALLER = "13912349000"
#: Seconds an agent's phone rings in these tests (the hotline's default is 20).
RING_SECONDS = 0.5


# --- set-up ---------------------------------------------------------------------------------------


@pytest.fixture
def agents(make_user: Callable[..., str], runtime: Runtime) -> Callable[..., dict[str, int]]:
    """Agents with their console presence set, longest available first: ``agents(agent1="available")``."""

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


def hotline(server: AriTestServer, **menu: Any) -> tuple[HotlineMenu, DatabaseServices]:
    services = DatabaseServices(AriSettings(url=server.url, username=server.username, password=server.password))
    return HotlineMenu(Engine(MenuSettings(**menu)), services), services


def queue_app(server: AriTestServer, ring_seconds: float = RING_SECONDS, **settings: Any) -> Any:
    """The hotline's app with the console's agents, short timers."""
    engine, services = hotline(server, queue_key_seconds=1)
    values = {"dispatch_poll_seconds": 0.2, "queue_announce_seconds": 0.3, **settings}
    pool = PresencePool("PJSIP/{username}", ring_seconds=ring_seconds)
    return running_app(server, engine, services.call_ended, pool, **values)


def eventually(predicate: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
    """Poll ``predicate`` (in this thread: it may read the database) until it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def media_of(server: AriTestServer, channel: str) -> list[list[str]]:
    """The media list of every play request to ``channel``."""
    return [
        r.args["media"] for r in server.requests_to("POST /channels/{channelId}/play") if r.args["channelId"] == channel
    ]


def originated(server: AriTestServer) -> list[Any]:
    return server.requests_to("POST /channels")


def call_record(runtime: Runtime, channel: str) -> CallRecord:
    with runtime.db.transaction() as session:
        record = session.scalars(select(CallRecord).where(CallRecord.provider_call_id == channel)).one()
        session.expunge(record)
        return record


def presence_of(runtime: Runtime, user_id: int) -> str:
    with runtime.db.transaction() as session:
        return session.scalars(select(User.presence).where(User.id == user_id)).one()


def to_the_queue(server: AriTestServer, caller: str = CALLER) -> str:
    """Dial in, choose Chinese, then 1 (report a problem → an agent)."""
    channel = server.dial_in(caller)
    assert channel is not None
    server.wait_for(lambda: len(plays(server, channel)) == 4, what="the language question")
    server.press(channel, "1")
    server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
    server.press(channel, "1")
    return channel


class ConsoleEvents:
    """The live queue stream the console listens to (Redis pub/sub), read in a thread."""

    def __init__(self, runtime: Runtime) -> None:
        self._pubsub = runtime.redis.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(runtime.key(QUEUE_EVENTS_CHANNEL))
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=0.05)
            if message is not None:
                self.events.append(json.loads(message["data"]))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._pubsub.close()


@pytest.fixture
def console(runtime: Runtime) -> Iterator[ConsoleEvents]:
    events = ConsoleEvents(runtime)
    yield events
    events.close()


# --- offers by presence ---------------------------------------------------------------------------


def test_available_agent_is_rung_bridged_and_the_console_pops_the_call_up(
    server: AriTestServer, runtime: Runtime, agents: Callable[..., dict[str, int]], console: ConsoleEvents
) -> None:
    ids = agents(offline1="offline", agent1="available", break1="break")
    agent = ids["agent1"]
    with queue_app(server) as app:
        channel = to_the_queue(server)
        talk = f"{channel}-talk"
        server.wait_for(lambda: len(server.sim.bridges.get(talk, {}).get("channels", [])) == 2, what="the bridge")

        # Only the available agent was rung, at their endpoint, for this caller.
        (ring,) = originated(server)
        assert ring.args["endpoint"] == "PJSIP/agent1" and ring.args["app"] == "gridline"
        assert ring.args["appArgs"] == f"agent,{channel}" and ring.args["callerId"] == CALLER
        # Asterisk's own ring timeout is only a backstop behind ours.
        assert ring.args["timeout"] == int(RING_SECONDS) + 5
        leg = ring.args["channelId"]
        assert server.call(lambda: set(server.sim.bridges[talk]["channels"])) == {channel, leg}
        assert f"{channel}-hold" not in server.sim.bridges

        # The call is the agent's: busy, and the console hears of it and finds caller and draft.
        record = eventually(
            lambda: (r := call_record(runtime, channel)).agent_id == agent and r, "the call to be the agent's"
        )
        assert (record.outcome, record.queue_state, record.queue, record.priority) == (
            "answered",
            "answered",
            "hotline",
            3,
        )
        path = ["lang:zh", "main:1", "queue:3", "agent"]
        eventually(lambda: call_record(runtime, channel).menu_path == path, "the path to reach the agent")
        eventually(lambda: presence_of(runtime, agent) == "busy", "the agent to be busy")
        eventually(lambda: {"event": "call", "user_id": agent, "call": record.id} in console.events, "the pop-up")
        current = current_call_for(agent)
        assert current is not None and current["call"]["call_id"] == channel
        assert current["call"]["caller"] != "+8613812348000"  # masked
        assert "sound:gridline/connecting" in plays(server, channel)

        server.hang_up(leg)  # the agent ends the call
        server.wait_for(lambda: channel in server.sim.ended, what="the caller to be hung up")
        server.wait_for(lambda: app.records, what="the call record")
    (done,) = app.records
    assert done.agent == "PJSIP/agent1" and done.ended_by == "agent"
    eventually(lambda: presence_of(runtime, agent) == "available", "the agent to be available again")
    assert presence_of(runtime, ids["break1"]) == "break" and presence_of(runtime, ids["offline1"]) == "offline"
    record = call_record(runtime, channel)
    assert record.status == "completed" and record.ended_at is not None
    assert server.sim.bridges == {} and not server.sim.channels


def test_no_answer_hangs_up_the_leg_rings_the_next_agent_and_sends_the_first_on_break(
    server: AriTestServer, runtime: Runtime, agents: Callable[..., dict[str, int]], console: ConsoleEvents
) -> None:
    ids = agents(agent1="available", agent2="available")
    server.sim.agents["PJSIP/agent1"] = "no_answer"
    server.timing.agent_no_answer = 30.0  # Asterisk would let it ring: our ring time ends it
    with queue_app(server) as app:
        channel = to_the_queue(server)
        talk = f"{channel}-talk"
        server.wait_for(lambda: len(server.sim.bridges.get(talk, {}).get("channels", [])) == 2, what="the bridge")
        first, second = originated(server)
        assert [first.args["endpoint"], second.args["endpoint"]] == ["PJSIP/agent1", "PJSIP/agent2"]
        # The app itself hung up the leg that rang out, after the ring time.
        (hangup,) = [
            r
            for r in server.requests_to("DELETE /channels/{channelId}")
            if r.args["channelId"] == first.args["channelId"]
        ]
        assert hangup.at - first.at >= RING_SECONDS
        assert second.at >= hangup.at
        assert presence_of(runtime, ids["agent1"]) == "break"  # ivr.queue.missed_call_presence
        eventually(lambda: call_record(runtime, channel).agent_id == ids["agent2"], "the call to be agent2's")
        eventually(lambda: presence_of(runtime, ids["agent2"]) == "busy", "agent2 to be busy")
        eventually(lambda: any(e.get("event") == "call" for e in console.events), "the pop-up")
        assert [e["user_id"] for e in console.events if e.get("event") == "call"] == [ids["agent2"]]
        server.hang_up(channel)  # the caller ends the call
        server.wait_for(lambda: app.records, what="the call record")
    assert app.records[0].agent == "PJSIP/agent2"
    eventually(lambda: presence_of(runtime, ids["agent2"]) == "available", "agent2 to be available again")
    assert presence_of(runtime, ids["agent1"]) == "break"
    assert not server.sim.channels and not server.sim.bridges


def test_an_agent_ringing_for_another_call_is_not_rung_twice(
    server: AriTestServer, runtime: Runtime, agents: Callable[..., dict[str, int]]
) -> None:
    ids = agents(agent1="available")
    server.timing.agent_answer = 30.0  # agent1's phone rings for the first caller
    with queue_app(server, ring_seconds=10.0) as app:
        first = to_the_queue(server)
        server.wait_for(lambda: originated(server), what="agent1 to be rung")
        second = to_the_queue(server, OTHER_CALLER)
        server.wait_for(lambda: any(m[0] == "sound:gridline/queue_position" for m in media_of(server, second)), what="")
        time.sleep(0.5)  # a few dispatch rounds
        assert len(originated(server)) == 1
        # The second caller hears they are number 2.
        assert ["sound:gridline/queue_position", "number:2", "sound:gridline/queue_options"] in media_of(server, second)
        server.hang_up(first)  # the first caller gives up: agent1 is free for the second
        server.wait_for(lambda: len(originated(server)) == 2, what="agent1 to be rung for the second caller")
        assert originated(server)[1].args["appArgs"] == f"agent,{second}"
        server.hang_up(second)
        server.wait_for(lambda: len(app.records) == 2, what="both calls to end")
    assert presence_of(runtime, ids["agent1"]) == "available"  # given back, not missed
    assert not server.sim.channels and not server.sim.bridges


def test_claims_name_their_provider_so_twilios_dispatch_is_not_held_up(
    runtime: Runtime, agents: Callable[..., dict[str, int]]
) -> None:
    ids = agents(agent1="available", agent2="available")
    assert acd.claim(ids["agent1"], "asterisk") and not acd.claim(ids["agent1"], "twilio")
    # Twilio's dispatch counts only its own ringing agents against its own waiting calls.
    assert acd._ringing_count({"twilio"}) == 0 and acd._ringing_count({"asterisk"}) == 1
    pool = PresencePool("PJSIP/{username}")
    assignment = pool.assign([Candidate("call-1"), Candidate("call-2")])
    assert assignment.offers == [("call-1", AgentOffer("PJSIP/agent2", ids["agent2"]))]
    assert pool.ring_seconds() == 20  # ivr.queue.agent_ring_seconds
    pool.release(AgentOffer("PJSIP/agent1", ids["agent1"]))
    assert acd.claim(ids["agent1"], "twilio")


# --- waiting --------------------------------------------------------------------------------------


def test_waiting_callers_hear_their_place_and_1_leaves_the_queue_for_a_message(
    server: AriTestServer, runtime: Runtime, agents: Callable[..., dict[str, int]]
) -> None:
    ids = agents(agent1="available")
    assert acd.claim(ids["agent1"], "twilio")  # available, but ringing for a Twilio call: the callers wait
    with queue_app(server) as app:
        first = to_the_queue(server)
        position = ["sound:gridline/queue_position", "number:1", "sound:gridline/queue_options"]
        server.wait_for(lambda: media_of(server, first).count(position) >= 2, what="the place, announced again")
        second = to_the_queue(server, OTHER_CALLER)
        server.wait_for(
            lambda: (
                ["sound:gridline/queue_position", "number:2", "sound:gridline/queue_options"]
                in media_of(server, second)
            ),
            what="the second caller's place",
        )
        hold = f"{first}-hold"
        assert server.call(lambda: server.sim.moh.get(hold)) == "default"
        assert media_of(server, first)[-1] == position  # nothing but announcements while on hold

        server.press(first, "1")  # a message instead of waiting (on hold or during the announcement)
        server.wait_for(lambda: "sound:gridline/record" in plays(server, first), what="the record prompt")
        assert hold not in server.sim.bridges  # out of the holding bridge before recording
        server.wait_for(lambda: first in server.sim.ended, what="the first call to end")
        # The second caller moves up.
        server.wait_for(
            lambda: (
                ["sound:gridline/queue_position", "number:1", "sound:gridline/queue_options"]
                in media_of(server, second)
            ),
            what="the second caller to be number 1",
        )
        assert not originated(server)
        server.hang_up(second)
        server.wait_for(lambda: len(app.records) == 2, what="both calls to end")

    record = call_record(runtime, first)
    assert (record.queue_state, record.outcome) == ("left", "voicemail")
    assert record.menu_path[:4] == ["lang:zh", "main:1", "queue:3", "queue:leave:voicemail"]
    assert record.menu_path[-1] == "voicemail" and record.wait_seconds is not None
    with runtime.db.transaction() as session:
        report = session.scalars(select(ReportRecord).where(ReportRecord.source_id.like(f"{first}:%"))).one()
        assert report.channel == "hotline" and record.case_id == report.case_id
        # Leaving for a message is no abandoned call: no call-back task.
        assert (
            session.scalars(select(CallbackRequest).join(CallRecord).where(CallRecord.id == record.id)).first() is None
        )
    assert presence_of(runtime, ids["agent1"]) == "available"


def test_2_on_hold_asks_for_a_call_back_and_keeps_the_callers_place(
    server: AriTestServer, runtime: Runtime, agents: Callable[..., dict[str, int]]
) -> None:
    ids = agents(agent1="available")
    assert acd.claim(ids["agent1"], "twilio")
    with queue_app(server, queue_announce_seconds=30.0) as app:
        channel = to_the_queue(server)
        options = ["sound:gridline/queue_position", "number:1", "sound:gridline/queue_options"]
        server.wait_for(lambda: options in media_of(server, channel), what="the place and the options")
        time.sleep(1.3)  # the announcement's keys time out: the caller is on hold, with music
        server.press(channel, "2")
        server.wait_for(lambda: "sound:gridline/callback_ok" in plays(server, channel), what="the call-back prompt")
        server.wait_for(lambda: app.records, what="the call to end")
    assert app.records[0].path[-2:] == ["hold-key:2", "left-queue"]
    record = call_record(runtime, channel)
    assert (record.queue_state, record.outcome) == ("left", "callback")
    assert record.menu_path[-2:] == ["queue:leave:callback", "callback"]
    with runtime.db.transaction() as session:
        task = session.scalars(select(CallbackRequest).where(CallbackRequest.call_id == record.id)).one()
        assert task.reason == "queue" and task.queued_at == record.enqueued_at  # the place kept
    assert f"{channel}-hold" not in server.sim.bridges


def test_hanging_up_in_the_queue_is_abandoned_and_becomes_a_call_back_task(
    server: AriTestServer, runtime: Runtime, agents: Callable[..., dict[str, int]]
) -> None:
    ids = agents(agent1="available")
    server.timing.agent_answer = 30.0  # agent1's phone rings while the caller gives up
    with queue_app(server, ring_seconds=10.0) as app:
        channel = to_the_queue(server)
        server.wait_for(lambda: originated(server), what="agent1 to be rung")
        leg = originated(server)[0].args["channelId"]
        server.hang_up(channel)
        server.wait_for(lambda: app.records, what="the call record")
        server.wait_for(lambda: not server.sim.channels and not server.sim.bridges, what="leg and bridge released")
    assert leg in [r.args["channelId"] for r in server.requests_to("DELETE /channels/{channelId}")]
    record = call_record(runtime, channel)
    assert (record.status, record.queue_state, record.outcome) == ("completed", "abandoned", "abandoned")
    assert record.menu_path[-1] == "queue:abandoned" and record.wait_seconds is not None
    with runtime.db.transaction() as session:
        task = session.scalars(select(CallbackRequest).where(CallbackRequest.call_id == record.id)).one()
        assert (task.reason, task.status, task.phone) == ("abandoned", "open", "+8613812348000")
    # The agent was only rung: no fault of theirs, free again.
    assert presence_of(runtime, ids["agent1"]) == "available"
    assert not runtime.redis.exists(runtime.key("ivr", "ringing", str(ids["agent1"])))


def test_no_agent_on_offers_a_message_or_a_call_back_at_once(
    server: AriTestServer, runtime: Runtime, agents: Callable[..., dict[str, int]]
) -> None:
    agents(agent1="offline", agent2="break")
    with queue_app(server) as app:
        channel = to_the_queue(server)
        server.wait_for(lambda: "sound:gridline/no_agents" in plays(server, channel), what="the message menu")
        server.press(channel, "2")
        server.wait_for(lambda: app.records, what="the call to end")
    assert media_of(server, channel)[5] == ["sound:gridline/no_agents", "sound:gridline/message_menu"]
    assert "sound:gridline/queue_enter" not in plays(server, channel)  # no "please hold"
    assert not server.requests_to("POST /bridges") and not originated(server)
    record = call_record(runtime, channel)
    assert record.menu_path == ["lang:zh", "main:1", "queue:3", "queue:no_agents", "message:2", "callback"]
    assert record.queue_state is None and record.outcome == "callback"
    with runtime.db.transaction() as session:
        task = session.scalars(select(CallbackRequest).where(CallbackRequest.call_id == record.id)).one()
        assert task.reason == "requested"


# --- voice messages: the worker fetches them from Asterisk ------------------------------------------


def test_worker_downloads_a_voice_message_from_asterisk_with_the_ari_credentials(
    server: AriTestServer, runtime: Runtime, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    ari = {"url": server.url, "username": server.username, "password": server.password}
    monkeypatch.setattr(runtime.config, "ivr", {"ari": ari})
    monkeypatch.setattr(ivr.settings, "_cache", {})
    engine, services = hotline(server)
    with running_app(server, engine, services.call_ended) as app:
        channel = server.dial_in(CALLER)
        assert channel is not None
        server.wait_for(lambda: plays(server, channel), what="the greeting")
        server.press(channel, "1")
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "3")
        server.wait_for(lambda: "sound:gridline/message_menu" in plays(server, channel), what="the message menu")
        server.press(channel, "1")
        server.wait_for(lambda: app.records, what="the call to end")
    name = app.records[0].recordings[0]
    with runtime.db.transaction() as session:
        attachment = session.scalars(select(Attachment)).one()
        assert attachment.status == "pending" and attachment.content_type == "audio/wav"
        assert attachment.source_url == f"{server.url}/recordings/stored/{name}/file"

    run_worker()

    (download,) = server.requests_to("GET /recordings/stored/{recordingName}/file")
    assert download.args["recordingName"] == name
    audio = server.call(lambda: server.sim.stored[name])
    with runtime.db.transaction() as session:
        attachment = session.scalars(select(Attachment)).one()
        assert (attachment.status, attachment.size, attachment.error) == ("stored", len(audio), None)
        report = session.get(ReportRecord, attachment.report_id)
        assert report is not None and report.source_id == f"{channel}:{name}"
    blob = requests.get(
        f"{server.url}/recordings/stored/{name}/file", auth=(server.username, server.password), timeout=5
    ).content
    assert blob == audio and audio[:4] == b"RIFF"


def test_ari_credentials_go_to_the_configured_asterisk_only(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from channels.hotline.media import media_auth

    ari = {"url": "http://pbx.example:8088/ari", "username": "gridline", "password": "pw"}
    monkeypatch.setattr(runtime.config, "ivr", {"ari": ari})
    monkeypatch.setattr(ivr.settings, "_cache", {})
    auth = media_auth("http://pbx.example:8088/ari/recordings/stored/gridline-1-2/file")
    assert auth is not None and (auth.username, auth.password) == ("gridline", "pw")
    header = requests.Request("GET", "http://pbx.example:8088/", auth=auth).prepare().headers["Authorization"]
    assert base64.b64decode(header.split()[1]) == b"gridline:pw"
    for url in (
        "http://other.example:8088/ari/recordings/stored/x/file",  # another host
        "http://pbx.example:8089/ari/recordings/stored/x/file",  # another port
        "https://pbx.example:8088/ari/recordings/stored/x/file",  # another scheme
        "http://pbx.example:8088/ari/channels",  # not a recording
        "http://pbx.example:8088/ari/recordings/stored/../file",
        "http://pbx.example:8088/ari/recordings/stored/x/file?next=http://evil.example/",
        "http://pbx.example:8088/other/recordings/stored/x/file",
        "http://evil@pbx.example:8088/ari/recordings/stored/x/file",
        "http://pbx.example.evil.example:8088/ari/recordings/stored/x/file",
    ):
        assert media_auth(url) is None, url
    monkeypatch.setattr(runtime.config, "ivr", {"ari": {**ari, "password": ""}})
    assert media_auth("http://pbx.example:8088/ari/recordings/stored/x/file") is None


# --- restarts --------------------------------------------------------------------------------------


def test_after_a_restart_calls_lost_meanwhile_are_closed_and_a_waiting_caller_starts_again(
    server: AriTestServer, runtime: Runtime, agents: Callable[..., dict[str, int]]
) -> None:
    ids = agents(agent1="available")
    assert acd.claim(ids["agent1"], "twilio")  # nobody is offered a call: the callers wait
    with queue_app(server):
        gone = to_the_queue(server)
        still_there = to_the_queue(server, OTHER_CALLER)
        for channel in (gone, still_there):
            eventually(lambda c=channel: call_record(runtime, c).queue_state == "waiting", "the callers to wait")
    # The application is down (stopped without ending its calls); one caller hangs up meanwhile.
    server.hang_up(gone)
    greetings = plays(server, still_there).count("sound:gridline/greeting")
    with queue_app(server) as app:
        # The caller still in the application hears the menu again, out of the queue until they rejoin.
        server.wait_for(
            lambda: plays(server, still_there).count("sound:gridline/greeting") > greetings, what="the menu again"
        )
        eventually(lambda: call_record(runtime, still_there).queue_state == "left", "the old place to be left")
        # The one who hung up abandoned the queue: counted, and a call-back task.
        record = eventually(
            lambda: (r := call_record(runtime, gone)).status == "completed" and r, "the lost call to be closed"
        )
        assert (record.queue_state, record.outcome) == ("abandoned", "abandoned") and record.ended_at is not None
        server.hang_up(still_there)
        server.wait_for(lambda: app.records, what="the call to end")
    with runtime.db.transaction() as session:
        task = session.scalars(select(CallbackRequest).where(CallbackRequest.call_id == record.id)).one()
        assert task.reason == "abandoned"
    assert not server.sim.channels and not server.sim.bridges
