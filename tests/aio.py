"""Running a coroutine from a test when the main thread may already run an event loop.

Playwright's sync API (the session's browser fixture) keeps an event loop running in the main
thread, and ``asyncio.run`` refuses to start inside one; a fresh thread has no loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 120.0) -> T:
    """``asyncio.run(make())`` in a thread of its own; re-raises what the coroutine raised."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(make())
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=target, name="test-asyncio", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"coroutine still running after {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
