"""Camera alarms (探头巡查): receivers for Hikvision, Dahua, ONVIF, Frigate (MQTT) and a generic webhook,
the camera registry, storm collapsing into incidents, liveness, and incidents becoming cases.

Flow: receiver (authenticate, parse) → Redis stream (:mod:`.ingest`) → drain job (:mod:`.drain`: raw
alarms in batches, incidents) → submit job (:mod:`.cases`: one case per incident through intake.submit).
"""

from __future__ import annotations

from channels.camera.views import bp
from channels.common import Channel
from intake.i18n import register


def _setup() -> None:
    from channels.camera.drain import HOUSEKEEPING_PERIOD_SECONDS, housekeeping_job
    from channels.camera.settings import picture_policy
    from intake.media import register_media_policy
    from intake.processing import register_periodic

    register_periodic(housekeeping_job, HOUSEKEEPING_PERIOD_SECONDS)
    register_media_policy("camera", picture_policy)


register(
    {
        "channel.camera": {"zh": "探头巡查", "en": "Camera alarms"},
        "map.channel.camera": {"zh": "探头巡查", "en": "Cameras"},
        "event.camera_incident_closed": {"zh": "探头告警结束", "en": "Camera alarm ended"},
    }
)

CHANNEL = Channel(name="camera", blueprint=bp, setup=_setup)
