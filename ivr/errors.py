"""The ivr package's exceptions: one base class, a shallow hierarchy."""

from __future__ import annotations


class IvrError(Exception):
    """Base class of every error raised by :mod:`ivr`."""


class AriError(IvrError):
    """The Asterisk REST Interface could not be reached or refused what the Stasis application asked."""


class AriRequestError(AriError):
    """An ARI request was answered with a status outside 2xx (the message names method, path and status)."""

    def __init__(self, method: str, path: str, status: int, detail: str = "") -> None:
        super().__init__(f"ARI {method} {path}: {status} {detail}".rstrip())
        self.method = method
        self.path = path
        self.status = status

    @property
    def gone(self) -> bool:
        """The channel, playback or bridge no longer exists (or left Stasis): the usual hang-up race."""
        return self.status in (404, 409, 422)


class MenuError(IvrError):
    """The menu engine was handed something it cannot use (a driver's bug, or a stale or repeated request)."""


class InvalidCallState(MenuError):
    """A stored call state that is not one (unknown node, missing fields)."""


class UnexpectedEvent(MenuError):
    """An event the call's current menu node does not expect."""


class WebhookError(IvrError):
    """A telephony webhook refused; ``status`` is the HTTP status it is answered with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthFailed(WebhookError):
    """Missing or wrong X-Twilio-Signature."""

    status = 403


class MalformedPayload(WebhookError):
    """The body cannot be parsed, or a required field is missing or wrong (the message names it)."""

    status = 400


class UnsupportedMediaType(WebhookError):
    """The body is not ``application/x-www-form-urlencoded``."""

    status = 415


class UnknownEvent(WebhookError):
    """A well-formed payload of a kind this endpoint does not handle (a status it does not know, ...)."""

    status = 422


class RingFailed(IvrError):
    """An agent's phone could not be rung (Twilio's REST API refused or could not be reached)."""
