"""What every channel shares: its registry entry and the request checks they all need."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Request
from twilio.request_validator import RequestValidator

from channels.errors import AuthFailed, MalformedPayload


@dataclass(frozen=True)
class Channel:
    """A channel's entry in :data:`channels.registry.CHANNELS`."""

    name: str
    blueprint: Blueprint | None = None
    #: Registers senders, media auth, ... in web and worker processes alike.
    setup: Callable[[], None] | None = None

    def init_app(self, app: Any) -> None:
        if self.blueprint is not None:
            app.register_blueprint(self.blueprint)

    def init_worker(self) -> None:
        if self.setup is not None:
            self.setup()


def public_request_url(request: Request, public_url: str) -> str:
    """The URL the sender called: the configured public URL (behind a TLS proxy) plus the path and query."""
    if not public_url:
        return request.url
    query = request.query_string.decode("latin-1")
    return f"{public_url}{request.path}" + (f"?{query}" if query else "")


def check_twilio_signature(request: Request, auth_token: str, public_url: str) -> None:
    """Raise :class:`AuthFailed` unless ``X-Twilio-Signature`` signs this request with ``auth_token``."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        raise AuthFailed("missing X-Twilio-Signature header")
    if not auth_token:
        raise AuthFailed("no Twilio auth token is configured (GRIDLINE_TWILIO__AUTH_TOKEN)")
    url = public_request_url(request, public_url)
    params = request.form if request.mimetype == "application/x-www-form-urlencoded" else {}
    validator = RequestValidator(auth_token)
    # One HMAC for the usual case (the URL exactly as configured); validate() tries the with- and
    # without-port variants of the URL, so it only runs when that one does not match.
    if hmac.compare_digest(validator.compute_signature(url, params), signature):
        return
    if not validator.validate(url, params, signature):
        raise AuthFailed("X-Twilio-Signature does not match this request")


def require_fields(form: Any, *names: str) -> None:
    missing = [name for name in names if not form.get(name)]
    if missing:
        raise MalformedPayload(f"missing field(s): {', '.join(missing)}")
