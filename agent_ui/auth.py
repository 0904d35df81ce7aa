"""Console sign-in: passwords (scrypt), lockout after repeated failures, session-based roles."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import g, redirect, request, session, url_for
from sqlalchemy import select

from intake.auth import Role, check_password
from intake.errors import AuthError
from intake.models import User, utcnow
from intake.web import json_error, runtime

log = logging.getLogger(__name__)

#: Failed sign-ins in a row before an account is locked, and for how long, in minutes.
MAX_FAILED_LOGINS = 5
LOCKOUT_MINUTES = 15
#: Roles that work in the console (department staff get their own pages later).
CONSOLE_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)

F = TypeVar("F", bound=Callable[..., Any])


class LockedOut(AuthError):
    pass


def authenticate(username: str, password: str) -> User:
    """The user, if the password is right and the account is neither locked nor disabled."""
    now = utcnow()
    problem: AuthError | None = None
    with runtime().db.transaction() as db:
        user = db.scalar(select(User).where(User.username == username).with_for_update())
        if user is None or not user.active:
            raise AuthError("wrong username or password")
        if user.locked_until and user.locked_until > now:
            raise LockedOut(f"locked until {user.locked_until.isoformat(timespec='minutes')}")
        if check_password(user, password):
            user.failed_logins = 0
            user.locked_until = None
        else:
            # Counted in this transaction, which must commit: raise only after it.
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILED_LOGINS:
                user.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
                user.failed_logins = 0
                log.warning("user %s locked out after %d failed sign-ins", user.id, MAX_FAILED_LOGINS)
            problem = AuthError("wrong username or password")
        db.flush()
        db.expunge(user)
    if problem is not None:
        raise problem
    return user


def sign_in(user: User) -> None:
    session.clear()  # a new session id on sign-in: no fixation
    session["user_id"] = user.id
    session.permanent = True


def current_user() -> User | None:
    if "console_user" not in g:
        user_id = session.get("user_id")
        user = None
        if user_id is not None:
            with runtime().db.transaction() as db:
                user = db.get(User, user_id)
                if user is not None and not user.active:
                    user = None
                if user is not None:
                    db.expunge(user)
        g.console_user = user
    return g.console_user


def login_required(*roles: Role) -> Callable[[F], F]:
    """Pages redirect to the sign-in page; ``/console/api/`` answers 401/403 as JSON."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            is_api = request.path.startswith("/console/api/")
            if user is None:
                if is_api:
                    return json_error(401, "sign in first")
                return redirect(url_for("console.login", next=request.full_path))
            if roles and Role(user.role) not in roles:
                if is_api:
                    return json_error(403, f"role {user.role} may not do this")
                return ("403 Forbidden: your role may not use this page", 403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
