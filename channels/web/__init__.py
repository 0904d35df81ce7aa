"""Website submissions (网站填报): the public form, its JSON twin and the tracking page."""

from __future__ import annotations

from channels.common import Channel

CHANNEL = Channel(name="web")
