"""The Open311 GeoReport v2 server at ``/open311/v2/`` and its service discovery at ``/open311/discovery``.

Every resource answers in XML (``.xml``, or no extension: the spec's required format) and JSON (``.json``):
``GET services``, ``GET services/<code>`` (a service definition), ``POST requests`` (``api_key``
required: each partner its own), ``GET requests`` (filters), ``GET requests/<id>``, ``GET tokens/<token>``.
Errors are the spec's list of ``{code, description}`` with 404 for what does not exist, 403 for a missing
or wrong ``api_key`` and 400 for everything else.
"""

from __future__ import annotations

import functools
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from channels.errors import AuthFailed, ChannelError, MalformedPayload, NotFound
from channels.open311 import service_requests
from channels.open311.adapter import check_jurisdiction, parse_query, parse_request, service_for
from channels.open311.formats import errors, render
from channels.open311.partners import partner_for_key
from channels.open311.settings import LIST_DATATYPES, Open311Settings, ServiceSettings, open311_settings
from intake import InvalidReport
from intake.models import utcnow
from intake.web import csrf, runtime

log = logging.getLogger(__name__)

bp = Blueprint("open311", __name__)
csrf.exempt(bp)

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
#: The spec's wording for a refused key (clients show it to their operators).
BAD_KEY = "Invalid api_key received -- can't proceed with create_request."
_RESOURCES = frozenset({"services", "requests", "tokens"})

F = TypeVar("F", bound=Callable[..., Response])


def _fmt() -> str:
    """The format the path asks for: ``.json``, else XML (the spec's required format)."""
    return "json" if request.path.endswith(".json") else "xml"


def _split(name: str) -> str:
    """``033.json`` → ``033``: the id in a path, without its format."""
    stem, dot, extension = name.rpartition(".")
    return stem if dot and extension in ("json", "xml") else name


def _settings() -> Open311Settings:
    return open311_settings(runtime().config)


def georeport(view: F) -> F:
    """Answer every refusal (and any failure) in the spec's error format."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except ChannelError as err:
            problems = getattr(err, "problems", None) or [err.message]
            # The count, not the messages: those quote what the client sent.
            log.info(
                "open311 %s %s refused (%s, %d problem(s))", request.method, request.path, err.status, len(problems)
            )
            return errors(err.status, problems, _fmt())
        except InvalidReport as err:
            return errors(400, [str(err)], _fmt())
        except HTTPException:
            raise
        except Exception:
            # The spec's "general service error": 400, and the client is to tell us; the log has the cause.
            log.exception("open311 %s %s failed", request.method, request.path)
            return errors(400, ["general service error; please try again later or contact us"], _fmt())

    return wrapper  # type: ignore[return-value]


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(err: RequestEntityTooLarge) -> Response:
    return errors(413, [f"body larger than {runtime().config.server.max_request_bytes} bytes"], _fmt())


# --- discovery and services -------------------------------------------------------------------------------


@bp.get("/open311/discovery.<any(json, xml):fmt>")
@georeport
def discovery(fmt: str) -> Response:
    settings = _settings()
    endpoint = {
        "specification": SPECIFICATION,
        "url": f"{runtime().config.public_url}{PREFIX}",
        "changeset": settings.changeset,
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }
    document = {
        "changeset": settings.changeset,
        "contact": settings.contact,
        "key_service": settings.key_service,
        "endpoints": [endpoint],
    }
    return render(document, fmt, "discovery")


@bp.get(f"{PREFIX}/services")
@bp.get(f"{PREFIX}/services.<any(json, xml):fmt>")
@georeport
def services(fmt: str = "xml") -> Response:
    settings = _settings()
    check_jurisdiction(request.args.get("jurisdiction_id"), settings.jurisdiction_id)
    return render([_service(service) for service in settings.by_code.values()], fmt, "services")


def _service(service: ServiceSettings) -> dict[str, Any]:
    return {
        "service_code": service.service_code,
        "service_name": service.service_name,
        "description": service.description,
        "metadata": service.metadata,
        "type": service.type,
        "keywords": ", ".join(service.keywords),
        "group": service.group,
    }


@bp.get(f"{PREFIX}/services/<path:name>")
@georeport
def service_definition(name: str) -> Response:
    settings = _settings()
    check_jurisdiction(request.args.get("jurisdiction_id"), settings.jurisdiction_id)
    service = service_for(_split(name), settings.by_code)
    attributes = []
    for order, attribute in service.ordered_attributes():
        item: dict[str, Any] = {
            "variable": attribute.variable,
            "code": attribute.code,
            "datatype": attribute.datatype,
            "required": attribute.required,
            "datatype_description": attribute.datatype_description or None,
            "order": order,
            "description": attribute.description,
        }
        if attribute.datatype in LIST_DATATYPES:
            item["values"] = [{"key": value.key, "name": value.name} for value in attribute.values]
        attributes.append(item)
    return render({"service_code": service.service_code, "attributes": attributes}, _fmt(), "service_definition")


# --- requests ----------------------------------------------------------------------------------------------


@bp.route(f"{PREFIX}/requests", methods=["GET", "POST"])
@bp.route(f"{PREFIX}/requests.<any(json, xml):fmt>", methods=["GET", "POST"])
@georeport
def requests_resource(fmt: str = "xml") -> Response:
    if request.method == "POST":
        return _post_request(fmt)
    settings = _settings()
    check_jurisdiction(request.args.get("jurisdiction_id"), settings.jurisdiction_id)
    zone = ZoneInfo(runtime().config.server.timezone)
    query = parse_query(request.args, now=utcnow(), zone=zone, max_days=settings.max_days)
    return render(service_requests.find_requests(query, settings), fmt, "service_requests")


def _post_request(fmt: str) -> Response:
    rt = runtime()
    settings = _settings()
    if request.mimetype not in FORM_TYPES:
        raise MalformedPayload("POST requests as application/x-www-form-urlencoded")
    form = request.form
    # Some clients put the key in the query string; the spec's place is the form.
    api_key = form.get("api_key") or request.args.get("api_key") or ""
    with rt.db.transaction() as session:
        partner = partner_for_key(session, api_key)
        if partner is None:
            raise AuthFailed(BAD_KEY)
        partner_id, partner_name = partner.id, partner.name
    check_jurisdiction(form.get("jurisdiction_id") or request.args.get("jurisdiction_id"), settings.jurisdiction_id)
    # What we keep as the raw payload: every field as sent, except the key (only its hash is ever stored).
    fields = [(key, value) for key, value in form.items(multi=True) if key != "api_key"]
    submission = parse_request(
        form,
        settings.by_code,
        partner_id=partner_id,
        partner_name=partner_name,
        zone=ZoneInfo(rt.config.server.timezone),
        now=utcnow(),
        raw=urllib.parse.urlencode(fields).encode(),
        raw_content_type="application/x-www-form-urlencoded",
    )
    filed = service_requests.file_request(submission, partner_id)
    log.info(
        "open311 request from partner %s filed as case %s (service %s, duplicate=%s)",
        partner_name,
        filed.case_number,
        submission.service.service_code,
        filed.duplicate,
    )
    answer: dict[str, Any] = {}
    if submission.service.type == "realtime":
        answer["service_request_id"] = filed.case_number
    elif submission.service.type == "batch":
        answer["token"] = filed.token
    answer["service_notice"] = submission.service.service_notice or None
    answer["account_id"] = submission.report.meta.get("account_id")
    return render([answer], fmt, "service_requests")


@bp.get(f"{PREFIX}/requests/<path:name>")
@georeport
def request_resource(name: str) -> Response:
    settings = _settings()
    check_jurisdiction(request.args.get("jurisdiction_id"), settings.jurisdiction_id)
    number = _split(name)
    found = service_requests.find_request(number, settings)
    if found is None:
        raise NotFound(f"service_request_id {number!r} not found")
    return render([found], _fmt(), "service_requests")


@bp.get(f"{PREFIX}/tokens/<path:name>")
@georeport
def token_resource(name: str) -> Response:
    settings = _settings()
    check_jurisdiction(request.args.get("jurisdiction_id"), settings.jurisdiction_id)
    token = _split(name)
    state = service_requests.look_up_token(token)
    if state is None:
        raise NotFound(f"token {token!r} not found")
    item: dict[str, Any] = {}
    if state.service_request_id is not None:
        item["service_request_id"] = state.service_request_id
    item["token"] = state.token
    return render([item], _fmt(), "service_requests")


# --- everything else under the endpoint -------------------------------------------------------------------------


@bp.route(f"{PREFIX}/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route(f"{PREFIX}/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@georeport
def unknown(rest: str) -> Response:
    resource = _split(rest.split("/", 1)[0])
    if resource in _RESOURCES:
        return errors(405, [f"{request.method} is not allowed on {resource}"], _fmt())
    raise NotFound(f"no resource {rest!r}; see {SPECIFICATION}")
