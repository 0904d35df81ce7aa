"""``gridline email-poll``: fetch new mail from an IMAP mailbox (imaplib, the standard library).

Each unseen message is fetched without marking it (``BODY.PEEK[]``), handed to :func:`receive`, and
only then flagged ``\\Seen``: a poller killed half-way fetches the rest next time, and one taken twice
is still one report (idempotent on its Message-ID).
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
import time

from channels.email.inbound import receive
from intake.config import EmailConfig

log = logging.getLogger(__name__)

#: Messages taken per poll: a flooded mailbox is worked through over several polls.
BATCH_MESSAGES = 200


def connect(config: EmailConfig) -> imaplib.IMAP4:
    timeout = config.timeout_seconds
    if config.imap_security == "tls":
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            config.imap_host, config.imap_port, ssl_context=ssl.create_default_context(), timeout=timeout
        )
    else:
        client = imaplib.IMAP4(config.imap_host, config.imap_port, timeout=timeout)
        if config.imap_security == "starttls":
            client.starttls(ssl_context=ssl.create_default_context())
    client.login(config.imap_username, config.imap_password)
    return client


def poll_once(config: EmailConfig) -> int:
    """Take every unseen message (up to :data:`BATCH_MESSAGES`); returns how many were taken."""
    client = connect(config)
    taken = 0
    try:
        status, _ = client.select(config.imap_mailbox)
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot select mailbox {config.imap_mailbox!r}")
        status, data = client.uid("SEARCH", "UNSEEN")
        uids = (data[0] or b"").split() if status == "OK" and data else []
        for uid in uids[:BATCH_MESSAGES]:
            status, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in parts or [] if isinstance(part, tuple) and len(part) > 1), None)
            if status != "OK" or not isinstance(raw, bytes):
                log.warning("could not fetch message uid %s", uid.decode())
                continue
            try:
                receive(raw, envelope_from=None, recipients=[], via="imap")
            except Exception:
                log.exception("could not store message uid %s; it stays unseen for the next poll", uid.decode())
                continue
            client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
            taken += 1
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()
    if taken:
        log.info("took %d message(s) from %s", taken, config.imap_mailbox)
    return taken


def poll_forever(config: EmailConfig) -> None:
    while True:
        try:
            poll_once(config)
        except (imaplib.IMAP4.error, OSError) as err:
            log.warning("IMAP poll failed: %s: %s", type(err).__name__, err)
        time.sleep(config.imap_poll_seconds)
