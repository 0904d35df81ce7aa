"""Demo: a citizen signed in to the app (社管通) sends a report with a photo to the app's API."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from channels.app.models import AppToken
from channels.app.otp import code_delivery_note, new_token
from channels.common import DemoContext
from intake.models import utcnow

#: The demo citizen's mobile number (sign in with it on the app page).
PHONE = "+8613900001111"
#: The same photo a grid worker's phone sends in the tests (a tiny real PNG).
PHOTO = Path(__file__).parent.parent / "grid" / "fixtures" / "report.json"


def load(context: DemoContext) -> list[str]:
    from channels.app.views import TOKEN_PREFIX

    # What signing in leaves behind (POST /api/app/v1/auth/verify): a bearer token for the number.
    token, digest = new_token(TOKEN_PREFIX)
    with context.runtime.db.transaction() as session:
        session.add(AppToken(phone=PHONE, token_hash=digest, expires_at=utcnow() + timedelta(days=1)))
    photos = json.loads(PHOTO.read_text(encoding="utf-8"))["photos"]
    body = {
        "description": "南华园二区3号楼旁的垃圾桶满了好几天没人清运，气味很大。",
        "category": "garbage",
        "address": "龙山街道南华园二区3号楼旁",
        "lat": 40.3105,
        "lon": 116.6205,
        "client_id": "demo-app-0001",
        "photos": photos,
    }
    response = context.client.post(
        "/api/app/v1/reports", json=body, headers={"Authorization": f"Bearer {token}", "Accept-Language": "zh"}
    )
    if response.status_code not in (200, 201):
        raise RuntimeError(f"the app's API refused the demo report: {response.status_code} {response.text}")
    url = context.runtime.config.public_url
    local = PHONE.removeprefix("+86")
    return [
        "1 citizen-app report with a photo",
        f"try: {url}/app/ on a phone, sign in with {local} (or any number); {code_delivery_note()}",
    ]
