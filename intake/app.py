"""The application factory."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from intake import api, web, wiring
from intake.config import Config
from intake.runtime import Runtime, init_runtime

log = logging.getLogger(__name__)


def create_app(config: Config | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the web application; every package joins through :mod:`intake.wiring`."""
    runtime = runtime or init_runtime(config)
    app = Flask("gridline")
    if hops := runtime.config.server.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.extensions["gridline"] = runtime
    web.init_app(app, runtime)
    app.register_blueprint(api.bp)
    wiring.init_app(app)
    return app
