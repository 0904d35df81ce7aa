"""Attachment downloads (MMS photos, recordings, attachments of pushed orders), run by workers.

The URLs come from senders, so every download is checked before a byte is sent (server-side request
forgery): only ``http``/``https``; the host must be on the source's allow-list where the channel
registered one (:func:`register_media_policy`: Twilio media only from Twilio's hosts, a city
platform's attachments only from its hosts); and every address the host resolves to must be public
(not private, loopback, link-local — cloud metadata —, multicast, reserved or otherwise not global)
unless the host or network is allowed in ``worker.attachment_allowed_private`` (or by the source's
policy, e.g. the configured Asterisk). Redirects are followed by hand, each hop checked the same way
and given credentials only where its channel's :data:`MediaAuth` says so. The address actually
connected to is checked again on the socket, so a name that resolves differently the second time
(DNS rebinding) gets nowhere. A refused download fails the attachment at once, with the reason in its
``error`` and the case's history; URLs are logged without their query string (it may carry tokens).
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import socket
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter
from sqlalchemy import select

from intake.cases import record
from intake.errors import DownloadRefused
from intake.i18n import register
from intake.models import Attachment, AttachmentStatus, Case, ReportRecord
from intake.runtime import get_runtime
from intake.submit import store_blob

log = logging.getLogger(__name__)

#: ``auth(url) -> requests auth`` for channels whose media needs credentials (Twilio: basic auth).
#: Asked again for every redirect hop: it must return credentials only for its own hosts.
MediaAuth = Callable[[str], object]
_media_auth: dict[str, MediaAuth] = {}

#: Bytes read per chunk while streaming a download.
CHUNK_BYTES = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TooLarge(Exception):
    pass


@dataclass(frozen=True)
class MediaPolicy:
    """Where one source's attachments may be fetched from."""

    #: Host patterns (``name``, ``*.suffix``, an IP address or a CIDR network) every hop must match;
    #: empty: any host.
    hosts: tuple[str, ...] = ()
    #: Host patterns allowed to resolve to non-public addresses, besides ``worker.attachment_allowed_private``.
    private_hosts: tuple[str, ...] = ()


#: ``policy(source_id) -> MediaPolicy`` for a channel (the city: per platform, from the source id).
MediaPolicyFor = Callable[[str], MediaPolicy]
_media_policy: dict[str, MediaPolicyFor] = {}


def register_media_auth(channel: str, auth: MediaAuth) -> None:
    _media_auth[channel] = auth


def register_media_policy(channel: str, policy: MediaPolicyFor) -> None:
    _media_policy[channel] = policy


register(
    {
        "event.attachment_refused": {
            "zh": "附件下载被拒绝（地址不在允许范围内）",
            "en": "An attachment download was refused (address not allowed)",
        },
    }
)


def redact(url: str) -> str:
    """``url`` without user info, query and fragment (they may carry tokens), for logs and errors."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unreadable URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"[:300]


# --- host patterns and addresses ---------------------------------------------------------------------


def _host_matches(host: str, address: IPAddress | None, patterns: Iterable[str]) -> bool:
    """Whether ``host`` (a name or an IP literal), or ``address`` it resolved to, matches a pattern."""
    host = host.lower().rstrip(".")
    literal = _ip(host)
    for raw in patterns:
        pattern = raw.strip().lower().rstrip(".")
        if not pattern:
            continue
        network = _network(pattern)
        if network is not None:
            candidates = [ip for ip in (literal, address) if ip is not None]
            if any(ip.version == network.version and ip in network for ip in candidates):
                return True
        elif pattern.startswith("*."):
            if host.endswith(pattern[1:]) and literal is None:
                return True
        elif host == pattern:
            return True
    return False


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        return None


def non_public_reason(address: IPAddress) -> str | None:
    """Why ``address`` is no public unicast address (``None``: it is one)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for label, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("not global", not address.is_global),
    ):
        if flag:
            return label
    return None


@dataclass(frozen=True)
class _Guard:
    """The checks of one download: the source's policy plus the configured private allowances."""

    policy: MediaPolicy
    allowed_private: tuple[str, ...]

    def check_url(self, url: str) -> tuple[str, int]:
        """Refuse a URL by its form and host name; return ``(host, port)``."""
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as err:
            raise DownloadRefused("the URL cannot be read") from err
        if parts.scheme not in ("http", "https"):
            raise DownloadRefused(f"scheme {parts.scheme or '(none)'!r} is not http or https")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise DownloadRefused("the URL names no host")
        if parts.username or parts.password:
            raise DownloadRefused(f"credentials in the URL for {host}")
        if self.policy.hosts and not _host_matches(host, None, self.policy.hosts):
            raise DownloadRefused(f"host {host} is not allowed for this source")
        return host, port or (443 if parts.scheme == "https" else 80)

    def check_address(self, host: str, address: IPAddress) -> None:
        reason = non_public_reason(address)
        if reason is None:
            return
        patterns = (*self.allowed_private, *self.policy.private_hosts)
        if _host_matches(host, address, patterns):
            return
        raise DownloadRefused(f"host {host} resolves to a {reason} address ({address})")

    def check_resolved(self, host: str, port: int) -> None:
        """Resolve ``host`` and refuse it if any of its addresses is not allowed."""
        literal = _ip(host)
        if literal is not None:
            self.check_address(host, literal)
            return
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as err:
            raise requests.ConnectionError(f"cannot resolve {host}") from err
        for info in infos:
            self.check_address(host, ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))


# --- connections checked on the socket ---------------------------------------------------------------

#: The guard of the download this thread is running (set only around :func:`_fetch`'s requests).
_current_guard: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar("media_guard", default=None)


class _GuardedConnectionMixin:
    host: str

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        guard = _current_guard.get()
        if guard is None:  # only ever used inside _fetch; refuse rather than connect unchecked
            sock.close()
            raise DownloadRefused("attachment connection outside a checked download")
        try:
            guard.check_address(self.host, ipaddress.ip_address(str(sock.getpeername()[0]).split("%", 1)[0]))
        except DownloadRefused:
            sock.close()
            raise
        return sock


class _GuardedHTTPConnection(_GuardedConnectionMixin, urllib3.connection.HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, urllib3.connection.HTTPSConnection):
    pass


class _GuardedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    """An adapter whose connections check the peer address they reached."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


@contextmanager
def _download_session(guard: _Guard) -> Iterator[requests.Session]:
    session = requests.Session()
    # No proxies, .netrc credentials or CA bundles from the environment: every hop goes where we checked.
    session.trust_env = False
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    token = _current_guard.set(guard)
    try:
        yield session
    finally:
        _current_guard.reset(token)
        session.close()


# --- the job -----------------------------------------------------------------------------------------


def download_attachments(report_id: int) -> dict[str, int]:
    """Download every pending attachment of one report (the RQ job). Safe to run twice."""
    runtime = get_runtime()
    with runtime.db.transaction() as session:
        report = session.execute(
            select(ReportRecord.channel, ReportRecord.source_id).where(ReportRecord.id == report_id)
        ).first()
        pending = session.execute(
            select(Attachment.id, Attachment.source_url)
            .where(Attachment.report_id == report_id, Attachment.status == AttachmentStatus.PENDING)
            .order_by(Attachment.id)  # in the order the sender listed them
        ).all()
    channel, source_id = (report.channel, report.source_id) if report is not None else ("", "")
    counts = {"stored": 0, "too_large": 0, "failed": 0, "refused": 0}
    errors: list[str] = []
    for attachment_id, url in pending:
        status, data, error = _fetch(channel, source_id, url or "")
        refused = status == "refused"
        if status == AttachmentStatus.FAILED:
            errors.append(error or "failed")
        with runtime.db.transaction() as session:
            attachment = session.get(Attachment, attachment_id)
            assert attachment is not None
            attachment.attempts += 1
            if status == AttachmentStatus.STORED and data is not None:
                attachment.sha256 = store_blob(session, data)
                attachment.size = len(data)
                attachment.status = status
                attachment.error = None
            elif status == AttachmentStatus.TOO_LARGE:
                attachment.status = status
                attachment.error = error
            elif refused:
                # Permanent: asking again cannot change the answer.
                attachment.status = AttachmentStatus.FAILED
                attachment.error = error
                _record_refusal(session, attachment, channel, error or "")
            else:
                attachment.error = error
                if attachment.attempts >= 5:
                    attachment.status = AttachmentStatus.FAILED
        counts[status] += 1
    if errors:
        # Let RQ retry the job; stored and refused attachments are not fetched again.
        raise RuntimeError(f"{len(errors)} attachment download(s) failed: {errors[0]}")
    return counts


def _record_refusal(session: Any, attachment: Attachment, channel: str, error: str) -> None:
    case = session.get(Case, attachment.case_id)
    if case is None:
        return
    record(
        session,
        case,
        "attachment_refused",
        actor="system:worker",
        channel=channel or None,
        detail={"attachment_id": attachment.id, "filename": attachment.filename, "reason": error},
    )


def _policy(channel: str, source_id: str) -> _Guard:
    config = get_runtime().config.worker
    policy_for = _media_policy.get(channel)
    policy = policy_for(source_id) if policy_for is not None else MediaPolicy()
    return _Guard(policy=policy, allowed_private=tuple(config.attachment_allowed_private))


def _fetch(channel: str, source_id: str, url: str) -> tuple[str, bytes | None, str | None]:
    """Download ``url`` under its source's policy: ``(status, bytes, error)``; status ``refused`` too."""
    config = get_runtime().config.worker
    limit = config.max_attachment_bytes
    current = url
    try:
        guard = _policy(channel, source_id)
        with _download_session(guard) as session:
            for _hop in range(config.attachment_max_redirects + 1):
                host, port = guard.check_url(current)
                guard.check_resolved(host, port)
                auth = _media_auth[channel](current) if channel in _media_auth else None
                with session.get(
                    current,
                    auth=auth,  # type: ignore[arg-type]
                    stream=True,
                    allow_redirects=False,
                    timeout=config.download_timeout_seconds,
                ) as response:
                    if response.is_redirect:
                        location = response.headers.get("Location", "")
                        current = urllib.parse.urljoin(current, location)
                        continue
                    if response.status_code >= 400:
                        return AttachmentStatus.FAILED, None, f"HTTP {response.status_code} from {redact(current)}"
                    return AttachmentStatus.STORED, _read(response, limit), None
            raise DownloadRefused(f"more than {config.attachment_max_redirects} redirects")
    except DownloadRefused as err:
        log.warning("attachment download refused (%s channel): %s; URL %s", channel, err, redact(current))
        return "refused", None, f"refused: {err}"[:500]
    except TooLarge as err:
        log.warning("attachment too large: %s", err)
        return AttachmentStatus.TOO_LARGE, None, str(err)
    except requests.RequestException as err:
        log.warning("attachment download failed: %s from %s", type(err).__name__, redact(current))
        return AttachmentStatus.FAILED, None, f"{type(err).__name__} from {redact(current)}"[:500]


def _read(response: requests.Response, limit: int) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"{declared} bytes declared, limit {limit}")
    chunks = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        chunks.extend(chunk)
        if len(chunks) > limit:
            raise TooLarge(f"more than {limit} bytes")
    return bytes(chunks)
