"""Demo: a work order the city platform pushes (the captured push, dated today), through the order handling."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from channels.city.adapter import parse_order
from channels.city.orders import receive
from channels.city.settings import city_settings
from channels.common import DemoContext
from intake.models import utcnow

FIXTURE = Path(__file__).parent / "fixtures" / "order_push.json"
#: The secret scripts/demo.sh gives the first city platform when none is set (demo only, public).
DEMO_SECRET = "demo-city-secret"


def load(context: DemoContext) -> list[str]:
    config = context.runtime.config
    platforms = city_settings(config).platforms
    if not platforms:
        return ["no city platform is configured (city.platforms): no city order"]
    name, platform = next(iter(platforms.items()))
    zone = ZoneInfo(config.server.timezone)
    now = utcnow().astimezone(zone)
    order = json.loads(FIXTURE.read_text(encoding="utf-8"))
    order.update(
        workordercode=f"SJ{now:%Y%m%d}000123",
        dispatchtime=f"{now - timedelta(minutes=20):%Y-%m-%d %H:%M:%S}",
        processlimited=f"{now + timedelta(days=5):%Y-%m-%d}",
        # The captured order's photos are on the city's (example) file server.
        attachments="",
    )
    body = json.dumps(order, ensure_ascii=False).encode()
    receive(parse_order(body, name, platform.categories, zone), body, platform)
    variable = f"GRIDLINE_CITY__PLATFORMS__{name.upper()}__SECRET"
    if platform.secret == DEMO_SECRET:
        secret = f"the demo secret {DEMO_SECRET!r}"
    elif platform.secret:
        secret = f"the secret in {variable}"
    else:
        secret = f"a secret: set {variable} first (scripts/demo.sh sets {DEMO_SECRET!r})"
    return [
        f"1 work order from city platform {name} (deadline in 5 days)",
        f"try: POST {config.public_url}/channels/city/{name}/orders (JSON as in channels/city/fixtures/"
        f"order_push.json), signed with X-Timestamp and X-Signature = HMAC-SHA256 of "
        f"'POST\\n<path>\\n<timestamp>\\n' + body under {secret}",
    ]
