"""The camera registry: ``gridline cameras import FILE`` and ``gridline cameras sender``, run as processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from channels.camera.models import Camera, CameraSender
from intake.runtime import Runtime
from tests.test_camera_common import PASSWORD, alarms, fixture, post_hikvision

GRIDLINE = [sys.executable, "-m", "intake.cli", "--log-level", "WARNING"]

CSV = """code,name,vendor,mac,serial,ip,channel,lat,lon,address,sender
HR-HK-0101,府前街东口,hikvision,AC-B9-2F-49-44-75,,,1,40.3160,116.6320,怀柔区府前街1号,nvr-fuqian
HR-HK-0102,府前街西口,hikvision,,,192.168.1.64,2,40.3170,116.6290,怀柔区府前街9号,nvr-fuqian
HR-DH-0103,青春路口,dahua,,5J0123PAZ00042,,1,,,,
"""


def gridline(runtime: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GRIDLINE_")}
    env.update(
        GRIDLINE_DATA__DIR=str(runtime.config.data.dir),
        GRIDLINE_DATABASE__URL=runtime.config.database_url,
        GRIDLINE_REDIS__URL=runtime.redis_url,
        GRIDLINE_SERVER__SECRET_KEY=runtime.config.server.secret_key,
    )
    return subprocess.run([*GRIDLINE, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.usefixtures("places")
def test_import_senders_and_cameras_then_alarms_find_them(
    runtime: Runtime, live_server: str, run_worker: Callable[[], None], tmp_path: Path
) -> None:
    sender = gridline(runtime, "cameras", "sender", "nvr-fuqian", "--auth", "http", "--password", PASSWORD)
    assert sender.returncode == 0, sender.stderr
    assert f"password: {PASSWORD}" in sender.stdout
    token = gridline(runtime, "cameras", "sender", "onvif-gate", "--auth", "token")
    assert token.returncode == 0 and "ONVIF consumer token: " in token.stdout
    secret = gridline(runtime, "cameras", "sender", "ai-platform", "--auth", "hmac")
    assert secret.returncode == 0 and len(secret.stdout.strip().rsplit(" ", 1)[-1]) == 64
    path = tmp_path / "cameras.csv"
    path.write_text(CSV, encoding="gb18030")  # as a spreadsheet on a Chinese desktop saves it
    done = gridline(runtime, "cameras", "import", str(path))
    assert done.returncode == 0, done.stderr
    assert "3 created, 0 updated, 0 unchanged" in done.stdout
    again = gridline(runtime, "cameras", "import", str(path))
    assert "0 created, 0 updated, 3 unchanged" in again.stdout
    with runtime.db.transaction() as session:
        cameras = {camera.code: camera for camera in session.scalars(select(Camera))}
        assert cameras["HR-HK-0101"].mac == "ac:b9:2f:49:44:75"
        assert cameras["HR-HK-0101"].grid_code and cameras["HR-HK-0101"].grid_code.startswith("110116")
        assert cameras["HR-DH-0103"].grid_code is None and cameras["HR-DH-0103"].sender_id is None
        assert session.scalar(select(CameraSender.ha1).where(CameraSender.name == "nvr-fuqian"))
    # The running web process picks the new registry up (the import bumped its version).
    response = post_hikvision(
        live_server, fixture("hikvision/fielddetection_hikvision_ns.xml"), auth=("nvr-fuqian", PASSWORD)
    )
    assert response.status_code == 200
    run_worker()
    [alarm] = alarms(runtime)
    assert alarm.camera_id == cameras["HR-HK-0101"].id


def test_a_bad_file_writes_nothing_and_names_every_bad_line(runtime: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "cameras.csv"
    path.write_text(
        "code,mac,ip,channel,lat,lon,sender\n"
        "HR-1,not-a-mac,,1,,,\n"
        "HR-2,,300.1.1.1,1,,,\n"
        "HR-3,,10.0.0.3,x,,,\n"
        "HR-4,,10.0.0.4,1,40.3,,\n"
        "HR-5,,10.0.0.5,1,,,nobody\n"
        "HR-6,,,,,,\n"
        "HR-7,,10.0.0.7,1,,,\n"
        "HR-7,,10.0.0.8,1,,,\n",
        encoding="utf-8",
    )
    done = gridline(runtime, "cameras", "import", str(path))
    assert done.returncode != 0
    for line, problem in [
        (2, "not a MAC"),
        (3, "not an IP"),
        (4, "channel"),
        (5, "lat/lon"),
        (6, "no such sender"),
        (7, "needs mac, serial, ip"),
        (9, "also on line 8"),
    ]:
        assert f"line {line}: " in done.stderr and problem in done.stderr, (line, done.stderr)
    with runtime.db.transaction() as session:
        assert session.scalars(select(Camera)).all() == []
    missing = tmp_path / "nocode.csv"
    missing.write_text("name\nx\n", encoding="utf-8")
    assert "missing column(s) code" in gridline(runtime, "cameras", "import", str(missing)).stderr


def test_bad_sender_requests(runtime: Runtime) -> None:
    assert "at least 8" in gridline(runtime, "cameras", "sender", "nvr-1", "--auth", "http", "--password", "x").stderr
    assert "sender name" in gridline(runtime, "cameras", "sender", "bad name!", "--auth", "token").stderr
