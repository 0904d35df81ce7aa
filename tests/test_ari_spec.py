"""Self-tests of the ARI test server's checker: what Asterisk's description does not allow is caught."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from ivr.ari.client import AriClientController, _raise_for_status
from ivr.errors import AriRequestError
from tests import aio
from tests.ari_server import AriTestServer
from tests.ari_spec import AriSpec, SpecViolation

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def spec() -> AriSpec:
    return AriSpec()


def test_the_description_is_complete(spec: AriSpec) -> None:
    keys = {op.key for op in spec.operations}
    assert len(keys) == len(spec.operations) > 90
    for needed in ("POST /channels/{channelId}/play", "DELETE /playbacks/{playbackId}", "GET /events"):
        assert needed in keys


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "status", "words"),
    [
        ("POST", "/channels/1.2/speak", [], None, 404, "unknown path"),
        ("GET", "/channels/1.2/play", [], None, 405, "method not allowed"),
        ("POST", "/channels/1.2/play", [("media", "sound:x"), ("volume", "3")], None, 400, "unknown query"),
        ("POST", "/channels/1.2/play", [], None, 400, "missing required parameter 'media'"),
        ("POST", "/channels/1.2/play", [("media", "sound:x"), ("offsetms", "soon")], None, 400, "not an integer"),
        ("POST", "/channels/1.2/record", [("name", "n"), ("format", "wav"), ("ifExists", "keep")], None, 400, "not in"),
        ("POST", "/bridges", [], {"type": "holding", "colour": "red"}, 400, "unknown body key 'colour'"),
        ("POST", "/channels/1.2/answer", [], {"now": True}, 400, "takes no body"),
        ("POST", "/channels", [("app", "gridline")], None, 400, "missing required parameter 'endpoint'"),
        ("GET", "/events", [("subscribeAll", "true")], None, 400, "missing required parameter 'app'"),
    ],
)
def test_requests_outside_the_description_are_refused(
    spec: AriSpec, method: str, path: str, query: list[tuple[str, str]], body: object, status: int, words: str
) -> None:
    with pytest.raises(SpecViolation) as caught:
        spec.read(method, path, query, body)
    assert caught.value.status == status and words in str(caught.value)


def test_parameters_are_read_as_asterisk_reads_them(spec: AriSpec) -> None:
    request = spec.read("POST", "/bridges/b1/addChannel", [("channel", "a,b")], None)
    assert request.args["channel"] == ["a", "b"]  # the query string is split on commas
    request = spec.read("POST", "/bridges/b1/addChannel", [], {"channel": "a,b"})
    assert request.args["channel"] == ["a,b"]  # a JSON string is one value
    request = spec.read("POST", "/bridges/b1/addChannel", [], {"channel": ["a", "b"]})
    assert request.args["channel"] == ["a", "b"]
    # A literal segment wins over an id: /channels/create is not "originate with id 'create'".
    assert spec.read("POST", "/channels/create", [("endpoint", "PJSIP/1"), ("app", "a")], None).operation.template == (
        "/channels/create"
    )
    assert spec.read("GET", "/events", [("app", "gridline"), ("api_key", "u:p")], None).args["app"] == ["gridline"]


def test_events_and_objects_are_checked_against_the_models(spec: AriSpec) -> None:
    event = {"type": "ChannelDtmfReceived", "timestamp": "2026-01-01T00:00:00.000+0000", "application": "gridline"}
    problems = spec.check_event({**event, "digit": "1", "channel": {"id": "1.2"}, "loudness": 3})
    assert "ChannelDtmfReceived.duration_ms: required by ChannelDtmfReceived" in problems
    assert "ChannelDtmfReceived.loudness: not in the ChannelDtmfReceived model" in problems
    assert any(p.startswith("ChannelDtmfReceived.channel.name: required") for p in problems)
    assert spec.check_event({**event, "type": "Nonsense"}) == ["event type 'Nonsense' is not in events.json"]
    assert spec.check_model("Playback", {"id": "p", "media_uri": "sound:x", "target_uri": "channel:1", "state": "x"})


def test_the_server_records_violations_and_answers_like_asterisk() -> None:
    server = AriTestServer().start()
    try:
        auth = (server.username, server.password)
        with httpx.Client(base_url=server.url, auth=auth) as http:
            assert http.post("/channels/1.2/speak").status_code == 404
            assert http.get("/channels", params={"verbose": "1"}).status_code == 400
            assert http.get("/channels", auth=("gridline", "wrong")).status_code == 401
            assert http.get("/channels").status_code == 200
        assert len(server.violations) == 3
    finally:
        server.stop()


def test_the_client_sees_refusals_as_ari_request_errors() -> None:
    server = AriTestServer().start()

    async def scenario() -> None:
        async with httpx.AsyncClient(
            base_url=server.url,
            auth=(server.username, server.password),
            event_hooks={"response": [_raise_for_status]},
        ) as http:
            rest = AriClientController(http, "gridline")
            with pytest.raises(AriRequestError) as caught:
                await rest.answer_channel("no-such-channel")
            assert caught.value.status == 404 and caught.value.gone
            # ari-client joins several channels with commas in a JSON body: Asterisk takes that as one id.
            await rest.create_bridge(type="mixing", bridge_id="b1")
            with pytest.raises(AriRequestError) as caught:
                await rest.bridge_add_channel("b1", ["1.1", "1.2"])
            assert caught.value.status == 400

    try:
        aio.run(scenario)
    finally:
        server.stop()
    assert server.violations == []


def test_a_request_outside_the_description_fails_the_test(tmp_path: Path) -> None:
    """The ``server`` fixture turns any violation into a failed test (run in a pytest of its own)."""
    test = tmp_path / "test_violation.py"
    test.write_text(
        textwrap.dedent(
            """
            import httpx
            from tests.ari_harness import server

            def test_sends_an_unknown_parameter(server):
                with httpx.Client(base_url=server.url, auth=(server.username, server.password)) as http:
                    http.post("/channels/1.2/play", params={"media": "sound:x", "volume": "11"})
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(test)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unknown query parameter 'volume'" in result.stdout
    assert "1 error" in result.stdout  # the fixture's teardown fails the test
