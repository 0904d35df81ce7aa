"""Calls through the Stasis application against the ARI test server: menu, recording, queue, bridging."""

from __future__ import annotations

from typing import Any

from ivr.ari.basic_menu import BasicMenu
from ivr.ari.menu_port import Action, CallInfo, Digits, Gather, Hangup, NoInput, Outcome, Say
from tests.ari_harness import plays, running_app, server
from tests.ari_server import AriTestServer

__all__ = ["server"]  # the fixture

CALLER = "+8613812348000"


def test_record_path_answers_plays_records_and_hangs_up(server: AriTestServer) -> None:
    with running_app(server, BasicMenu()) as app:
        channel = server.dial_in(CALLER)
        assert channel is not None
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "1")
        server.wait_for(lambda: channel in server.sim.ended, what="the call to end")
        server.wait_for(lambda: app.records, what="the call record")

    assert plays(server, channel) == [
        "sound:gridline/greeting",
        "sound:gridline/main",
        "sound:gridline/record",
        "sound:gridline/record_thanks",
    ]
    answer = server.requests_to("POST /channels/{channelId}/answer")
    assert [r.args["channelId"] for r in answer] == [channel]
    (record_request,) = server.requests_to("POST /channels/{channelId}/record")
    name = record_request.args["name"]
    assert "." not in name and record_request.args["format"] == "wav"
    assert record_request.args["terminateOn"] == "#" and record_request.args["beep"] is True
    (record,) = app.records
    assert record.caller_number == CALLER and record.recordings == [name]
    assert record.path == ["gather:1", f"record:{name}"] and record.ended_by == "menu"
    # The message is where the worker will fetch it, as a WAV file.
    audio = server.call(lambda: server.sim.stored[name])
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"


def test_stored_recording_is_fetched_through_the_client(server: AriTestServer) -> None:
    with running_app(server, BasicMenu()) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "1")
        server.wait_for(lambda: app.records, what="the call record")
        name = app.records[0].recordings[0]
        assert app.app is not None
        data = app.run(app.app.client.fetch_recording(name))
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert server.requests_to("GET /recordings/stored/{recordingName}/file")


def test_queue_bridges_caller_and_agent_with_music_on_hold_first(server: AriTestServer) -> None:
    server.sim.agents["PJSIP/agent1"] = "no_answer"
    with running_app(server, BasicMenu(), agent_endpoints=["PJSIP/agent1", "PJSIP/agent2"]) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "2")
        talk = f"{channel}-talk"
        server.wait_for(lambda: len(server.sim.bridges.get(talk, {}).get("channels", [])) == 2, what="the bridge")

        bridges = server.requests_to("POST /bridges")
        assert [r.args["type"] for r in bridges] == ["holding", "mixing"]
        (moh,) = server.requests_to("POST /bridges/{bridgeId}/moh")
        assert moh.args["bridgeId"] == f"{channel}-hold" and moh.args["mohClass"] == "default"
        originated = server.requests_to("POST /channels")
        assert [r.args["endpoint"] for r in originated] == ["PJSIP/agent1", "PJSIP/agent2"]
        assert all(r.args["app"] == "gridline" and r.args["appArgs"] == f"agent,{channel}" for r in originated)
        assert originated[0].args["callerId"] == CALLER
        agent_leg = originated[1].args["channelId"]
        assert server.call(lambda: set(server.sim.bridges[talk]["channels"])) == {channel, agent_leg}
        assert f"{channel}-hold" not in server.sim.bridges  # the holding bridge (and its music) is gone

        server.hang_up(agent_leg)  # the agent ends the call
        server.wait_for(lambda: channel in server.sim.ended, what="the caller to be hung up")
        server.wait_for(lambda: app.records, what="the call record")
    (record,) = app.records
    assert record.agent == "PJSIP/agent2" and record.ended_by == "agent"
    assert record.path == ["gather:2", "queue", "agent:PJSIP/agent2"]
    assert record.wait_seconds is not None and record.wait_seconds >= 0.05
    assert server.sim.bridges == {}


def test_no_agent_answers_leads_to_a_message(server: AriTestServer) -> None:
    server.sim.agents["PJSIP/agent1"] = "busy"
    with running_app(server, BasicMenu(), agent_endpoints=["PJSIP/agent1"]) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "2")
        server.wait_for(lambda: app.records, what="the call record")
    (record,) = app.records
    assert record.path[:3] == ["gather:2", "queue", "no-agent"] and record.path[3].startswith("record:")
    assert "sound:gridline/no_agents" in plays(server, channel)
    assert server.sim.bridges == {}


def test_caller_hanging_up_while_queued_releases_bridge_and_agent_leg(server: AriTestServer) -> None:
    server.timing.agent_answer = 5.0  # the agent's phone keeps ringing
    with running_app(server, BasicMenu(), agent_endpoints=["PJSIP/agent1"]) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "2")
        server.wait_for(lambda: server.requests_to("POST /channels"), what="the agent to be called")
        server.hang_up(channel)
        server.wait_for(lambda: app.records, what="the call record")
        server.wait_for(lambda: not server.sim.channels and not server.sim.bridges, what="everything released")
    assert app.records[0].ended_by == "caller"


def test_key_during_prompt_stops_it_barge_in(server: AriTestServer) -> None:
    server.timing.media["sound:gridline/main"] = 10.0  # long enough to press during it
    with running_app(server, BasicMenu(), agent_endpoints=[]) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "1")
        server.wait_for(lambda: "sound:gridline/record" in plays(server, channel), what="the next prompt")
        (stop,) = server.requests_to("DELETE /playbacks/{playbackId}")
        assert stop.args["playbackId"].startswith(channel)
        server.wait_for(lambda: app.records, what="the call record")


class DigitsMenu:
    """Four digits (a case number's tail), then read them back and hang up."""

    def __init__(self) -> None:
        self.heard: list[Outcome] = []

    def start(self, call: CallInfo) -> tuple[Any, list[Action]]:
        return None, [Gather(("enter_case_number",), max_digits=4, timeout_seconds=1.0, inter_digit_seconds=0.3)]

    def step(self, state: Any, outcome: Outcome) -> tuple[Any, list[Action]]:
        self.heard.append(outcome)
        if isinstance(outcome, Digits):
            return None, [Say((f"digits:{outcome.digits}",)), Hangup()]
        return None, [Say(("goodbye",)), Hangup()]


def test_inter_digit_timeout_ends_the_input(server: AriTestServer) -> None:
    menu = DigitsMenu()
    with running_app(server, menu) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: plays(server, channel), what="the prompt")
        server.press(channel, "12")  # then nothing: 0.3 s later the two digits are the input
        server.wait_for(lambda: app.records, what="the call record")
    assert menu.heard == [Digits("12")]
    assert plays(server, channel)[-1] == "digits:12"


def test_finish_key_and_no_input(server: AriTestServer) -> None:
    menu = DigitsMenu()
    with running_app(server, menu) as app:
        first = server.dial_in(CALLER)
        server.wait_for(lambda: plays(server, first), what="the prompt")
        server.press(first, "7#")
        second = server.dial_in("+8613900001111")
        server.wait_for(lambda: len(app.records) == 2, timeout=5, what="both calls to end")
    assert sorted(map(repr, menu.heard)) == sorted(map(repr, [Digits("7"), NoInput()]))
    assert plays(server, second)[-1] == "sound:gridline/goodbye"


def test_app_not_connected_means_stasis_fails(server: AriTestServer) -> None:
    assert server.dial_in(CALLER) is None  # the dialplan's fallback (voicemail) takes the call
