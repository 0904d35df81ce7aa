"""Where the packages meet. Only the app factory, the CLI and migrations import this module.

Every package with a part to play exposes ``init_app(app)`` (blueprints) and/or ``init_worker()``
(enrichers, senders, transition hooks); both web and worker processes call :func:`init_worker`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Packages that join the application, in the order they are wired.
PACKAGES = ("routing", "channels", "agent_ui", "ivr")
#: Modules that declare tables (imported so that migrations see every table).
MODEL_MODULES = (
    "intake.models",
    "routing.models",
    "ivr.models",
    "channels.city.models",
    "channels.open311.models",
    "channels.grid.models",
    "channels.app.models",
    "channels.email.models",
    "channels.leader.models",
    "channels.camera.models",
)

_worker_ready = False


def import_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)


def init_worker() -> None:
    """Register every package's enrichers, senders and hooks in this process (once)."""
    global _worker_ready
    if _worker_ready:
        return
    import_models()
    import intake.notify  # noqa: F401  (registers the status-update hook)

    for name in PACKAGES:
        module = importlib.import_module(name)
        if hasattr(module, "init_worker"):
            module.init_worker()
    _worker_ready = True


def init_app(app: Any) -> None:
    init_worker()
    for name in PACKAGES:
        module = importlib.import_module(name)
        if hasattr(module, "init_app"):
            module.init_app(app)
