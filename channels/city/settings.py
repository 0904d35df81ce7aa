"""The ``city:`` section of ``config.yaml``: the city platforms that dispatch work orders to the district.

The intake core keeps the section as raw data (``Config.city``); this module validates it (errors name
the key, ``city.platforms.beijing.categories.供水``) and caches the result per section. Secrets come from
the environment: ``GRIDLINE_CITY__PLATFORMS__<NAME>__SECRET``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from intake.categories import is_known
from intake.config import Config, check_host_patterns
from intake.errors import ConfigError

#: Platform names appear in URLs and environment variables (which pydantic-settings lower-cases).
_PLATFORM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlatformSettings(_Strict):
    """One city platform: how it signs its pushes, where it hears back, how its categories map."""

    #: Shared HMAC-SHA256 key for both directions; from the environment, never the file.
    secret: str = ""
    #: Where Gridline reports each step (sign for, result, return, extension request); empty: nowhere.
    callback_url: str = ""
    #: The city's category (its ``scene`` field, 专项) → our taxonomy's subclass code. Unmapped ones
    #: arrive without a category and the agents classify them.
    categories: dict[str, str] = {}
    #: Priority of the platform's cases in the agents' queue (1 urgent … 4 low).
    priority: int = Field(2, ge=1, le=4)
    #: Pushes whose X-Timestamp is further than this from our clock are refused (replays), in seconds.
    max_clock_skew_seconds: int = Field(300, ge=10, le=3600)
    #: Seconds one callback to the city may take.
    callback_timeout_seconds: float = Field(15.0, gt=0, le=120)
    #: Hosts the platform's attachments may be downloaded from (``name``, ``*.domain``, IP or CIDR; also
    #: every redirect). Empty: any host with a public address. A private address needs
    #: ``worker.attachment_allowed_private`` too.
    attachment_hosts: list[str] = []

    @field_validator("attachment_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return check_host_patterns(value)

    @field_validator("callback_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(code for code in value.values() if not is_known(code))
        if unknown:
            raise ValueError(f"not subclass codes of the taxonomy: {', '.join(unknown)}")
        return value


class CitySettings(_Strict):
    platforms: dict[str, PlatformSettings] = {}

    @field_validator("platforms")
    @classmethod
    def _names(cls, value: dict[str, PlatformSettings]) -> dict[str, PlatformSettings]:
        for name in value:
            if not _PLATFORM_NAME.match(name):
                raise ValueError(f"platform name {name!r}: lower-case letters, digits, - and _ (up to 32)")
        return value


_cache: dict[int, tuple[Any, CitySettings]] = {}


def city_settings(config: Config) -> CitySettings:
    """The validated ``city`` section of ``config``; raises :class:`ConfigError` naming the key."""
    section = getattr(config, "city", None) or {}
    # Keyed by the section itself: tests (and a reload) may put a new dict on the same config.
    cached = _cache.get(id(config))
    if cached is not None and cached[0] is section:
        return cached[1]
    settings = parse_city_settings(section)
    _cache[id(config)] = (section, settings)
    return settings


def parse_city_settings(section: dict[str, Any]) -> CitySettings:
    try:
        return CitySettings.model_validate(section)
    except ValidationError as err:
        problems = [
            "city." + ".".join(str(part) for part in error["loc"]) + f": {error['msg']}" for error in err.errors()
        ]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from err


def attachment_policy(source_id: str) -> Any:
    """Where the attachments of a city order (source id ``<platform>:<code>``) may be downloaded from."""
    from intake.media import MediaPolicy
    from intake.runtime import get_runtime

    platform = city_settings(get_runtime().config).platforms.get(source_id.split(":", 1)[0])
    hosts = platform.attachment_hosts if platform is not None else []
    return MediaPolicy(hosts=tuple(hosts))
