"""Users, roles and bearer tokens for the JSON API."""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from intake.errors import AuthError
from intake.models import ApiToken, User, utcnow


class Role(StrEnum):
    AGENT = "agent"  # seat agent: verifies and dispatches every case
    SUPERVISOR = "supervisor"
    DEPARTMENT = "department"  # staff of one department or town; sees its own cases
    LEADER = "leader"
    ADMIN = "admin"


#: Roles that may see a reporter's full phone number (to call back); every view is recorded.
FULL_PHONE_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
#: Password hashing: scrypt (Werkzeug's current default), named explicitly so it cannot drift.
PASSWORD_METHOD = "scrypt"
MIN_PASSWORD_CHARS = 8


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def create_user(
    session: Session,
    username: str,
    role: Role | str,
    password: str,
    *,
    display_name: str = "",
    department_code: str | None = None,
) -> User:
    role = Role(role)
    if len(password) < MIN_PASSWORD_CHARS:
        raise AuthError(f"password: at least {MIN_PASSWORD_CHARS} characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AuthError(f"user {username!r} exists already")
    user = User(
        username=username,
        role=role.value,
        password_hash=hash_password(password),
        display_name=display_name or username,
        department_code=department_code,
    )
    session.add(user)
    session.flush()
    return user


def check_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, username: str, label: str = "") -> str:
    """Create a bearer token for ``username`` and return it; only its hash is stored."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AuthError(f"no user {username!r}")
    token = "gl_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), label=label))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked or not row.user.active:
        raise AuthError("the bearer token is unknown or revoked")
    row.last_used_at = utcnow()
    return row.user
