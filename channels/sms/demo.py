"""Demo: a citizen's SMS, as Twilio posts it, read by the SMS adapter and submitted."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from werkzeug.datastructures import MultiDict

from channels.common import DemoContext
from channels.sms.adapter import parse
from intake import submit

FIXTURE = Path(__file__).parent / "fixtures" / "inbound_sms.txt"
#: The captured post with a message id and number of the demo's own (so it opens a case of its own).
DEMO_FIELDS = {
    "MessageSid": "SM" + "de30" * 8,
    "SmsMessageSid": "SM" + "de30" * 8,
    "SmsSid": "SM" + "de30" * 8,
    "From": "+8613501230001",
}


def load(context: DemoContext) -> list[str]:
    pairs = urllib.parse.parse_qsl(FIXTURE.read_text().strip(), keep_blank_values=True)
    pairs = [(key, DEMO_FIELDS.get(key, value)) for key, value in pairs]
    message = parse(MultiDict(pairs), urllib.parse.urlencode(pairs).encode())
    assert message.report is not None
    submit(message.report)
    config = context.runtime.config
    signed = "set" if config.twilio.auth_token else "not set: set GRIDLINE_TWILIO__AUTH_TOKEN"
    return [
        "1 SMS (the same manhole as a website report: a cross-channel duplicate)",
        f"try: point a Twilio number's messaging webhook at {config.public_url}/channels/sms/twilio "
        f"(signed with the Twilio auth token: {signed}); replies go out through Twilio's REST API",
    ]
