"""Credentials for downloading the hotline's recordings (run by workers via :mod:`intake.media`)."""

from __future__ import annotations

from requests.auth import HTTPBasicAuth

from intake.runtime import get_runtime

TWILIO_API = "https://api.twilio.com"


def media_auth(url: str) -> HTTPBasicAuth | None:
    """Twilio's account credentials, for Twilio recording URLs only (its API, or the configured edge/proxy).

    A recording URL elsewhere (an Asterisk server's) gets none: the account's secret never leaves for
    another host.
    """
    config = get_runtime().config.twilio
    if not (config.account_sid and config.auth_token):
        return None
    bases = {TWILIO_API, config.api_base_url.rstrip("/")}
    if any(url.startswith(base + "/") for base in bases):
        return HTTPBasicAuth(config.account_sid, config.auth_token)
    return None
