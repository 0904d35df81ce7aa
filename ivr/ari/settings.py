"""Settings of the Stasis application: where ARI is, who we are, how we reconnect.

They come from the ``ivr.ari`` section of ``config.yaml`` (overridable as ``GRIDLINE_IVR__ARI__<KEY>``)
when the core configuration has an ``ivr`` section, and otherwise from ``GRIDLINE_ARI__<KEY>`` variables.
The password is a secret: give it by environment, never in ``config.yaml``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from intake.errors import ConfigError


class AriSettings(BaseSettings):
    """One Asterisk, one Stasis application."""

    model_config = SettingsConfigDict(env_prefix="GRIDLINE_ARI__", extra="forbid", case_sensitive=False)

    #: Whether ``gridline run`` also starts ``gridline ari`` (a machine with an Asterisk to drive).
    enabled: bool = False
    #: Base URL of ARI: Asterisk's HTTP server (http.conf) plus ``/ari``.
    url: str = "http://127.0.0.1:8088/ari"
    #: An ``[user]`` section of ari.conf.
    username: str = "gridline"
    password: str = ""
    #: The Stasis application name; the dialplan sends calls to ``Stasis(<app>)``.
    app: str = "gridline"
    #: First wait before reconnecting the event WebSocket, in seconds; doubled after each failure.
    reconnect_min_seconds: float = Field(0.5, gt=0)
    #: Longest wait between two reconnection attempts, in seconds.
    reconnect_max_seconds: float = Field(30.0, gt=0)
    #: Timeout of one REST request, in seconds.
    request_timeout_seconds: float = Field(10.0, gt=0)
    #: Concurrent HTTP connections to ARI (each call's steps are sequential, calls run side by side).
    max_connections: int = Field(64, ge=1, le=1000)
    #: Where a console user taking calls is rung: an Asterisk endpoint pattern with ``{username}`` and/or
    #: ``{user_id}`` (``PJSIP/{username}``: one PJSIP endpoint per agent, named as their user). The agents
    #: are the console's users whose presence is ``available`` (:mod:`ivr.acd`), rung for
    #: ``ivr.queue.agent_ring_seconds``.
    agent_endpoint: str = "PJSIP/{username}"
    #: A fixed list of endpoints that take queued calls instead of the console's agents (``PJSIP/agent1``):
    #: for a set-up without the console (``gridline ari --menu basic``, the benchmark). Empty: presence.
    agent_endpoints: list[str] = []
    #: Seconds a phone of ``agent_endpoints`` rings before the next one is tried.
    agent_ring_seconds: int = Field(20, ge=1, le=300)
    #: Seconds a waiting caller spends on hold between two announcements of their place in the queue
    #: (each followed by "1 message / 2 call back"; those keys also work on hold).
    queue_announce_seconds: float = Field(30.0, gt=0, le=3600)
    #: Seconds between two looks for an available agent while calls wait (a call joining the queue, an
    #: agent's call ending or ringing out look at once).
    dispatch_poll_seconds: float = Field(2.0, gt=0, le=300)
    #: Music-on-hold class of the holding bridge (musiconhold.conf).
    moh_class: str = "default"
    #: Prompt name → media URI overrides (``sound:gridline/greeting``); see ``ivr.ari.prompts``.
    prompts: dict[str, str] = {}

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL such as http://127.0.0.1:8088/ari")
        return value.rstrip("/")

    @field_validator("agent_endpoint")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            sample = value.format(username="agent", user_id=1)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(f"use only {{username}} and {{user_id}} in the pattern ({err})") from err
        if "/" not in sample:
            raise ValueError("must be an endpoint such as PJSIP/{username}")
        return value

    @model_validator(mode="after")
    def _backoff(self) -> AriSettings:
        if self.reconnect_max_seconds < self.reconnect_min_seconds:
            raise ValueError("reconnect_max_seconds must not be below reconnect_min_seconds")
        return self

    @property
    def events_url(self) -> str:
        """The event WebSocket's URL without query string (``ws://host:8088/ari/events``)."""
        scheme = "wss" if self.url.startswith("https") else "ws"
        return f"{scheme}://{self.url.split('://', 1)[1]}/events"


def load_ari_settings(config: Any = None, **overrides: Any) -> AriSettings:
    """Read the settings from ``config.ivr['ari']`` when the core config has that section, else the environment.

    Raises :class:`ConfigError` naming each wrong key.
    """
    section: dict[str, Any] = {}
    ivr = getattr(config, "ivr", None)
    if isinstance(ivr, dict) and isinstance(ivr.get("ari"), dict):
        section = dict(ivr["ari"])
    section.update(overrides)
    try:
        return AriSettings(**section)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            key = ".".join(str(part) for part in error["loc"]) or "ari"
            problems.append(f"ivr.ari.{key} (or GRIDLINE_ARI__{key.upper()}): {error['msg']}")
        raise ConfigError("invalid ARI settings:\n  " + "\n  ".join(problems)) from err
