"""The channels package's exceptions. Each carries the HTTP status its endpoint answers with."""

from __future__ import annotations


class ChannelError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthFailed(ChannelError):
    """Missing or wrong signature, HMAC or API key."""

    status = 403


class MalformedPayload(ChannelError):
    """The body cannot be parsed, or a required field is missing or wrong."""

    status = 400


class UnknownEvent(ChannelError):
    """A well-formed payload of a kind this channel does not handle."""

    status = 422


class NotFound(ChannelError):
    """The sender names something this channel does not know (a platform, a service, a request)."""

    status = 404
