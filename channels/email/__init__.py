"""Email (邮件). So far outbound only: notices to units that have an address, over SMTP."""

from __future__ import annotations

from channels.common import Channel


def _setup() -> None:
    from channels.email.outbound import send_email
    from intake.outbound import register_sender

    register_sender("email", send_email)


CHANNEL = Channel(name="email", setup=_setup)
