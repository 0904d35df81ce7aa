"""The event WebSocket drops mid-call: the app reconnects with back-off, rebuilds its state, the call goes on."""

from __future__ import annotations

import itertools

from ivr.ari.basic_menu import BasicMenu
from tests.ari_harness import plays, running_app, server
from tests.ari_server import AriTestServer

__all__ = ["server"]  # the fixture

CALLER = "+8613812348000"


def _reconnected(server: AriTestServer, app: object, connections: int = 2) -> None:
    server.wait_for(lambda: app.connections >= connections, what="the app to reconnect")  # type: ignore[attr-defined]


def test_drop_during_prompt_rebuilds_state_and_the_call_goes_on(server: AriTestServer) -> None:
    server.timing.media["sound:gridline/main"] = 0.3
    with running_app(server, BasicMenu(gather_timeout_seconds=5)) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.refuse_websockets = True  # Asterisk stays unreachable until the prompt has ended ...
        assert server.drop_websockets() == 1
        server.wait_for(lambda: not server.sim.playbacks, what="the prompt to end unseen")
        before = len(server.requests_to("GET /channels"))
        server.refuse_websockets = False
        _reconnected(server, app)

        # ... so its PlaybackFinished was lost: the app asked Asterisk for the state and the playback.
        server.wait_for(lambda: len(server.requests_to("GET /channels")) > before, what="GET /channels")
        assert len(server.requests_to("GET /bridges")) >= 2
        (asked,) = server.requests_to("GET /playbacks/{playbackId}")
        assert asked.args["playbackId"].startswith(channel)
        server.press(channel, "1")
        server.wait_for(lambda: app.records, what="the call to finish")
    (record,) = app.records
    assert record.path[0] == "gather:1" and record.path[1].startswith("record:") and record.ended_by == "menu"


def test_agent_answering_while_disconnected_is_bridged_after_reconnection(server: AriTestServer) -> None:
    server.timing.agent_answer = 0.3
    with running_app(server, BasicMenu(), agent_endpoints=["PJSIP/agent1"]) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "2")
        server.wait_for(lambda: server.requests_to("POST /channels"), what="the agent's phone to ring")
        server.refuse_websockets = True
        server.drop_websockets()
        leg = server.requests_to("POST /channels")[0].args["channelId"]
        server.wait_for(lambda: leg in server.sim.in_stasis, what="the agent to answer unseen")
        server.refuse_websockets = False
        _reconnected(server, app)
        talk = f"{channel}-talk"
        server.wait_for(lambda: len(server.sim.bridges.get(talk, {}).get("channels", [])) == 2, what="the bridge")
        server.hang_up(channel)
        server.wait_for(lambda: app.records, what="the call record")
    assert app.records[0].agent == "PJSIP/agent1"
    server.wait_for(lambda: not server.sim.channels and not server.sim.bridges, what="everything released")


def test_caller_hanging_up_while_disconnected_is_noticed_after_reconnection(server: AriTestServer) -> None:
    server.timing.agent_answer = 30.0
    with running_app(server, BasicMenu(), agent_endpoints=["PJSIP/agent1"]) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "2")
        server.wait_for(lambda: server.requests_to("POST /channels"), what="the agent's phone to ring")
        server.refuse_websockets = True
        server.drop_websockets()
        server.hang_up(channel)  # StasisEnd goes nowhere
        server.refuse_websockets = False
        _reconnected(server, app)
        server.wait_for(lambda: app.records, what="the call record")
        # The ringing agent leg and the holding bridge are released too.
        server.wait_for(lambda: not server.sim.channels and not server.sim.bridges, what="everything released")
    assert app.records[0].ended_by == "caller"


def test_reconnection_backs_off_exponentially_up_to_the_maximum(server: AriTestServer) -> None:
    with running_app(server, BasicMenu(), reconnect_min_seconds=0.05, reconnect_max_seconds=0.4) as app:
        server.refuse_websockets = True
        server.drop_websockets()
        server.wait_for(lambda: len(server.requests_to("GET /events")) >= 7, timeout=10, what="7 attempts")
        server.refuse_websockets = False
        _reconnected(server, app)
    attempts = [r.at for r in server.requests_to("GET /events")][1:8]
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # 0.1, 0.2, 0.4, 0.4, ... (the first retry follows the drop after 0.05 s)
    assert 0.08 <= gaps[0] < 0.2 and 0.18 <= gaps[1] < 0.35
    assert all(0.38 <= gap < 0.6 for gap in gaps[2:])


def test_a_restarted_app_starts_callers_again_and_releases_what_it_left(server: AriTestServer) -> None:
    server.timing.agent_answer = 1.0
    with running_app(server, BasicMenu(), agent_endpoints=["PJSIP/agent1"]):
        queued = server.dial_in(CALLER)
        other = server.dial_in("+8613900001111")
        server.wait_for(lambda: "sound:gridline/main" in plays(server, queued), what="the main menu")
        server.press(queued, "2")
        server.wait_for(lambda: server.requests_to("POST /channels"), what="the agent's phone to ring")
    # The process is gone; Asterisk keeps the callers, the holding bridge, and the agent who answers.
    leg = server.requests_to("POST /channels")[0].args["channelId"]
    server.wait_for(lambda: leg in server.sim.in_stasis, what="the agent to answer with no app connected")
    assert f"{queued}-hold" in server.sim.bridges

    with running_app(server, BasicMenu(), agent_endpoints=[]) as app:
        server.wait_for(lambda: not server.sim.bridges, what="the bridge left over to be destroyed")
        server.wait_for(lambda: leg not in server.sim.channels, what="the agent leg left over to be hung up")
        for channel in (queued, other):
            server.wait_for(
                lambda c=channel: plays(server, c).count("sound:gridline/greeting") == 2, what="the menu again"
            )
        server.wait_for(lambda: "sound:gridline/main" in plays(server, other)[2:], what="the main menu again")
        server.press(other, "1")
        server.hang_up(queued)
        server.wait_for(lambda: len(app.records) == 2, what="both calls to end")
    assert sorted(record.ended_by for record in app.records) == ["caller", "menu"]


def test_agent_answering_unseen_at_the_end_of_the_ring_time_is_bridged_not_hung_up(server: AriTestServer) -> None:
    server.timing.agent_answer = 0.3
    with running_app(server, BasicMenu(), agent_endpoints=["PJSIP/agent1"], agent_ring_seconds=1) as app:
        channel = server.dial_in(CALLER)
        server.wait_for(lambda: "sound:gridline/main" in plays(server, channel), what="the main menu")
        server.press(channel, "2")
        server.wait_for(lambda: server.requests_to("POST /channels"), what="the agent's phone to ring")
        server.refuse_websockets = True  # down past the ring time: the app never hears the agent answer
        server.drop_websockets()
        leg = server.requests_to("POST /channels")[0].args["channelId"]
        talk = f"{channel}-talk"
        # At the end of the ring time the app asks Asterisk about the leg, finds it answered, and bridges it.
        server.wait_for(
            lambda: len(server.sim.bridges.get(talk, {}).get("channels", [])) == 2, timeout=3, what="the bridge"
        )
        (asked,) = server.requests_to("GET /channels/{channelId}")
        assert asked.args["channelId"] == leg
        assert leg not in [r.args["channelId"] for r in server.requests_to("DELETE /channels/{channelId}")]
        server.refuse_websockets = False
        _reconnected(server, app)
        server.hang_up(leg)
        server.wait_for(lambda: app.records, what="the call record")
    assert app.records[0].agent == "PJSIP/agent1" and app.records[0].ended_by == "agent"
