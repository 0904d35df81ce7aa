"""What the PostgreSQL benchmarks share: where they run, an empty schema, percentiles.

Scripts import it as ``benchlib`` (Python puts the script's folder on ``sys.path``).
"""

from __future__ import annotations

import os
import statistics
from typing import Any

from sqlalchemy import text

#: The benchmarks' own database and Redis database: each run drops and rebuilds the schema.
DATABASE_URL = os.environ.get("GRIDLINE_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench")
REDIS_URL = os.environ.get("GRIDLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")


def ms(samples: list[float], q: int) -> float:
    """The ``q``-th percentile of ``samples`` (seconds), in milliseconds."""
    return round(statistics.quantiles(samples, n=100)[q - 1] * 1000, 2)


def empty_schema(runtime: Any) -> None:
    """Drop everything in the bench database and migrate it afresh."""
    from intake import migrate

    with runtime.db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(runtime)


def bench_runtime(**overrides: Any) -> Any:
    """A runtime on the bench database and Redis (``overrides`` go to the config)."""
    from intake.config import load_config
    from intake.runtime import init_runtime

    return init_runtime(
        load_config(
            database={"url": DATABASE_URL}, redis={"url": REDIS_URL}, data={"dir": "/tmp/gl-bench"}, **overrides
        )
    )
