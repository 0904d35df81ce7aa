"""Credentials for downloading the hotline's recordings (run by workers via :mod:`intake.media`).

Each provider's secret goes to that provider only: Twilio's account credentials to Twilio's recording
URLs, the ARI user's to the configured Asterisk's stored recordings. Any other URL gets none.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from requests.auth import HTTPBasicAuth

from channels.common import twilio_media_policy
from intake.errors import ConfigError
from intake.media import MediaPolicy
from intake.runtime import get_runtime

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
#: Path of a stored recording's audio under the ARI base URL (``GET /recordings/stored/{name}/file``).
_ARI_RECORDING = re.compile(r"/recordings/stored/(?!\.\.?/)[^/]+/file")
#: Default ports, so that ``http://host/ari`` and ``http://host:80/ari`` name the same server.
_DEFAULT_PORTS = {"http": 80, "https": 443}


def media_policy(source_id: str) -> MediaPolicy:
    """Recordings come from Twilio (``twilio.media_hosts``) or the configured Asterisk (``ivr.ari.url``).

    The Asterisk named in the configuration usually runs on this machine or the private network: its
    host may resolve to a private address (configuring ``ivr.ari.url`` is allowing it).
    """
    from ivr.ari.settings import load_ari_settings

    twilio = twilio_media_policy(source_id)
    try:
        ari_host = urlsplit(load_ari_settings(get_runtime().config).url).hostname or ""
    except (ConfigError, ValueError) as err:
        log.warning("recordings only from Twilio: %s", err)
        return twilio
    if not ari_host:
        return twilio
    return MediaPolicy(hosts=(*twilio.hosts, ari_host), private_hosts=(ari_host,))


def media_auth(url: str) -> HTTPBasicAuth | None:
    """The credentials a recording URL needs: Twilio's, or the ARI user's, or none."""
    return _twilio_auth(url) or _ari_auth(url)


def _twilio_auth(url: str) -> HTTPBasicAuth | None:
    """Twilio's account credentials, for Twilio recording URLs only (its API, or the configured edge/proxy)."""
    config = get_runtime().config.twilio
    if not (config.account_sid and config.auth_token):
        return None
    bases = {TWILIO_API, config.api_base_url.rstrip("/")}
    if any(url.startswith(base + "/") for base in bases):
        return HTTPBasicAuth(config.account_sid, config.auth_token)
    return None


def _ari_auth(url: str) -> HTTPBasicAuth | None:
    """The ARI user's Basic auth, for ``<ivr.ari.url>/recordings/stored/<name>/file`` on that server only."""
    from ivr.ari.settings import load_ari_settings

    try:
        settings = load_ari_settings(get_runtime().config)
    except ConfigError as err:
        log.warning("no ARI credentials for recording downloads: %s", err)
        return None
    if not settings.password:
        return None
    base, target = urlsplit(settings.url), urlsplit(url)
    try:
        same_server = (
            target.scheme == base.scheme
            and (target.hostname or "") == (base.hostname or "")
            and _port(target.scheme, target.port) == _port(base.scheme, base.port)
            and not target.username
            and not target.password
        )
    except ValueError:  # a port that is not a number
        return None
    if not same_server or target.query or target.fragment or not target.path.startswith(base.path + "/"):
        return None
    if not _ARI_RECORDING.fullmatch(target.path[len(base.path) :]):
        return None
    return HTTPBasicAuth(settings.username, settings.password)


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else _DEFAULT_PORTS.get(scheme)
