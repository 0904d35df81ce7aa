"""Every channel, one line each. Adding a channel: a folder with a ``CHANNEL`` and one line here."""

from __future__ import annotations

from channels.common import Channel
from channels.email import CHANNEL as EMAIL
from channels.hotline import CHANNEL as HOTLINE
from channels.sms import CHANNEL as SMS
from channels.web import CHANNEL as WEB

CHANNELS: list[Channel] = [WEB, SMS, EMAIL, HOTLINE]
