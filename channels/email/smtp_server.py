"""``gridline email-smtp``: an SMTP receiver (aiosmtpd) for the district's report addresses.

It sits behind the district's mail gateway (its MX, or a forward from the mail system) and speaks
plain SMTP. Only mail for the configured addresses is accepted: any other recipient is refused at
``RCPT`` (we relay nothing). A mail is stored before ``250`` is answered; if it cannot be stored the
answer is ``451`` and the sending server tries again later, so nothing accepted is lost.

Sender authentication (SPF, DKIM, DMARC) is the gateway's job and is not checked here.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import threading
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email.inbound import receive
from intake.runtime import get_runtime

log = logging.getLogger(__name__)


class ReportHandler:
    """aiosmtpd handler: recipients checked at RCPT, each mail handed to :func:`receive` at DATA."""

    def __init__(self, addresses: frozenset[str]) -> None:
        self.addresses = addresses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.strip().lower() not in self.addresses:
            log.info("refused a recipient that is not ours (relaying denied)")
            return "550 5.7.1 recipient not accepted here: relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw or "").encode("utf-8", errors="replace")
        loop = asyncio.get_running_loop()
        call = functools.partial(
            receive, raw, envelope_from=envelope.mail_from or "", recipients=list(envelope.rcpt_tos), via="smtp"
        )
        try:
            # The database is blocking; keep the event loop free for other connections.
            outcome = await loop.run_in_executor(None, call)
        except Exception:
            log.exception("could not store an inbound mail; the sender will retry")
            return "451 4.3.0 temporary failure, please try again later"
        return f"250 2.0.0 OK {outcome.case_number or outcome.kind}"


def controller(host: str, port: int) -> Controller:
    config = get_runtime().config.email
    return Controller(
        ReportHandler(config.our_addresses),
        hostname=host,
        port=port,
        data_size_limit=config.max_message_bytes,
        enable_SMTPUTF8=True,
        server_hostname=config.from_address.partition("@")[2] or None,
        ident="Gridline",
    )


def serve(host: str, port: int, stop: threading.Event | None = None) -> None:
    """Receive until SIGINT/SIGTERM (or ``stop`` is set)."""
    stop = stop or threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
    smtp = controller(host, port)
    smtp.start()
    log.info("receiving mail on %s:%s", host, port)
    try:
        stop.wait()
    finally:
        smtp.stop()
