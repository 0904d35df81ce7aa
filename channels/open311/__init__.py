"""Partner platforms (平台推送): an Open311 GeoReport v2 server at ``/open311/v2/``."""

from __future__ import annotations

from channels.common import Channel
from channels.open311.views import bp


def _setup() -> None:
    from channels.open311.settings import open311_settings
    from intake.media import MediaPolicy, register_media_policy
    from intake.runtime import get_runtime

    open311_settings(get_runtime().config)  # a wrong open311 section stops start-up, naming the key

    def media_policy(_source_id: str) -> MediaPolicy:
        return MediaPolicy(hosts=tuple(open311_settings(get_runtime().config).media_hosts))

    register_media_policy(CHANNEL.name, media_policy)


CHANNEL = Channel(name="partner", blueprint=bp, setup=_setup)
