"""The ``open311:`` section of ``config.yaml``: the GeoReport v2 services offered to partner platforms.

Each service (``service_code``) maps onto one subclass of our taxonomy and may define attributes (extra
form fields, with the GeoReport datatypes). With no ``services`` configured, every subclass of the
taxonomy is a service whose code is the subclass code. The intake core keeps the section as raw data
(``Config.open311``); this module validates it (errors name the key, ``open311.services.2.category``).
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from intake.categories import is_known
from intake.categories import load as load_categories
from intake.config import Config, check_host_patterns
from intake.errors import ConfigError

Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
ServiceType = Literal["realtime", "batch", "blackbox"]
LIST_DATATYPES = frozenset({"singlevaluelist", "multivaluelist"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ValueSettings(_Strict):
    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)

    @field_validator("key", mode="before")
    @classmethod
    def _key(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value  # YAML reads 01 as a number


class AttributeSettings(_Strict):
    """One attribute of a service definition (GeoReport v2 field names)."""

    code: str = Field(min_length=1, max_length=64, pattern=r"^[^\[\]\s]+$")
    datatype: Datatype = "string"
    #: ``false``: only information shown to the user; the client sends no value.
    variable: bool = True
    required: bool = False
    description: str = ""
    datatype_description: str = ""
    #: Position in the form; left out, the position in this list.
    order: int | None = Field(None, ge=1)
    values: list[ValueSettings] = []

    @model_validator(mode="after")
    def _values(self) -> AttributeSettings:
        if self.datatype in LIST_DATATYPES and not self.values:
            raise ValueError(f"a {self.datatype} needs values")
        if self.datatype not in LIST_DATATYPES and self.values:
            raise ValueError(f"values are only for singlevaluelist and multivaluelist, not {self.datatype}")
        keys = [value.key for value in self.values]
        if len(keys) != len(set(keys)):
            raise ValueError("value keys must be unique")
        return self

    def value_name(self, key: str) -> str:
        return next((value.name for value in self.values if value.key == key), key)


class ServiceSettings(_Strict):
    service_code: str = Field(min_length=1, max_length=64, pattern=r"^[^/\s]+$")
    service_name: str = Field(min_length=1, max_length=200)
    #: The taxonomy subclass a request of this service is filed under.
    category: str
    description: str = ""
    group: str = ""
    keywords: list[str] = []
    #: realtime: the request id at once; batch: a token, the id once the intake worker took the report
    #: in; blackbox: neither.
    type: ServiceType = "realtime"
    #: What the requester can expect (returned with the request).
    service_notice: str = ""
    attributes: list[AttributeSettings] = []

    @field_validator("service_code", mode="before")
    @classmethod
    def _code(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if not is_known(value):
            raise ValueError(f"{value!r} is not a subclass code of the taxonomy")
        return value

    @model_validator(mode="after")
    def _attributes(self) -> ServiceSettings:
        codes = [attribute.code for attribute in self.attributes]
        if len(codes) != len(set(codes)):
            raise ValueError("attribute codes must be unique within a service")
        orders = [attribute.order for attribute in self.attributes if attribute.order is not None]
        if len(orders) != len(set(orders)):
            raise ValueError("attribute orders must be unique within a service")
        return self

    @property
    def metadata(self) -> bool:
        return bool(self.attributes)

    def ordered_attributes(self) -> list[tuple[int, AttributeSettings]]:
        """``(order, attribute)`` in the order the form shows them."""
        numbered = [(attribute.order or index, attribute) for index, attribute in enumerate(self.attributes, 1)]
        return sorted(numbered, key=lambda pair: pair[0])


class Open311Settings(_Strict):
    #: Our jurisdiction_id (the site's domain, by convention). Requests may leave it out or send it empty;
    #: any other value is answered 404.
    jurisdiction_id: str = ""
    #: Language of service names made from the taxonomy and of status notes.
    language: Literal["zh", "en"] = "zh"
    #: Empty: every subclass of the taxonomy, its code the service code.
    services: list[ServiceSettings] = []
    #: Service discovery (``/open311/discovery.json``): how to reach us and get an API key.
    contact: str = ""
    key_service: str = ""
    #: When the services last changed, sortable (clients refresh their cached lists when it moves).
    changeset: str = "2025-01-01 00:00"
    #: GET requests: at most this many, and a date range of at most this many days (the spec's 1000 and 90).
    max_requests: int = Field(1000, ge=1, le=10_000)
    max_days: int = Field(90, ge=1, le=366)
    #: Hosts partners' ``media_url`` photos may be downloaded from (``name``, ``*.domain``, IP or CIDR;
    #: also every redirect). Empty: any host with a public address.
    media_hosts: list[str] = []

    @field_validator("media_hosts")
    @classmethod
    def _media_hosts(cls, value: list[str]) -> list[str]:
        return check_host_patterns(value)

    @model_validator(mode="after")
    def _unique_codes(self) -> Open311Settings:
        codes = [service.service_code for service in self.services]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"service codes must be unique: {', '.join(duplicates)}")
        return self

    @functools.cached_property
    def by_code(self) -> dict[str, ServiceSettings]:
        services = self.services or _taxonomy_services(self.language)
        return {service.service_code: service for service in services}


def _taxonomy_services(language: str) -> list[ServiceSettings]:
    return [
        ServiceSettings(
            service_code=category.code,
            service_name=category.name(language),
            category=category.code,
            group=category.group(language),
            keywords=[category.class_code],
        )
        for category in load_categories().values()
    ]


_cache: dict[int, tuple[Any, Open311Settings]] = {}


def open311_settings(config: Config) -> Open311Settings:
    """The validated ``open311`` section of ``config``; raises :class:`ConfigError` naming the key."""
    section = getattr(config, "open311", None) or {}
    # Keyed by the section itself: tests (and a reload) may put a new dict on the same config.
    cached = _cache.get(id(config))
    if cached is not None and cached[0] is section:
        return cached[1]
    settings = parse_open311_settings(section)
    _cache[id(config)] = (section, settings)
    return settings


def parse_open311_settings(section: dict[str, Any]) -> Open311Settings:
    try:
        return Open311Settings.model_validate(section)
    except ValidationError as err:
        problems = [
            "open311." + ".".join(str(part) for part in error["loc"]) + f": {error['msg']}" for error in err.errors()
        ]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from err
