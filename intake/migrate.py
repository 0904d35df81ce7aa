"""``gridline db upgrade``: Alembic migrations run programmatically against the runtime's engine."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import inspect

from intake.runtime import Runtime

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(runtime: Runtime) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = runtime.db.engine
    return config


def upgrade(runtime: Runtime, revision: str = "heads") -> None:
    # Many processes may start at once (gunicorn, workers): one migrates, the others wait.
    with runtime.redis.lock(runtime.key("migrate"), timeout=300, blocking_timeout=300):
        command.upgrade(alembic_config(runtime), revision)


def is_empty(runtime: Runtime) -> bool:
    return not inspect(runtime.db.engine).has_table("cases")
