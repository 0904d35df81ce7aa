"""The ``routing:`` section of ``config.yaml``: rules, default owners, deadline clocks, calendar.

The intake core keeps the section as raw data; this module validates it (errors name the key,
``routing.rules.3.unit``) and caches the result per configuration object.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from intake.config import Config
from intake.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|wd)\s*$")


class Duration(BaseModel):
    """A clock length: minutes, hours, calendar days, or working days (``30m``, ``2h``, ``3d``, ``5wd``)."""

    model_config = ConfigDict(frozen=True)

    amount: float
    unit: Literal["m", "h", "d", "wd"]

    @classmethod
    def parse(cls, text: str | int | float) -> Duration:
        if isinstance(text, int | float):
            return cls(amount=float(text), unit="h")
        match = _DURATION.match(str(text))
        if not match:
            raise ValueError(f"{text!r} is not a duration like 30m, 2h, 3d or 5wd")
        return cls(amount=float(match.group(1)), unit=match.group(2))  # type: ignore[arg-type]

    @property
    def working_days(self) -> bool:
        return self.unit == "wd"

    def as_timedelta(self) -> timedelta:
        """The length in real time; for working days use :mod:`routing.calendar` instead."""
        if self.unit == "m":
            return timedelta(minutes=self.amount)
        if self.unit == "h":
            return timedelta(hours=self.amount)
        return timedelta(days=self.amount)

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount}{self.unit}"


def _duration(value: Any) -> Duration | None:
    if value is None or isinstance(value, Duration):
        return value
    return Duration.parse(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Clocks(_Strict):
    """The three clocks of a dispatched case; each may be left out in an override."""

    #: Sign for it (签收).
    respond: Duration | None = None
    #: Finish it (办结).
    finish: Duration | None = None
    #: Report back to the citizen (反馈).
    feedback: Duration | None = None

    _parse = field_validator("respond", "finish", "feedback", mode="before")(_duration)


class DeadlineSettings(_Strict):
    default: Clocks = Clocks(
        respond=Duration(amount=2, unit="h"),
        finish=Duration(amount=5, unit="wd"),
        feedback=Duration(amount=7, unit="wd"),
    )
    #: Overrides by priority (1 urgent … 4 low); the stricter of category and priority wins.
    priority: dict[int, Clocks] = {}
    #: Overrides by category subclass or class code.
    category: dict[str, Clocks] = {}
    #: How long agents have to verify a waiting case, by priority (the queue's countdown).
    verify: dict[int, Duration] = {
        1: Duration(amount=10, unit="m"),
        2: Duration(amount=30, unit="m"),
        3: Duration(amount=2, unit="h"),
        4: Duration(amount=4, unit="h"),
    }
    #: Supervision warns a unit when this share of a clock has run (0.8: 80 %).
    warn_at: float = Field(0.8, gt=0, lt=1)
    #: Escalate to a supervisor and the unit's head this long after a case went overdue.
    escalate_after: Duration = Duration(amount=1, unit="wd")

    _parse_verify = field_validator("verify", mode="before")(
        lambda value: {int(k): _duration(v) for k, v in (value or {}).items()}
    )
    _parse_escalate = field_validator("escalate_after", mode="before")(_duration)


class CalendarSettings(_Strict):
    """Working days: Monday to Friday except holidays, plus make-up working days (调休)."""

    #: ISO weekdays that are not working days (6 Saturday, 7 Sunday).
    weekend: list[int] = [6, 7]
    #: Public holidays (法定节假日) that fall on weekdays.
    holidays: list[date] = []
    #: Weekend days that are working days (调休上班).
    workdays: list[date] = []


class Rule(_Strict):
    """Category × area → responsible unit. Empty lists match anything."""

    #: Category subclass codes (``street-light``) or class codes (``public-facilities``).
    categories: list[str] = []
    #: Area code prefixes: a town (9 digits), a community (12) or a grid cell (15).
    areas: list[str] = []
    unit: str
    #: Shown to the agent as the reason for the proposal.
    name: str = ""


class RoutingSettings(_Strict):
    rules: list[Rule] = []
    #: Default owner (属地兜底) by area code prefix; otherwise the town's sub-center ``town-<code>``.
    default_owners: dict[str, str] = {}
    deadlines: DeadlineSettings = DeadlineSettings()
    calendar: CalendarSettings = CalendarSettings()
    #: Map background tiles (``https://tiles.example/{z}/{x}/{y}.png``); empty: vectors only, no internet.
    map_tile_url: str = ""


_cache: dict[int, tuple[Config, RoutingSettings]] = {}


def routing_settings(config: Config) -> RoutingSettings:
    """The validated ``routing`` section of ``config``; raises :class:`ConfigError` naming the key."""
    cached = _cache.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    try:
        settings = RoutingSettings.model_validate(config.routing or {})
    except ValidationError as err:
        problems = [
            "routing." + ".".join(str(part) for part in error["loc"]) + f": {error['msg']}" for error in err.errors()
        ]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from err
    _cache[id(config)] = (config, settings)
    return settings
