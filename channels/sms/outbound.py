"""Outbound SMS through Twilio's REST API (run by workers via :mod:`intake.outbound`)."""

from __future__ import annotations

import logging
from typing import Any

from requests.auth import HTTPBasicAuth
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels.common import is_twilio_api_url
from intake.config import TwilioConfig
from intake.errors import DeliveryFailed
from intake.models import OutboundMessage
from intake.runtime import get_runtime

log = logging.getLogger(__name__)
# The Twilio library logs each request's URL, query and headers at INFO; keep numbers out of our logs.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

TWILIO_API = "https://api.twilio.com"
#: Twilio error codes that no retry can fix: invalid or unreachable 'To', recipient unsubscribed.
PERMANENT_ERRORS = frozenset({21211, 21214, 21408, 21610, 21612, 21614})
#: Seconds one REST call to Twilio may take.
TWILIO_TIMEOUT_SECONDS = 15.0


class _BaseUrlHttpClient(TwilioHttpClient):
    """Sends Twilio's REST calls to ``base_url`` instead of api.twilio.com (a regional edge or proxy)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=TWILIO_TIMEOUT_SECONDS)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def twilio_client(config: TwilioConfig) -> Client:
    if not (config.account_sid and config.auth_token):
        raise RuntimeError("Twilio is not configured (GRIDLINE_TWILIO__ACCOUNT_SID, GRIDLINE_TWILIO__AUTH_TOKEN)")
    http_client = None if config.api_base_url == TWILIO_API else _BaseUrlHttpClient(config.api_base_url)
    return Client(config.account_sid, config.auth_token, http_client=http_client)


def send_sms(message: OutboundMessage) -> str:
    """Send one SMS; returns Twilio's message SID. Raises on any failure so that RQ retries."""
    config = get_runtime().config.twilio
    sender = (
        {"messaging_service_sid": config.sms_from} if config.sms_from.startswith("MG") else {"from_": config.sms_from}
    )
    public_url = get_runtime().config.server.public_url
    if public_url:
        sender["status_callback"] = f"{public_url}/channels/sms/twilio/status"
    try:
        sent = twilio_client(config).messages.create(to=message.to, body=message.body, **sender)
    except TwilioRestException as err:
        raise DeliveryFailed(
            f"Twilio error {err.code} (HTTP {err.status}): {err.msg}", permanent=err.code in PERMANENT_ERRORS
        ) from err
    log.info("Twilio accepted message %s as %s (%s)", message.id, sent.sid, sent.status)
    return str(sent.sid)


def media_auth(url: str) -> HTTPBasicAuth | None:
    """Twilio's credentials for media URLs under Twilio's API only (never a redirect's CDN host, nor others)."""
    config = get_runtime().config
    if config.twilio.account_sid and config.twilio.auth_token and is_twilio_api_url(url, config):
        return HTTPBasicAuth(config.twilio.account_sid, config.twilio.auth_token)
    return None
