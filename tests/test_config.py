"""Configuration: YAML plus GRIDLINE_<SECTION>__<KEY> overrides; wrong values name their key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from channels.camera.alarm import Kind
from channels.camera.settings import CameraSettings, MqttSettings, camera_settings
from intake.config import load_config
from intake.errors import ConfigError


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.yaml"
    monkeypatch.setenv("GRIDLINE_CONFIG", str(path))
    for name in ("GRIDLINE_DATABASE__URL", "GRIDLINE_REDIS__URL", "GRIDLINE_SERVER__PORT"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_yaml_values_and_environment_overrides(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_file.write_text("server:\n  port: 9000\n  public_url: https://a.example/\nworker:\n  batch_size: 50\n")
    config = load_config()
    assert (config.server.port, config.public_url, config.worker.batch_size) == (9000, "https://a.example", 50)
    monkeypatch.setenv("GRIDLINE_SERVER__PORT", "9100")
    monkeypatch.setenv("GRIDLINE_DATABASE__URL", "postgresql://u@db.example/gridline")
    monkeypatch.setenv("GRIDLINE_TWILIO__AUTH_TOKEN", "secret-from-env")
    config = load_config()
    assert config.server.port == 9100
    assert config.database_url == "postgresql+psycopg://u@db.example/gridline"
    assert config.twilio.auth_token == "secret-from-env"


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("GRIDLINE_SERVER__PORT", "eighty", "server.port (or GRIDLINE_SERVER__PORT)"),
        ("GRIDLINE_SERVER__PORT", "70000", "server.port"),
        ("GRIDLINE_DATABASE__URL", "mysql://x", "database.url"),
        ("GRIDLINE_REDIS__URL", "localhost:6379", "redis.url"),
        ("GRIDLINE_SERVER__PUBLIC_URL", "hotline.example", "server.public_url"),
        ("GRIDLINE_SERVER__TIMEZONE", "Mars/Olympus", "server.timezone"),
        ("GRIDLINE_WORKER__BATCH_SIZE", "0", "worker.batch_size"),
    ],
)
def test_a_wrong_value_names_its_key(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    config_file.write_text("")
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(")", r"\)")):
        load_config()


def test_unknown_key_in_the_file_is_named(config_file: Path) -> None:
    config_file.write_text("server:\n  prot: 8000\n")
    with pytest.raises(ConfigError, match=r"server\.prot"):
        load_config()


def test_the_shipped_config_has_no_secrets_and_loads() -> None:
    import yaml

    shipped = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())
    assert not shipped["twilio"].get("auth_token")
    assert not shipped["server"].get("secret_key")
    assert not shipped["camera"].get("secret_key") and not shipped["camera"]["mqtt"].get("password")
    config = load_config()
    # The camera section is raw data in Config; its own model checks it, with the shipped defaults.
    # Every camera setting but the secrets is documented in the file, with the model's default.
    assert set(shipped["camera"]) == set(CameraSettings.model_fields) - {"secret_key"}
    assert set(shipped["camera"]["mqtt"]) == set(MqttSettings.model_fields) - {"password"}
    camera = camera_settings(config)
    assert camera.model_dump() == CameraSettings().model_dump()
    assert camera.mqtt.instances == [] and Kind.MOTION not in camera.case_kinds


def test_gridline_refuses_to_start_on_a_wrong_value(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "intake.cli", "db", "upgrade"],
        env={"GRIDLINE_SERVER__PORT": "not-a-port", "GRIDLINE_DATA__DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "server.port (or GRIDLINE_SERVER__PORT)" in result.stderr
