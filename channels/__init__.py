"""Channel adapters: one folder per source, listed once in :mod:`channels.registry`."""

from __future__ import annotations

from typing import Any

from channels.registry import CHANNELS


def init_app(app: Any) -> None:
    for channel in CHANNELS:
        channel.init_app(app)


def init_worker() -> None:
    for channel in CHANNELS:
        channel.init_worker()
