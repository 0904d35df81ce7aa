"""Every channel, one line each. Adding a channel: a folder with a ``CHANNEL`` and one line here."""

from __future__ import annotations

from channels.app import CHANNEL as APP
from channels.camera import CHANNEL as CAMERA
from channels.city import CHANNEL as CITY
from channels.common import Channel
from channels.email import CHANNEL as EMAIL
from channels.grid import CHANNEL as GRID
from channels.hotline import CHANNEL as HOTLINE
from channels.leader import CHANNEL as LEADER
from channels.open311 import CHANNEL as OPEN311
from channels.sms import CHANNEL as SMS
from channels.web import CHANNEL as WEB

CHANNELS: list[Channel] = [WEB, SMS, EMAIL, HOTLINE, GRID, APP, LEADER, CITY, OPEN311, CAMERA]
