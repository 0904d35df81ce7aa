"""Shared web plumbing: JSON errors, bearer-token auth, the request's language, extensions."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Select, select
from werkzeug.exceptions import HTTPException

from intake.auth import Role, user_for_token
from intake.errors import AuthError
from intake.i18n import pick_language, translate
from intake.models import Attachment, Blob, Case, User
from intake.runtime import Runtime

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

F = TypeVar("F", bound=Callable[..., Any])


def runtime() -> Runtime:
    return current_app.extensions["gridline"]


def json_error(status: int, message: str, **extra: Any) -> Response:
    response = jsonify({"error": message, "status": status, **extra})
    response.status_code = status
    return response


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/healthz")) or request.is_json


def lang() -> str:
    if "lang" not in g:
        g.lang = pick_language(
            request.args.get("lang"),
            request.cookies.get("lang"),
            request.headers.get("Accept-Language"),
            runtime().config.server.default_language,
        )
    return g.lang


def t(key: str, **values: object) -> str:
    return translate(key, lang(), **values)


def require_token(*roles: Role) -> Callable[[F], F]:
    """Bearer-token auth for JSON endpoints; ``roles`` limits who may call (empty: any user)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                return json_error(401, "missing bearer token (Authorization: Bearer <token>)")
            try:
                with runtime().db.transaction() as session:
                    user = user_for_token(session, token.strip())
                    session.expunge(user)
            except AuthError as err:
                return json_error(401, str(err))
            if roles and Role(user.role) not in roles:
                return json_error(403, f"role {user.role} may not do this")
            g.user = user
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def attachment_response(attachment_id: int, restrict: Callable[[Select[Any]], Select[Any]] | None = None) -> Response:
    """A stored attachment's bytes, served so that a browser cannot be tricked into running them.

    ``restrict`` narrows the query to what the caller may see (it can join ``Case``).
    """
    query = (
        select(Attachment.content_type, Blob.data)
        .join(Blob, Blob.sha256 == Attachment.sha256)
        .join(Case, Case.id == Attachment.case_id)
        .where(Attachment.id == attachment_id)
    )
    with runtime().db.transaction() as session:
        row = session.execute(restrict(query) if restrict else query).first()
    if row is None:
        return json_error(404, f"no stored attachment {attachment_id}")
    response = Response(row.data, mimetype=row.content_type)
    response.headers["Content-Disposition"] = "inline"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def current_user() -> User:
    return g.user


def secret_key(rt: Runtime) -> str:
    """The configured key, or one generated once and kept in the data folder (single machine)."""
    if rt.config.server.secret_key:
        return rt.config.server.secret_key
    path: Path = rt.config.data.dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def init_app(app: Flask, rt: Runtime) -> None:
    app.config.update(
        SECRET_KEY=secret_key(rt),
        MAX_CONTENT_LENGTH=rt.config.server.max_request_bytes,
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=rt.config.public_url.startswith("https://"),
        RATELIMIT_STORAGE_URI=_limiter_storage(rt.redis_url),
        RATELIMIT_KEY_PREFIX=rt.config.redis.key_prefix + "ratelimit",
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    csrf.init_app(app)
    limiter.init_app(app)
    app.jinja_env.globals.update(t=t, lang=lang)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response | HTTPException:
        if wants_json():
            return json_error(err.code or 500, err.description or err.name)
        return err


def _limiter_storage(url: str) -> str:
    if url.startswith("unix://"):
        return "redis+unix://" + url.removeprefix("unix://")
    return url
