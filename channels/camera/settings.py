"""The ``camera:`` section of ``config.yaml``: receivers, storm collapsing, liveness, the MQTT subscriber.

The intake core keeps the section as raw data (``Config.camera``); this module validates it (errors name
the key, ``camera.quiet_period_seconds``) and caches the result per configuration object. Every key can
be overridden by ``GRIDLINE_CAMERA__<KEY>`` (``GRIDLINE_CAMERA__MQTT__PASSWORD`` for the broker's).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from channels.camera.alarm import Kind
from intake.config import Config
from intake.errors import ConfigError
from intake.media import MediaPolicy
from intake.runtime import Runtime, get_runtime

#: Realm of HTTP Basic/Digest authentication. Stored credentials are MD5(user:realm:password) (HA1, what
#: Digest needs), so changing the realm invalidates every device password: it is not configurable.
REALM = "gridline-camera"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FrigateInstance(_Strict):
    """One Frigate NVR publishing on the broker: its topic prefix and the registry sender it is."""

    #: Frigate's ``mqtt.topic_prefix``; its events arrive on ``<prefix>/events``.
    prefix: str = "frigate"
    #: The camera sender (``gridline cameras sender NAME --auth mqtt``) whose cameras Frigate names.
    sender: str = "frigate"
    #: Frigate's base URL, for event snapshots (``/api/events/<id>/snapshot.jpg``); empty: no pictures.
    url: str = ""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip().strip("/")
        if not value or any(char in value for char in "+#"):
            raise ValueError("a topic prefix without wildcards")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class MqttSettings(_Strict):
    """``gridline camera-mqtt``: the broker Frigate publishes to."""

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str = ""
    #: From the environment: GRIDLINE_CAMERA__MQTT__PASSWORD.
    password: str = ""
    tls: bool = False
    #: A fixed client id with a persistent session: the broker keeps QoS 1 events while we reconnect.
    client_id: str = "gridline-camera"
    keepalive_seconds: int = Field(30, ge=5, le=3600)
    #: Longest wait between two reconnection attempts, in seconds (paho doubles from 1 s up to this).
    reconnect_max_seconds: int = Field(30, ge=1, le=3600)
    #: One per Frigate; none (the default): no subscriber (``gridline run`` does not start one, and
    #: ``gridline camera-mqtt`` refuses to start).
    instances: list[FrigateInstance] = []


class CameraSettings(_Strict):
    #: One camera + one rule + one ongoing problem is one incident; it closes after this many seconds
    #: without an active alarm (a "stop" alone does not close it: cameras resend and reorder).
    quiet_period_seconds: int = Field(300, ge=1, le=7 * 24 * 3600)
    #: A registered camera silent (no alarm, no heartbeat) this long is reported offline.
    offline_after_seconds: int = Field(900, ge=30)
    #: Days raw alarms are kept, then deleted by the housekeeping job (0: kept forever). Incidents and
    #: cases keep their own summary and pictures.
    alarm_retention_days: int = Field(180, ge=0, le=36500)
    #: Seconds between two rounds of housekeeping: closing quiet incidents, finding offline cameras.
    housekeeping_interval_seconds: int = Field(30, ge=1, le=3600)
    #: Largest request body a receiver accepts, in bytes (an NVR's multipart with several pictures).
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    #: Pictures larger than this are not attached to the case (the raw alarm keeps them), in bytes.
    max_picture_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    #: Pictures an incident collects (the first alarms' ones); repeats' pictures stay in their raw alarm.
    max_incident_pictures: int = Field(3, ge=0, le=20)
    #: Raw alarms up to this size are stored in their row; larger ones as a content-addressed blob, in bytes.
    raw_inline_bytes: int = Field(64 * 1024, ge=1024)
    #: A generic webhook's X-Gridline-Timestamp may differ from our clock by this much, in seconds.
    hmac_tolerance_seconds: int = Field(300, ge=10, le=3600)
    #: Key from which each generic sender's HMAC secret is derived (empty: server.secret_key).
    #: From the environment: GRIDLINE_CAMERA__SECRET_KEY.
    secret_key: str = ""
    #: Time zone assumed for camera times without a UTC offset (empty: server.timezone).
    camera_timezone: str = ""
    #: Stream entries one drainer round stores in one transaction.
    drain_batch: int = Field(2000, ge=1, le=50_000)
    #: Seconds one drain job runs before it hands over to the next (RQ job timeouts, fairness).
    drain_job_seconds: int = Field(30, ge=1, le=600)
    #: Seconds a drain job waits for more entries once the stream is empty before it stops (a new job
    #: reloads the registry and the open incidents; 0: stop at once).
    drain_idle_seconds: float = Field(2.0, ge=0, le=60)
    #: Seconds between flushes of incident counters (post counts, last alarm) to the database.
    flush_interval_seconds: float = Field(2.0, gt=0, le=60)
    #: Kinds whose incidents become cases; the others (plain motion, unclassified objects: noise in a
    #: district of 27,000 cameras) are stored and counted but reach no agent.
    case_kinds: list[Kind] = [kind for kind in Kind if kind not in (Kind.MOTION, Kind.OBJECT, Kind.HEARTBEAT)]
    mqtt: MqttSettings = MqttSettings()

    @field_validator("camera_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not value:
            return value
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value


_cache: dict[int, tuple[Config, CameraSettings]] = {}


def camera_settings(config: Config) -> CameraSettings:
    """The validated ``camera`` section of ``config``; raises :class:`ConfigError` naming the key."""
    cached = _cache.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    try:
        settings = CameraSettings.model_validate(config.camera or {})
    except ValidationError as err:
        problems = [
            "camera." + ".".join(str(part) for part in error["loc"]) + f": {error['msg']}" for error in err.errors()
        ]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from err
    _cache[id(config)] = (config, settings)
    return settings


def timezone_name(config: Config) -> str:
    return camera_settings(config).camera_timezone or config.server.timezone


_keys: dict[int, tuple[Runtime, bytes]] = {}


def secret_key(runtime: Runtime) -> bytes:
    """The key Digest nonces are signed with and generic senders' secrets are derived from."""
    cached = _keys.get(id(runtime))
    if cached is not None and cached[0] is runtime:
        return cached[1]
    from intake.web import secret_key as web_secret_key

    key = (camera_settings(runtime.config).secret_key or web_secret_key(runtime)).encode()
    _keys[id(runtime)] = (runtime, key)
    return key


def picture_policy(source_id: str) -> MediaPolicy:
    """Where incident pictures given by URL may come from: any public host, and the configured Frigates.

    A Frigate sits on the cameras' private network; naming its URL in ``camera.mqtt.instances`` is
    allowing it. Other private sources (an NVR subnet) go in ``worker.attachment_allowed_private``.
    """
    hosts = tuple(
        host
        for instance in camera_settings(get_runtime().config).mqtt.instances
        if (host := urlsplit(instance.url).hostname)
    )
    return MediaPolicy(private_hosts=hosts)
