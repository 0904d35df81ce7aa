"""``POST /channels/city/<platform>/orders``: the city platform pushes (and re-pushes) its work orders.

The answer is the platform's envelope: ``{"success": true, "code": 10000, "message": ..., "resultData":
{"workordercode", "casenumber", "updated"}}``; a refusal has ``success: false``, the HTTP status as its
code and says what was wrong.
"""

from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from channels.city.adapter import answer, check_signature, parse_order
from channels.city.orders import receive
from channels.city.settings import city_settings
from channels.errors import ChannelError, MalformedPayload, NotFound
from intake import InvalidReport
from intake.web import csrf, runtime

log = logging.getLogger(__name__)

bp = Blueprint("city", __name__)
csrf.exempt(bp)


class UnsupportedMediaType(ChannelError):
    status = 415


def _refuse(status: int, message: str) -> Response:
    response = jsonify(answer(False, message, code=status))
    response.status_code = status
    return response


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(err: RequestEntityTooLarge) -> Response:
    return _refuse(413, f"body larger than {runtime().config.server.max_request_bytes} bytes")


@bp.post("/channels/city/<platform>/orders")
def push_order(platform: str) -> Response:
    rt = runtime()
    try:
        settings = city_settings(rt.config).platforms.get(platform)
        if settings is None:
            raise NotFound(f"no city platform {platform!r} is configured")
        body = request.get_data(cache=False)
        # The signature first: nothing about the body is read for a sender we cannot trust.
        check_signature(
            settings.secret,
            request.method,
            request.path,
            request.headers,
            body,
            now=time.time(),
            max_skew_seconds=settings.max_clock_skew_seconds,
        )
        if request.mimetype != "application/json":
            raise UnsupportedMediaType("expected application/json")
        if not body:
            raise MalformedPayload("empty body")
        order = parse_order(body, platform, settings.categories, ZoneInfo(rt.config.server.timezone))
        received = receive(order, body, settings)
    except (ChannelError, InvalidReport) as err:
        status = err.status if isinstance(err, ChannelError) else 400
        log.warning("city order push from %s refused (%s): %s", platform, status, err)
        return _refuse(status, str(err))
    data = {"workordercode": order.code, "casenumber": received.case_number, "updated": not received.new_order}
    return jsonify(answer(True, "操作成功", data=data))
