"""Helpers shared by channel tests: captured fixtures, Twilio signing, a recording HTTP peer."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

import channels
from tests.conftest import PUBLIC_URL, TWILIO_AUTH_TOKEN

CHANNELS_DIR = Path(channels.__file__).parent


def fixture_path(channel: str, name: str) -> Path:
    return CHANNELS_DIR / channel / "fixtures" / name


def form_fixture(channel: str, name: str, **replace: str) -> list[tuple[str, str]]:
    """A captured form-encoded payload as (name, value) pairs, with some values replaced."""
    pairs = urllib.parse.parse_qsl(fixture_path(channel, name).read_text().strip(), keep_blank_values=True)
    return [(key, replace.get(key, value)) for key, value in pairs]


def json_fixture(channel: str, name: str) -> dict[str, object]:
    return json.loads(fixture_path(channel, name).read_text(encoding="utf-8"))


def twilio_signature(path: str, params: list[tuple[str, str]], token: str = TWILIO_AUTH_TOKEN) -> str:
    """X-Twilio-Signature as Twilio computes it, over the public URL the request was sent to."""
    return RequestValidator(token).compute_signature(PUBLIC_URL + path, MultiDict(params))


def post_twilio(
    base_url: str, path: str, params: list[tuple[str, str]], *, signature: str | None = None
) -> requests.Response:
    """POST a form the way Twilio does: urlencoded, signed."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(path, params) if signature is None else signature,
        "User-Agent": "TwilioProxy/1.1",
    }
    return requests.post(base_url + path, data=urllib.parse.urlencode(params).encode(), headers=headers, timeout=10)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingServer:
    """A real HTTP server on loopback that answers canned responses by path prefix and records requests."""

    routes: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def route(self, prefix: str, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.routes[prefix] = (status, content_type, body)


@contextmanager
def recording_server() -> Iterator[RecordingServer]:
    state = RecordingServer()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append(Recorded(self.command, self.path, dict(self.headers.items()), body))
            for prefix, (status, content_type, payload) in sorted(state.routes.items(), key=lambda r: -len(r[0])):
                if self.path.startswith(prefix):
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
            self.send_error(404)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        thread.join(timeout=5)
