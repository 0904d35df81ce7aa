"""The ``grid:`` section of ``config.yaml``: the grid workers' phone sessions and task notices."""

from __future__ import annotations

from pydantic import Field

from channels.app.settings import _Strict, validate_section
from intake.config import Config


class GridSettings(_Strict):
    #: How long a phone signed in with an SMS code stays signed in, in days.
    session_days: int = Field(90, ge=1, le=365)
    #: Text the worker when the center gives them a check task.
    notify_tasks_by_sms: bool = True


_cache: dict[int, tuple[Config, GridSettings]] = {}


def grid_settings(config: Config) -> GridSettings:
    cached = _cache.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    settings = validate_section(GridSettings, config.grid, "grid")
    _cache[id(config)] = (config, settings)
    return settings
