"""Grid cells, places, departments, routing rules, deadlines, supervision and the closed loop."""

from __future__ import annotations

from typing import Any


def init_app(app: Any) -> None:
    """Check the routing rules at start-up: a typo in a category code would never match."""
    from routing.rules import validate
    from routing.settings import routing_settings

    validate(routing_settings(app.extensions["gridline"].config))


def init_worker() -> None:
    from intake.cases import on_transition
    from intake.processing import register_enricher, register_periodic
    from routing.deadlines import update_clocks
    from routing.geo import locate_cases
    from routing.supervision import SUPERVISE_INTERVAL_SECONDS, supervise
    from routing.unit_messages import notify_unit

    register_enricher(locate_cases)
    # Web and worker processes both call this: console actions change clocks as much as worker batches.
    on_transition(update_clocks)
    on_transition(notify_unit)  # after update_clocks: the SMS quotes the new deadline
    register_periodic(supervise, SUPERVISE_INTERVAL_SECONDS)
