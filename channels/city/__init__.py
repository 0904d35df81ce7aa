"""City-level dispatch (市级派单): work orders the city platform pushes, and our reports back to it."""

from __future__ import annotations

from channels.city.views import bp
from channels.common import Channel
from intake.i18n import register


def _setup() -> None:
    from channels.city.callbacks import listen_for_extension_requests, send_callback
    from channels.city.orders import keep_city_deadlines
    from channels.city.settings import city_settings
    from intake.cases import on_transition
    from intake.outbound import register_sender
    from intake.runtime import get_runtime

    city_settings(get_runtime().config)  # a wrong city section stops start-up, naming the key
    register_sender("city", send_callback)
    # After routing's update_clocks (routing is wired before channels): the city's deadline wins.
    on_transition(keep_city_deadlines)
    listen_for_extension_requests()


register(
    {
        "event.city_order_updated": {"zh": "市级平台更新了工单", "en": "The city updated its work order"},
    }
)

CHANNEL = Channel(name="city", blueprint=bp, setup=_setup)
