"""Per-key ordered work: one lane per call, lanes run side by side.

Events of one call must be handled in the order Asterisk sent them, but a slow step of one call (a
database write, a slow REST answer) must not hold up another call's events, nor the WebSocket reader.
Each key gets a FIFO and, while it has work, one task draining it; an idle lane holds no task.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Worker = Callable[[Any], Awaitable[None]]


class Lanes:
    """Run ``worker(item)`` for each submitted item, in submission order per key, concurrently across keys."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._queues: dict[str, deque[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, key: str, item: Any) -> None:
        """Queue ``item`` on lane ``key`` (never blocks: the reader must keep reading)."""
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(item)
            return
        queue = self._queues[key] = deque([item])
        task = asyncio.get_running_loop().create_task(self._drain(key, queue), name=f"lane-{key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def busy(self) -> int:
        """Lanes with work queued or running."""
        return len(self._queues)

    async def _drain(self, key: str, queue: deque[Any]) -> None:
        # Checking for emptiness and removing the lane happen with no await in between, so an item
        # submitted meanwhile either lands in this queue before the check or starts a new lane.
        while queue:
            item = queue.popleft()
            try:
                await self._worker(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lane %s: a step failed; the lane goes on with the next event", key)
        del self._queues[key]

    async def join(self) -> None:
        """Wait until every lane is idle."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._queues.clear()
