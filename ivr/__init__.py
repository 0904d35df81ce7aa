"""The hotline: one phone menu (``ivr.menu``) run by telephony drivers, a call queue to live agents,
voice messages and call-back tasks.

* :mod:`ivr.menu` — the driver-independent menu engine; :mod:`ivr.settings` — the ``ivr:`` section.
* :mod:`ivr.twilio_voice` — the Twilio Voice driver (TwiML webhooks under ``/ivr/twilio/``).
* :mod:`ivr.calls` — call records and call-back tasks; :mod:`ivr.acd` — offering calls to agents.
* :mod:`ivr.reports` — voice messages become ``hotline`` reports through :func:`intake.submit`.
* :mod:`ivr.console` — the console's JSON about calls.
"""

from __future__ import annotations

from typing import Any


def init_app(app: Any) -> None:
    from ivr.console import bp as console_bp
    from ivr.settings import ivr_settings
    from ivr.twilio_voice import bp as twilio_bp

    ivr_settings(app.extensions["gridline"].config)  # a wrong ivr: section stops start-up, naming the key
    app.register_blueprint(twilio_bp)
    app.register_blueprint(console_bp)


def init_worker() -> None:
    from intake.processing import register_periodic
    from intake.runtime import get_runtime
    from ivr.acd import dispatch, register_ringer
    from ivr.settings import ivr_settings
    from ivr.twilio_rest import ring_agent

    register_ringer("twilio", ring_agent)
    interval = ivr_settings(get_runtime().config).queue.dispatch_interval_seconds
    register_periodic(dispatch, interval)
