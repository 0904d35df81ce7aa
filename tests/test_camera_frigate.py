"""Frigate events through the real Mosquitto broker on this machine: ``gridline camera-mqtt``'s
subscriber stores each event, survives a broken connection, and Frigate's new/update/end collapse into
one incident."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest

from channels.camera.models import AlarmStatus
from channels.camera.mqtt import Subscriber
from channels.camera.settings import CameraSettings, MqttSettings
from intake.models import Case
from intake.runtime import Runtime
from tests.test_camera_common import Registry, alarms, cameras, count, fixture, incidents

__all__ = ["cameras"]

BROKER = ("127.0.0.1", 1883)
#: Seconds to wait for the broker to deliver and the subscriber to store.
DELIVERY_TIMEOUT = 10.0


def wait_until(condition: Callable[[], bool], timeout: float = DELIVERY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def publish(topic: str, payload: bytes) -> None:
    """Publish as Frigate does (QoS 1 here, so that the broker keeps it for a reconnecting subscriber)."""
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"frigate-{uuid.uuid4()}")
    client.connect(*BROKER)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(timeout=DELIVERY_TIMEOUT)
    client.loop_stop()
    client.disconnect()


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own: other test runs share the broker."""
    return f"gridline-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def subscriber(runtime: Runtime, prefix: str) -> Iterator[Subscriber]:
    settings = CameraSettings(
        mqtt=MqttSettings(
            host=BROKER[0],
            port=BROKER[1],
            client_id=f"gridline-{prefix}",
            instances=[{"prefix": prefix, "sender": "frigate", "url": "http://frigate.local:5000"}],  # type: ignore[list-item]
        )
    )
    running = Subscriber(runtime, settings)
    thread = threading.Thread(target=running.serve, daemon=True)
    thread.start()
    assert running.connected.wait(DELIVERY_TIMEOUT)
    time.sleep(0.2)  # the SUBACK
    yield running
    running.stop()
    thread.join(timeout=5)


def stream_length(runtime: Runtime) -> int:
    return int(runtime.redis.xlen(runtime.key("camera", "alarms")))


def test_new_update_end_are_stored_and_collapse_into_one_case(
    runtime: Runtime, run_worker: Callable[[], None], cameras: Registry, subscriber: Subscriber, prefix: str
) -> None:
    for name in ("new.json", "end.json"):
        publish(f"{prefix}/events", fixture(f"frigate/{name}"))
    wait_until(lambda: subscriber.stored == 2)
    run_worker()
    new, end = alarms(runtime)
    assert (new.vendor, new.kind, new.state, new.rule) == ("frigate", "intrusion", "active", "person")
    assert new.camera_id == cameras.cameras["HR-FG-0001"] and new.raw == fixture("frigate/new.json")
    assert end.state == "inactive" and end.incident_id == new.incident_id
    [incident] = incidents(runtime)
    assert incident.stopped_at is not None
    # The snapshot is on Frigate: the case gets it by URL (a worker downloads it).
    assert incident.pictures == [
        {
            "name": "1689768251.095724-jk5d54.jpg",
            "content_type": "image/jpeg",
            "url": "http://frigate.local:5000/api/events/1689768251.095724-jk5d54/snapshot.jpg",
        }
    ]
    assert count(runtime, Case) == 1


def test_an_unregistered_frigate_camera_is_flagged(
    runtime: Runtime, run_worker: Callable[[], None], cameras: Registry, subscriber: Subscriber, prefix: str
) -> None:
    publish(f"{prefix}/events", fixture("frigate/update.json"))
    wait_until(lambda: subscriber.stored == 1)
    run_worker()
    [alarm] = alarms(runtime)
    assert alarm.status == AlarmStatus.UNKNOWN_CAMERA and alarm.device == "name:frigate/front_door"
    assert count(runtime, Case) == 1


def test_malformed_and_unknown_messages_are_kept_with_the_reason(
    runtime: Runtime, run_worker: Callable[[], None], cameras: Registry, subscriber: Subscriber, prefix: str
) -> None:
    publish(f"{prefix}/events", b'{"type": "new", "after": ')
    publish(f"{prefix}/events", fixture("frigate/tracked_object_update_face.json"))
    wait_until(lambda: stream_length(runtime) == 2)
    run_worker()
    broken, unknown = alarms(runtime)
    assert broken.status == AlarmStatus.REJECTED and "JSON body" in (broken.reason or "")
    assert unknown.status == AlarmStatus.UNKNOWN_EVENT and "'face'" in (unknown.reason or "")
    assert count(runtime, Case) == 0


def test_reconnects_after_the_connection_breaks_and_gets_what_was_sent_meanwhile(
    runtime: Runtime, run_worker: Callable[[], None], cameras: Registry, subscriber: Subscriber, prefix: str
) -> None:
    publish(f"{prefix}/events", fixture("frigate/new.json"))
    wait_until(lambda: subscriber.stored == 1)
    subscriber.client.socket().close()  # the network drops the connection under the subscriber
    publish(f"{prefix}/events", fixture("frigate/end.json"))  # the broker keeps it (persistent session)
    wait_until(lambda: subscriber.stored == 2, timeout=30)
    run_worker()
    assert [alarm.state for alarm in alarms(runtime)] == ["active", "inactive"]


def test_gridline_camera_mqtt_command(
    runtime: Runtime, run_worker: Callable[[], None], cameras: Registry, prefix: str
) -> None:
    """The real process, configured from the environment, stores what Frigate publishes; SIGTERM stops it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GRIDLINE_")}
    env.update(
        GRIDLINE_DATA__DIR=str(runtime.config.data.dir),
        GRIDLINE_DATABASE__URL=runtime.config.database_url,
        GRIDLINE_REDIS__URL=runtime.redis_url,
        GRIDLINE_CAMERA__MQTT__INSTANCES=json.dumps([{"prefix": prefix, "sender": "frigate"}]),
        GRIDLINE_CAMERA__MQTT__CLIENT_ID=f"gridline-cli-{prefix}",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "intake.cli", "--log-level", "INFO", "camera-mqtt"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        # Publish until the subscriber is up (its session does not exist before its first connect).
        while stream_length(runtime) == 0 and time.monotonic() < deadline:
            publish(f"{prefix}/events", fixture("frigate/new.json"))
            time.sleep(0.5)
        assert stream_length(runtime) >= 1
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "subscribed to" in output
    run_worker()
    assert count(runtime, Case) == 1
