"""The ``app:`` section of ``config.yaml``: sign-in codes and sessions of the citizen app.

The grid workers' sign-in uses the same code rules (``app.codes``); their sessions are set in ``grid:``.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from intake.config import Config
from intake.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeSettings(_Strict):
    #: Digits in a sign-in code.
    length: int = Field(6, ge=4, le=10)
    #: How long a code works, in seconds.
    ttl_seconds: int = Field(300, ge=30, le=3600)
    #: Wrong guesses before a code dies.
    max_attempts: int = Field(5, ge=1, le=20)
    #: Seconds before another code may be sent to the same number.
    resend_after_seconds: int = Field(60, ge=0, le=3600)
    #: Codes one number may receive per hour (each is an SMS somebody pays for).
    per_hour: int = Field(5, ge=1, le=100)


class AppSettings(_Strict):
    codes: CodeSettings = CodeSettings()
    #: How long a citizen stays signed in, in days.
    session_days: int = Field(30, ge=1, le=365)


T = TypeVar("T", bound=BaseModel)

_cache: dict[int, tuple[Config, AppSettings]] = {}


def app_settings(config: Config) -> AppSettings:
    cached = _cache.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    settings = validate_section(AppSettings, config.app, "app")
    _cache[id(config)] = (config, settings)
    return settings


def validate_section(model: type[T], data: object, name: str) -> T:
    """``data`` as ``model``; a :class:`ConfigError` naming each wrong key (``app.codes.length``)."""
    try:
        return model.model_validate(data or {})
    except ValidationError as err:
        problems = [f"{name}." + ".".join(str(p) for p in error["loc"]) + f": {error['msg']}" for error in err.errors()]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from err
