"""Grid cells, places, departments and (in later work) routing rules, deadlines and supervision."""

from __future__ import annotations

from typing import Any


def init_app(app: Any) -> None:
    """Nothing to mount yet; the grid lookup is wired as an intake enricher by :func:`init_worker`."""


def init_worker() -> None:
    from intake.processing import register_enricher
    from routing.geo import locate_cases

    register_enricher(locate_cases)
