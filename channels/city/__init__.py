"""City-level dispatch (市级派单): work orders the city platform pushes, and our reports back to it."""

from __future__ import annotations

from channels.city.views import bp
from channels.common import Channel
from intake.i18n import register


def _setup() -> None:
    from channels.city.callbacks import listen_for_extension_requests, send_callback
    from channels.city.orders import city_deadline, keep_city_deadlines
    from channels.city.settings import attachment_policy, city_settings
    from intake.cases import on_transition
    from intake.media import register_media_policy
    from intake.outbound import register_sender
    from intake.runtime import get_runtime
    from routing.deadlines import register_fixed_finish

    city_settings(get_runtime().config)  # a wrong city section stops start-up, naming the key
    register_sender("city", send_callback)
    register_media_policy("city", attachment_policy)
    # After routing's update_clocks (routing is wired before channels): the city's deadline is the finish
    # deadline; with a leader's too, the earlier wins, whichever hook runs last (routing.deadlines).
    register_fixed_finish(city_deadline)
    on_transition(keep_city_deadlines)
    listen_for_extension_requests()


register(
    {
        "event.city_order_updated": {"zh": "市级平台更新了工单", "en": "The city updated its work order"},
    }
)

CHANNEL = Channel(name="city", blueprint=bp, setup=_setup)
