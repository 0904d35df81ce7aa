"""The hotline (热线电话): calls to the 12345 number, run by :mod:`ivr`.

Calls reach Gridline through the telephony drivers in ``ivr`` (Twilio Voice webhooks under
``/ivr/twilio/``, the Asterisk Stasis application); a caller's voice message becomes a report of
this channel (``hotline``) whose recording a worker downloads. This entry gives the workers the
credentials those downloads need. ``fixtures/`` holds Twilio Voice's webhook forms as Twilio posts
them, for the tests and the benchmark.
"""

from __future__ import annotations

from channels.common import Channel


def _setup() -> None:
    from channels.hotline.media import media_auth, media_policy
    from intake.media import register_media_auth, register_media_policy

    register_media_auth("hotline", media_auth)
    register_media_policy("hotline", media_policy)


CHANNEL = Channel(name="hotline", setup=_setup)
