"""Demo: a partner platform (FixMyStreet) with its own API key files an Open311 request, as captured."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from channels.common import DemoContext
from channels.open311.adapter import check_jurisdiction, parse_request
from channels.open311.partners import add_partner, partner_for_key
from channels.open311.service_requests import file_request
from channels.open311.settings import open311_settings
from intake.models import utcnow

FIXTURE = Path(__file__).parent / "fixtures" / "post_request_fixmystreet.txt"
PARTNER = "fixmystreet-demo"
#: The captured request is about a street light: filed under whichever service code means that here.
CATEGORY = "street-light"


def load(context: DemoContext) -> list[str]:
    runtime = context.runtime
    settings = open311_settings(runtime.config)
    service = next((item for item in settings.by_code.values() if item.category == CATEGORY), None)
    if service is None:
        return [f"no Open311 service for {CATEGORY}: no partner request"]
    with runtime.db.transaction() as session:
        api_key = add_partner(session, PARTNER)
    # The captured post with the demo partner's key and our service code; its photos stay on the
    # partner's (example) host.
    replace = {"api_key": api_key, "service_code": service.service_code}
    pairs = urllib.parse.parse_qsl(FIXTURE.read_text().strip(), keep_blank_values=True)
    pairs = [(key, replace.get(key, value)) for key, value in pairs if key != "media_url"]
    form = MultiDict(pairs)
    with runtime.db.transaction() as session:
        partner = partner_for_key(session, form.get("api_key", ""))
        assert partner is not None
        partner_id, partner_name = partner.id, partner.name
    check_jurisdiction(form.get("jurisdiction_id"), settings.jurisdiction_id)
    submission = parse_request(
        form,
        settings.by_code,
        partner_id=partner_id,
        partner_name=partner_name,
        zone=ZoneInfo(runtime.config.server.timezone),
        now=utcnow(),
        raw=urllib.parse.urlencode([(key, value) for key, value in pairs if key != "api_key"]).encode(),
        raw_content_type="application/x-www-form-urlencoded",
    )
    file_request(submission, partner_id)
    url = runtime.config.public_url
    return [
        f"1 request from partner {PARTNER} (a street light near a website report)",
        f"try: POST {url}/open311/v2/requests.json with api_key={api_key}"
        + (f" and jurisdiction_id={settings.jurisdiction_id}" if settings.jurisdiction_id else "")
        + f" (services: {url}/open311/v2/services.json; "
        "GeoReport clients such as FixMyStreet take these)",
    ]
