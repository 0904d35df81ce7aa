"""What every channel shares: its registry entry and the request checks they all need."""

from __future__ import annotations

import hmac
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Request
from twilio.request_validator import RequestValidator

from channels.errors import AuthFailed, MalformedPayload


@dataclass(frozen=True)
class DemoContext:
    """What a channel's demo loader gets: ``load(context)`` in ``channels/<source>/demo.py``.

    Demo data goes through the channel's own path (its adapter and intake.submit, or its real HTTP
    endpoint through ``client``), never by writing rows with a channel name.
    """

    runtime: Any
    #: A Flask test client of the whole application, for channels whose only path is an endpoint.
    client: Any


#: What a demo loader returns: lines telling a person how to try the channel (printed by the CLI).
DemoLoader = Callable[[DemoContext], list[str]]


def _declaring_module() -> str:
    """The module that created a :class:`Channel` (found as :func:`collections.namedtuple` finds its own)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back  # type: ignore[assignment]
    return str(frame.f_globals.get("__name__", "")) if frame is not None else ""


@dataclass(frozen=True)
class Channel:
    """A channel's entry in :data:`channels.registry.CHANNELS`."""

    name: str
    blueprint: Blueprint | None = None
    #: Registers senders, media auth, ... in web and worker processes alike.
    setup: Callable[[], None] | None = None
    #: The package that declared this entry (``channels.<source>``); found by itself.
    package: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.package:
            object.__setattr__(self, "package", _declaring_module())

    def init_app(self, app: Any) -> None:
        if self.blueprint is not None:
            app.register_blueprint(self.blueprint)

    def init_worker(self) -> None:
        if self.setup is not None:
            self.setup()

    def demo_loader(self) -> DemoLoader | None:
        """``load`` of the package's ``demo`` module (its sample data for ``gridline demo load``), if any."""
        name = f"{self.package}.demo"
        if not self.package or importlib.util.find_spec(name) is None:
            return None
        loader: DemoLoader = importlib.import_module(name).load
        return loader


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


#: Twilio's REST API, where MMS media and recordings live (it redirects them to its media CDN).
TWILIO_API = "https://api.twilio.com"


def twilio_api_bases(config: Any) -> frozenset[str]:
    """Base URLs of Twilio's API: the public one and the configured edge or proxy (``twilio.api_base_url``)."""
    return frozenset({TWILIO_API, config.twilio.api_base_url.rstrip("/")})


def twilio_media_policy(_source_id: str = "") -> Any:
    """Where Twilio media (MMS photos, recordings) may be downloaded from: ``twilio.media_hosts`` + the API."""
    from intake.media import MediaPolicy
    from intake.runtime import get_runtime

    config = get_runtime().config
    api_hosts = (urlsplit(base).hostname or "" for base in twilio_api_bases(config))
    return MediaPolicy(hosts=(*config.twilio.media_hosts, *(host for host in api_hosts if host)))


def is_twilio_api_url(url: str, config: Any) -> bool:
    """Whether ``url`` is under Twilio's API (the only place Twilio's credentials may be sent)."""
    return any(url.startswith(base + "/") for base in twilio_api_bases(config))
