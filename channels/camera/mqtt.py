"""``gridline camera-mqtt``: Frigate's events from the MQTT broker into the camera stream.

A long-running process (like ``gridline ari``). It subscribes to ``<prefix>/events`` of every
configured Frigate (``camera.mqtt.instances``) with QoS 1 on a persistent session under a fixed client
id, so the broker keeps events while the subscriber is away; it acknowledges a message only once the
event is in the stream (or kept as rejected), and reconnects with back-off when the broker goes away.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from redis.exceptions import RedisError

from channels.camera import frigate, ingest, registry
from channels.camera.models import AlarmStatus
from channels.camera.settings import CameraSettings, timezone_name
from channels.errors import ChannelError
from intake.runtime import Runtime

log = logging.getLogger(__name__)

QOS = 1
#: Attempts at storing one event while Redis is down, and the pause between them, in seconds; then
#: the subscriber reconnects without acknowledging, and the broker delivers the event again.
STORE_ATTEMPTS = 3
STORE_RETRY_SECONDS = 1.0


class Subscriber:
    def __init__(self, runtime: Runtime, settings: CameraSettings) -> None:
        self.runtime = runtime
        self.settings = settings.mqtt
        self.zone = timezone_name(runtime.config)
        self.instances = {instance.prefix: instance for instance in self.settings.instances}
        self.connected = threading.Event()
        self.stored = 0
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.settings.client_id,
            clean_session=False,
            manual_ack=True,
        )
        if self.settings.username:
            self.client.username_pw_set(self.settings.username, self.settings.password or None)
        if self.settings.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=1, max_delay=self.settings.reconnect_max_seconds)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def serve(self) -> None:
        """Run until :meth:`stop` (or SIGTERM/SIGINT through :func:`serve`)."""
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_seconds)
        self.client.loop_forever(retry_first_connection=True)

    def stop(self) -> None:
        self.client.disconnect()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker %s:%s refused us: %s", self.settings.host, self.settings.port, reason)
            return
        topics = [(f"{prefix}/events", QOS) for prefix in self.instances]
        client.subscribe(topics)
        self.connected.set()
        log.info("MQTT connected to %s:%s, subscribed to %s", self.settings.host, self.settings.port, topics)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected.clear()
        log.warning("MQTT disconnected (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        for attempt in range(STORE_ATTEMPTS):
            try:
                self.handle(message.topic, message.payload)
                break
            except RedisError:
                log.warning("Redis unavailable; event on %s not stored yet (attempt %d)", message.topic, attempt + 1)
                time.sleep(STORE_RETRY_SECONDS)
        else:
            client.reconnect()  # unacknowledged: the broker sends it again
            return
        client.ack(message.mid, message.qos)

    def handle(self, topic: str, payload: bytes) -> None:
        """Store one message of ``<prefix>/events`` (raises RedisError when it cannot)."""
        received = time.time()
        instance = self.instances.get(frigate.topic_prefix(topic) or "")
        if instance is None:
            log.warning("MQTT message on unexpected topic %s ignored", topic)
            return
        sender = registry.senders().by_name.get(instance.sender)
        sender_id = sender.id if sender is not None else None
        if sender is None:
            log.warning("Frigate sender %r is not registered; its events are kept unattributed", instance.sender)
        content_type = "application/json"
        try:
            parsed = frigate.parse(payload, zone=self.zone, frigate_url=instance.url)
        except ChannelError as err:
            status = AlarmStatus.UNKNOWN_EVENT if err.status == 422 else AlarmStatus.REJECTED
            ingest.reject(sender_id, frigate.VENDOR, payload, content_type, received, status, err.message)
            log.info("Frigate event on %s kept as %s", topic, status)
            return
        except Exception as err:
            log.exception("Frigate event on %s could not be read", topic)
            reason = f"could not be read ({type(err).__name__})"
            ingest.reject(sender_id, frigate.VENDOR, payload, content_type, received, AlarmStatus.REJECTED, reason)
            return
        ingest.accept(sender_id, frigate.VENDOR, parsed, payload, content_type, received)
        self.stored += 1


def serve(runtime: Runtime, settings: CameraSettings) -> None:
    """``gridline camera-mqtt``: subscribe until SIGTERM or SIGINT."""
    subscriber = Subscriber(runtime, settings)

    def stop(_signum: int, _frame: object) -> None:
        subscriber.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    subscriber.serve()
