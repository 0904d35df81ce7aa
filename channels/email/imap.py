"""``gridline email-poll``: take new mail from an IMAP mailbox (IMAPClient).

The watcher keeps one connection open and waits in ``IDLE`` (RFC 2177), so a mail is taken within
a second of its arrival; a server without ``IDLE`` is asked again every ``email.imap_poll_seconds``.
``IDLE`` is renewed every :data:`IDLE_RENEW_SECONDS` (servers may drop a client idle for 30 minutes),
and every wake-up takes whatever is unseen, so a missed notification costs one renewal at most.
A dropped connection is opened again with growing waits.

Each unseen message is fetched without marking it (``BODY.PEEK[]``), handed to :func:`receive`, and
only then flagged ``\\Seen``: a watcher killed half-way takes the rest next time, and one taken twice
is still one report (idempotent on its Message-ID).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from channels.email.inbound import receive
from intake.config import EmailConfig

log = logging.getLogger(__name__)

#: Messages taken per round: a flooded mailbox is worked through over several rounds.
BATCH_MESSAGES = 200
#: Seconds one ``IDLE`` lasts before it is renewed (RFC 2177: re-issue at least every 29 minutes).
IDLE_RENEW_SECONDS = 25 * 60
#: Seconds between looks at the stop flag while idling (a socket wait, no traffic).
STOP_CHECK_SECONDS = 1.0
#: Seconds before reconnecting after a failure, doubled up to :data:`RECONNECT_MAX_SECONDS`.
RECONNECT_FIRST_SECONDS = 1.0
RECONNECT_MAX_SECONDS = 60.0
#: What a broken connection or a refusing server raises.
IMAP_ERRORS = (IMAPClientError, OSError)


def connect(config: EmailConfig) -> IMAPClient:
    """A signed-in client with ``config.imap_mailbox`` selected."""
    context = ssl.create_default_context()
    client = IMAPClient(
        config.imap_host,
        port=config.imap_port,
        ssl=config.imap_security == "tls",
        ssl_context=context,
        timeout=config.timeout_seconds,
    )
    try:
        if config.imap_security == "starttls":
            client.starttls(context)
        client.login(config.imap_username, config.imap_password)
        client.select_folder(config.imap_mailbox)
    except BaseException:
        client.shutdown()
        raise
    return client


def take_unseen(client: IMAPClient) -> int:
    """Turn every unseen message (up to :data:`BATCH_MESSAGES`) into a report; how many were taken."""
    taken = 0
    for uid in client.search(["UNSEEN"])[:BATCH_MESSAGES]:
        raw = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
        if not isinstance(raw, bytes):
            log.warning("could not fetch message uid %s", uid)
            continue
        try:
            receive(raw, envelope_from=None, recipients=[], via="imap")
        except Exception:
            log.exception("could not store message uid %s; it stays unseen for the next round", uid)
            continue
        client.add_flags([uid], [b"\\Seen"])
        taken += 1
    if taken:
        log.info("took %d message(s)", taken)
    return taken


def poll_once(config: EmailConfig) -> int:
    """Connect, take every unseen message, sign out; returns how many were taken."""
    client = connect(config)
    try:
        return take_unseen(client)
    finally:
        _close(client)


def watch(config: EmailConfig, stop: threading.Event | None = None) -> None:
    """Take mail as it arrives until ``stop`` is set (forever without one), reconnecting on failures."""
    stop = stop or threading.Event()
    wait = RECONNECT_FIRST_SECONDS
    while not stop.is_set():
        try:
            client = connect(config)
        except IMAP_ERRORS as err:
            log.warning("IMAP connection failed: %s: %s; again in %.0f s", type(err).__name__, err, wait)
            stop.wait(wait)
            wait = min(wait * 2, RECONNECT_MAX_SECONDS)
            continue
        wait = RECONNECT_FIRST_SECONDS
        try:
            idle = client.has_capability("IDLE")
            log.info("watching %s (%s)", config.imap_mailbox, "IDLE" if idle else f"every {config.imap_poll_seconds} s")
            take_unseen(client)
            while not stop.is_set():
                if idle:
                    _idle(client, stop)
                else:
                    stop.wait(config.imap_poll_seconds)
                    client.noop()
                take_unseen(client)
        except IMAP_ERRORS as err:
            log.warning("IMAP connection lost: %s: %s", type(err).__name__, err)
        finally:
            _close(client)


def _idle(client: IMAPClient, stop: threading.Event) -> None:
    """Wait in ``IDLE`` until the server reports a change, the renewal is due, or ``stop`` is set."""
    client.idle()
    try:
        renew_at = time.monotonic() + IDLE_RENEW_SECONDS
        while not stop.is_set() and time.monotonic() < renew_at:
            if client.idle_check(timeout=STOP_CHECK_SECONDS):
                return
    finally:
        client.idle_done()


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except IMAP_ERRORS:
        client.shutdown()
