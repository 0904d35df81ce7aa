"""Errors of the phone-facing APIs (the citizen app, grid workers), each with its HTTP status."""

from __future__ import annotations

from channels.errors import AuthFailed, ChannelError, MalformedPayload


class NotSignedIn(AuthFailed):
    """No bearer token, or one that is unknown, revoked or expired."""

    status = 401


class CodeRejected(AuthFailed):
    """A wrong, expired, used or exhausted sign-in code; ``code``: ``code_wrong``, ``code_expired`` or
    ``code_exhausted``."""

    status = 401

    def __init__(self, message: str, code: str = "code_wrong") -> None:
        super().__init__(message)
        self.code = code


class RateLimited(ChannelError):
    """Too many sign-in codes asked for; ``retry_after`` says when to try again, in seconds."""

    status = 429

    def __init__(self, message: str, retry_after: int, code: str = "rate_limited") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.code = code


class InvalidField(MalformedPayload):
    """One field of the body is missing or wrong; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class TooLarge(InvalidField):
    status = 413


class NotFound(ChannelError):
    status = 404


class Conflict(ChannelError):
    """The thing exists but is in no state for this (a task answered already, a case not handled yet)."""

    status = 409


def error_code(err: ChannelError) -> str:
    """The stable machine code of an error the citizen app's API answers (clients branch on it)."""
    explicit = getattr(err, "code", None)
    if isinstance(explicit, str) and explicit:
        return explicit
    if isinstance(err, NotSignedIn):
        return "not_signed_in"
    if isinstance(err, TooLarge):
        return "too_large"
    if isinstance(err, InvalidField):
        problem = err.message.split(": ", 1)[-1]
        if err.field == "phone":
            return "invalid_phone"
        if err.field == "body":
            return "invalid_body"
        if problem == "required":
            return "required"
        if problem.startswith("longer than"):
            return "too_long"
        if err.field == "photos":
            return "invalid_photo"
        return "invalid_field"
    if isinstance(err, NotFound):
        return "not_found"
    if isinstance(err, Conflict):
        return "conflict"
    if isinstance(err, MalformedPayload):
        return "invalid_body"
    return "error"
