"""Ringing an agent through Twilio's REST API (``POST /2010-04-01/Accounts/{sid}/Calls.json``).

The call goes to the agent's endpoint (``ivr.twilio.agent_endpoint``, e.g. ``client:agent1`` for the
Voice SDK in the console); when the agent answers, Twilio fetches ``/ivr/twilio/agent/<user id>``,
whose ``<Dial><Queue>`` takes the longest-waiting caller of the most urgent queue. The agent leg's
status callback (``/ivr/twilio/agent/<user id>/status``) says whether they answered.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from intake.config import TwilioConfig
from intake.runtime import get_runtime
from ivr.acd import Offer
from ivr.errors import RingFailed
from ivr.settings import ivr_settings

log = logging.getLogger(__name__)
# The Twilio library logs each request's URL, query and headers at INFO; keep numbers out of our logs.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

TWILIO_API = "https://api.twilio.com"
#: Seconds one REST call to Twilio may take.
TWILIO_TIMEOUT_SECONDS = 10.0
#: Call progress events of the agent's leg reported to its status callback.
AGENT_LEG_EVENTS = ["answered", "completed"]


class _BaseUrlHttpClient(TwilioHttpClient):
    """Sends Twilio's REST calls to ``base_url`` instead of api.twilio.com (a regional edge or proxy)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=TWILIO_TIMEOUT_SECONDS)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def _client(config: TwilioConfig) -> Client:
    if not (config.account_sid and config.auth_token):
        raise RingFailed("Twilio is not configured (GRIDLINE_TWILIO__ACCOUNT_SID, GRIDLINE_TWILIO__AUTH_TOKEN)")
    http_client = (
        TwilioHttpClient(timeout=TWILIO_TIMEOUT_SECONDS)
        if config.api_base_url == TWILIO_API
        else _BaseUrlHttpClient(config.api_base_url)
    )
    return Client(config.account_sid, config.auth_token, http_client=http_client)


def ring_agent(offer: Offer) -> None:
    """Place the call that rings ``offer.agent`` (the ACD's ringer for Twilio calls)."""
    runtime = get_runtime()
    settings = ivr_settings(runtime.config).twilio
    ring_seconds = ivr_settings(runtime.config).queue.agent_ring_seconds
    if not settings.agent_endpoint:
        raise RingFailed("ivr.twilio.agent_endpoint is empty: agents dial in themselves")
    if not settings.number:
        raise RingFailed("ivr.twilio.number (the caller id for agents' calls) is not set")
    base = f"{runtime.config.public_url}/ivr/twilio/agent/{offer.agent.user_id}"
    to = settings.agent_endpoint.format(username=offer.agent.username, user_id=offer.agent.user_id)
    try:
        call = _client(runtime.config.twilio).calls.create(
            to=to,
            from_=settings.number,
            url=base,
            method="POST",
            status_callback=f"{base}/status",
            status_callback_method="POST",
            status_callback_event=AGENT_LEG_EVENTS,
            timeout=ring_seconds,
        )
    except TwilioRestException as err:
        raise RingFailed(f"Twilio error {err.code} (HTTP {err.status}): {err.msg}") from err
    except (TwilioException, requests.RequestException) as err:
        raise RingFailed(f"Twilio REST API unreachable: {type(err).__name__}") from err
    log.info("ringing user %s for call %s: %s", offer.agent.user_id, offer.call_id, call.sid)
