"""Demo: a citizen's mail with a photo (an RFC 822 message as Outlook sent it) through the inbound path."""

from __future__ import annotations

from pathlib import Path

from channels.common import DemoContext
from channels.email.inbound import receive

FIXTURE = Path(__file__).parent / "fixtures" / "outlook_with_photo.eml"
TO = "12345@huairou.example.gov.cn"


def load(context: DemoContext) -> list[str]:
    receive(FIXTURE.read_bytes(), envelope_from="li.na@example.com", recipients=[TO], via="demo")
    config = context.runtime.config.email
    listening = f"gridline email-smtp on {config.listen_host}:{config.listen_port}"
    where = (
        f"mail to {', '.join(config.inbound_addresses)} ({listening})"
        if config.inbound_addresses
        else "set email.inbound_addresses and `gridline run` starts the SMTP receiver "
        f"(port {config.listen_port}), or poll a mailbox with `gridline email-poll`"
    )
    return ["1 mail with a photo", f"try: {where}"]
