"""Process-local copies of slowly changing tables, reloaded when any process announces a change.

Web, worker and receiver processes keep a few tables in memory because their hot paths read them
thousands of times a second: the grid cell index, the address gazetteer, the camera registry. An
import or an edit announces the change once it has committed by writing a new version token to
Redis; every process compares the token at most every :data:`VERSION_CHECK_SECONDS` and reloads when
it changed.
So a ``gridline grid import`` on one machine reaches every running web and worker process within
seconds, without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Generic, TypeVar

import redis
from sqlalchemy.orm import Session

from intake.queue import after_commit
from intake.runtime import get_runtime

log = logging.getLogger(__name__)

#: Seconds a process trusts its copy before asking Redis whether it changed.
VERSION_CHECK_SECONDS = 5.0

T = TypeVar("T")


class ProcessCopy(Generic[T]):
    """This process's copy of one thing loaded from the database, under a version shared in Redis.

    ``name`` names the version key; copies that share a name (say, the camera senders and the
    cameras) reload together.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._value: T | None = None
        self._version: bytes | None = None
        self._checked = float("-inf")

    def get(self, load: Callable[[], T], *, keep_empty: bool = True) -> T:
        """The copy, loaded with ``load`` on first use and again after a change was announced.

        ``keep_empty=False``: an empty copy (false, as an empty container is) is not kept but loaded again next time,
        for tables that may be filled without an announcement (the demo loading its district).
        """
        value = self._value
        if value is not None and time.monotonic() - self._checked < VERSION_CHECK_SECONDS:
            return value
        # One load at a time: a threaded web process would otherwise build one per waiting request.
        with self._lock:
            version = self._current_version()
            if self._value is None or version != self._version:
                loaded = load()
                if not keep_empty and not loaded:
                    self._value = None
                    return loaded
                self._value = loaded
                self._version = version
            return self._value

    def forget(self) -> None:
        """Drop this process's copy (the next :meth:`get` loads it again)."""
        with self._lock:
            self._value = None
            self._checked = float("-inf")

    def announce_change(self, session: Session | None = None) -> None:
        """Tell every process its copy is stale: after ``session`` commits, or now without one."""
        if session is not None:
            after_commit(session, self.announce_change)
            return
        runtime = get_runtime()
        try:
            # A fresh token, not a counter: a counter starts again at 1 after Redis loses its data, and
            # a process that had seen that number would keep its stale copy.
            runtime.redis.set(self._key(), uuid.uuid4().hex)
        except redis.RedisError:
            # Other processes keep their copy until they restart; this one reloads at once.
            log.warning("could not announce a change of %s to other processes", self.name, exc_info=True)
        self.forget()

    def _current_version(self) -> bytes | None:
        self._checked = time.monotonic()
        runtime = get_runtime()
        try:
            return runtime.redis.get(self._key())
        except redis.RedisError:
            log.warning("could not read the version of %s; keeping this process's copy", self.name)
            return self._version

    def _key(self) -> str:
        return get_runtime().key("version", self.name)
