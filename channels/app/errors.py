"""Errors of the phone-facing APIs (the citizen app, grid workers), each with its HTTP status."""

from __future__ import annotations

from channels.errors import AuthFailed, ChannelError, MalformedPayload


class NotSignedIn(AuthFailed):
    """No bearer token, or one that is unknown, revoked or expired."""

    status = 401


class CodeRejected(AuthFailed):
    """A wrong, expired, used or exhausted sign-in code."""

    status = 401


class RateLimited(ChannelError):
    """Too many sign-in codes asked for; ``retry_after`` says when to try again, in seconds."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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
