"""The gridline command, run as a real process: users, tokens, migrations, and `gridline run` end to end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import PUBLIC_URL, TWILIO_AUTH_TOKEN
from tests.support import CHANNELS_DIR, form_fixture, twilio_signature

GRIDLINE = [sys.executable, "-m", "intake.cli", "--log-level", "WARNING"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDLINE_")}
    env.update(GRIDLINE_DATA__DIR=str(data_dir), **extra)
    return env


def gridline(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GRIDLINE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_db_upgrade_user_add_and_token_create(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    assert gridline("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    added = gridline("user", "add", "wang", "--role", "agent", "--password", "long-enough-1", env=env, cwd=tmp_path)
    assert added.returncode == 0 and "added agent wang" in added.stdout
    again = gridline("user", "add", "wang", "--role", "agent", "--password", "long-enough-1", env=env, cwd=tmp_path)
    assert again.returncode != 0 and "exists already" in again.stderr
    weak = gridline("user", "add", "li", "--role", "agent", "--password", "short", env=env, cwd=tmp_path)
    assert weak.returncode != 0 and "at least 8" in weak.stderr
    bad_role = gridline("user", "add", "li", "--role", "mayor", env=env, cwd=tmp_path)
    assert bad_role.returncode != 0 and "mayor" in bad_role.stderr
    token = gridline("token", "create", "wang", env=env, cwd=tmp_path)
    assert token.returncode == 0 and token.stdout.startswith("gl_")
    assert gridline("token", "create", "nobody", env=env, cwd=tmp_path).returncode != 0


@pytest.mark.timeout(180)
def test_gridline_run_serves_with_demo_data_on_the_embedded_defaults(tmp_path: Path) -> None:
    """One command: web server, workers and scheduler on SQLite + embedded Redis, demo data loaded."""
    port = free_port()
    env = env_for(
        tmp_path / "data",
        GRIDLINE_SERVER__PORT=str(port),
        GRIDLINE_SERVER__PUBLIC_URL=PUBLIC_URL,
        GRIDLINE_TWILIO__AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        GRIDLINE_DEMO__PASSWORD="demo-password-1",
        GRIDLINE_CITY__PLATFORMS__BEIJING__SECRET="demo-city-secret",
    )
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen([*GRIDLINE, "run"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        health = _wait_healthy(base, run, tmp_path / "run.log")
        assert health["database"]["ok"] and health["redis"]["ok"] and health["workers"]["count"] >= 1
        printed = (tmp_path / "run.log").read_text()
        assert "password: demo-password-1" in printed and "the demo secret 'demo-city-secret'" in printed
        token = gridline("token", "create", "admin", env=env, cwd=tmp_path).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        # Every channel's sample cases, in the agents' queue once the workers `run` started took them in.
        from channels.registry import CHANNELS

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            demo = requests.get(f"{base}/api/v1/cases?limit=100", headers=headers, timeout=10).json()["cases"]
            if {case["channel"] for case in demo if case["status"] == "verifying"} == {c.name for c in CHANNELS}:
                break
            time.sleep(0.3)
        assert sorted({case["channel"] for case in demo}) == sorted(channel.name for channel in CHANNELS)
        assert all(case["status"] == "verifying" for case in demo) and len(demo) == 13
        # A number the demo cases do not use, so the SMS opens a case of its own.
        params = form_fixture("sms", "inbound_sms.txt", From="+8613912345678")
        reply = requests.post(
            f"{base}/channels/sms/twilio",
            data=params,
            headers={"X-Twilio-Signature": twilio_signature("/channels/sms/twilio", params)},
            timeout=10,
        )
        assert reply.status_code == 200 and "已受理" in reply.text
        number = reply.text.split("编号")[1][:15]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            case = requests.get(f"{base}/api/v1/cases/{number}", headers=headers, timeout=10).json()
            if case["status"] == "verifying":
                break
            time.sleep(0.2)
        assert case["status"] == "verifying"  # the worker started by `run` moved it to the agents' queue
    finally:
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0
        log.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/livez", timeout=2)


def _wait_healthy(base: str, run: subprocess.Popen[bytes], log: Path) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert run.poll() is None, log.read_text()
        try:
            body = requests.get(f"{base}/healthz", timeout=2).json()
            if body["workers"]["count"]:
                return body
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError("gridline run did not become healthy:\n" + log.read_text()[-3000:])


def test_gridline_camera_mqtt_refuses_to_start_without_a_frigate(tmp_path: Path) -> None:
    result = gridline("camera-mqtt", env=env_for(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode != 0 and "camera.mqtt.instances" in result.stderr


@pytest.mark.timeout(180)
def test_gridline_run_starts_the_frigate_subscriber_when_instances_are_configured(tmp_path: Path) -> None:
    """camera.mqtt.instances set: `gridline run` also runs `gridline camera-mqtt`, whose events become cases."""
    from tests.test_camera_frigate import publish

    port = free_port()
    prefix = f"gridline-run-{uuid.uuid4().hex[:10]}"
    env = env_for(
        tmp_path / "data",
        GRIDLINE_SERVER__PORT=str(port),
        GRIDLINE_DEMO__LOAD_ON_EMPTY="false",
        GRIDLINE_CAMERA__MQTT__INSTANCES=json.dumps([{"prefix": prefix, "sender": "frigate"}]),
        GRIDLINE_CAMERA__MQTT__CLIENT_ID=f"gridline-{prefix}",
    )
    assert gridline("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    sender = gridline("cameras", "sender", "frigate", "--auth", "mqtt", env=env, cwd=tmp_path)
    assert sender.returncode == 0 and "sender frigate (mqtt)" in sender.stdout
    (tmp_path / "cameras.csv").write_text("code,name,source_name,sender\nHR-FG-0001,南门,porta_vista_sud,frigate\n")
    imported = gridline("cameras", "import", str(tmp_path / "cameras.csv"), env=env, cwd=tmp_path)
    assert imported.returncode == 0 and "1 created" in imported.stdout, imported.stderr
    added = gridline("user", "add", "admin", "--role", "admin", "--password", "long-enough-1", env=env, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    token = gridline("token", "create", "admin", env=env, cwd=tmp_path).stdout.strip()
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen([*GRIDLINE, "run"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, run, tmp_path / "run.log")
        new = (CHANNELS_DIR / "camera" / "fixtures" / "frigate" / "new.json").read_bytes()
        cases: list[dict[str, object]] = []
        deadline = time.monotonic() + 60
        # Publish until the subscriber is up (its persistent session does not exist before it connects).
        while not cases and time.monotonic() < deadline:
            publish(f"{prefix}/events", new)
            time.sleep(1)
            reply = requests.get(
                f"{base}/api/v1/cases?channel=camera", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            cases = reply.json()["cases"]
        assert len(cases) == 1, (tmp_path / "run.log").read_text()[-3000:]
        assert cases[0]["channel"] == "camera"
    finally:
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0
        log.close()
