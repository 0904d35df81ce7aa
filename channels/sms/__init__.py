"""SMS through Twilio (短信)."""

from __future__ import annotations

from channels.common import Channel

CHANNEL = Channel(name="sms")
