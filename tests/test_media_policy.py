"""Attachment downloads refuse what senders must not make us fetch (SSRF): real HTTP servers on loopback."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import select

from intake import submit
from intake.errors import DownloadRefused
from intake.media import MediaPolicy, _download_session, _Guard, download_attachments
from intake.models import Attachment, CaseEvent
from intake.report import AttachmentIn, Report
from intake.runtime import Runtime
from tests.conftest import TWILIO_ACCOUNT_SID

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100 + b"\xff\xd9"


@dataclass
class MediaServer:
    """Answers ``/redirect?to=<url>`` with a 302 there and anything else with a JPEG; records each request."""

    port: int = 0
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # (Host header, path, Authorization)


@contextmanager
def media_server() -> Iterator[MediaServer]:
    state = MediaServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append((self.headers.get("Host", ""), self.path, self.headers.get("Authorization")))
            if self.path.startswith("/redirect?to="):
                self.send_response(302)
                self.send_header("Location", requests.utils.unquote(self.path.split("=", 1)[1]))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(JPEG)))
            self.end_headers()
            self.wfile.write(JPEG)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        thread.join(timeout=5)


def report_with(channel: str, source_id: str, *urls: str) -> int:
    attachments = tuple(AttachmentIn(filename=f"photo{i}.jpg", url=url) for i, url in enumerate(urls))
    return submit(Report(channel=channel, source_id=source_id, text="井盖丢了", attachments=attachments)).report_id


def attachments(runtime: Runtime) -> list[Attachment]:
    with runtime.db.transaction() as session:
        rows = list(session.scalars(select(Attachment).order_by(Attachment.id)))
        session.expunge_all()
        return rows


def refusals(runtime: Runtime) -> list[CaseEvent]:
    with runtime.db.transaction() as session:
        rows = list(
            session.scalars(select(CaseEvent).where(CaseEvent.kind == "attachment_refused").order_by(CaseEvent.id))
        )
        session.expunge_all()
        return rows


def test_private_loopback_and_metadata_addresses_are_refused_at_once(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    with media_server() as server:
        report_id = report_with(
            "web",
            "ssrf-1",
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/?token=SECRET-TOKEN",
            f"http://127.0.0.1:{server.port}/admin",
            f"http://[::1]:{server.port}/admin",
            "http://10.1.2.3/x.jpg",
            "http://[::ffff:192.168.1.1]/x.jpg",
            "file:///etc/passwd",
            "http://user:pw@example.com/x.jpg",
        )
        with caplog.at_level(logging.WARNING, logger="intake.media"):
            counts = download_attachments(report_id)  # refusals are final: the job does not fail for RQ to retry
        assert server.seen == []  # nothing reached the loopback server
    assert counts["refused"] == 7 and counts["stored"] == 0
    rows = attachments(runtime)
    assert {row.status for row in rows} == {"failed"} and all(row.attempts == 1 for row in rows)
    errors = [row.error or "" for row in rows]
    assert "link-local" in errors[0] and "169.254.169.254" in errors[0]
    assert "loopback" in errors[1] and "loopback" in errors[2]
    assert "private" in errors[3] and "private" in errors[4]
    assert "scheme 'file'" in errors[5] and "credentials in the URL" in errors[6]
    assert all(error.startswith("refused: ") for error in errors)
    events = refusals(runtime)
    assert len(events) == 7 and events[0].detail["attachment_id"] == rows[0].id
    # The metadata URL's query string (a token) is neither logged nor stored.
    assert "SECRET-TOKEN" not in caplog.text and all("SECRET-TOKEN" not in error for error in errors)
    assert "169.254.169.254/latest/meta-data/iam/security-credentials/" in caplog.text
    # Running the job again fetches nothing: refused attachments are no longer pending.
    assert download_attachments(report_id)["refused"] == 0


def test_a_redirect_to_a_private_address_is_refused(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime.config.worker, "attachment_allowed_private", ["127.0.0.1"])
    with media_server() as server:
        start = f"http://127.0.0.1:{server.port}/redirect?to="
        report_id = report_with(
            "web",
            "ssrf-2",
            start + "http://169.254.169.254/latest/meta-data/",
            start + f"http://127.0.0.2:{server.port}/other",  # loopback, but not the allowed address
            start + f"http://127.0.0.1:{server.port}/photo.jpg",
        )
        counts = download_attachments(report_id)
        paths = [path for _, path, _ in server.seen]
    assert counts == {"stored": 1, "too_large": 0, "failed": 0, "refused": 2}
    assert paths == [
        "/redirect?to=http://169.254.169.254/latest/meta-data/",
        f"/redirect?to=http://127.0.0.2:{server.port}/other",
        f"/redirect?to=http://127.0.0.1:{server.port}/photo.jpg",
        "/photo.jpg",
    ]
    metadata, other, photo = attachments(runtime)
    assert metadata.status == "failed" and "link-local address (169.254.169.254)" in (metadata.error or "")
    assert other.status == "failed" and "loopback address (127.0.0.2)" in (other.error or "")
    assert (photo.status, photo.size) == ("stored", len(JPEG))


def test_too_many_redirects_are_refused(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime.config.worker, "attachment_allowed_private", ["127.0.0.1"])
    monkeypatch.setattr(runtime.config.worker, "attachment_max_redirects", 1)
    with media_server() as server:
        base = f"http://127.0.0.1:{server.port}"
        hop2 = f"{base}/redirect?to={base}/photo.jpg"
        report_id = report_with("web", "ssrf-3", f"{base}/redirect?to={requests.utils.quote(hop2, safe='')}")
        assert download_attachments(report_id)["refused"] == 1
    [row] = attachments(runtime)
    assert "more than 1 redirects" in (row.error or "")


def test_twilio_media_only_from_twilio_hosts_with_credentials_for_the_api_only(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    with media_server() as server:
        # "localhost" plays Twilio's API, 127.0.0.1 its media CDN; both allowed, both on loopback.
        api = f"http://localhost:{server.port}"
        monkeypatch.setattr(runtime.config.twilio, "api_base_url", api)
        monkeypatch.setattr(runtime.config.twilio, "media_hosts", ["127.0.0.1"])
        monkeypatch.setattr(runtime.config.worker, "attachment_allowed_private", ["localhost", "127.0.0.1"])
        cdn = f"http://127.0.0.1:{server.port}/cdn/ME1?X-Amz-Signature=abc"
        media = f"{api}/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages/MM1/Media/ME1"
        report_id = report_with(
            "sms",
            "SM-ssrf-4",
            f"{api}/redirect?to={requests.utils.quote(cdn, safe='')}",
            media,
            "https://example.org/not-twilio.jpg",
        )
        counts = download_attachments(report_id)
        seen = list(server.seen)
    assert counts == {"stored": 2, "too_large": 0, "failed": 0, "refused": 1}
    (_, _, api_auth), (cdn_host, cdn_path, cdn_auth), (_, _, media_auth) = seen
    assert api_auth is not None and media_auth is not None and api_auth.startswith("Basic ")
    # The redirect's CDN host gets no Twilio credentials.
    assert cdn_host == f"127.0.0.1:{server.port}" and cdn_path.startswith("/cdn/ME1") and cdn_auth is None
    first, second, other = attachments(runtime)
    assert (first.status, second.status) == ("stored", "stored")
    assert other.status == "failed" and "host example.org is not allowed for this source" in (other.error or "")


def test_a_city_platforms_attachments_only_from_its_hosts(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    platform = {"secret": "s" * 32, "attachment_hosts": ["files.city.example", "*.cdn.city.example"]}
    monkeypatch.setattr(runtime.config, "city", {"platforms": {"beijing": platform}})
    monkeypatch.setattr(runtime.config.worker, "attachment_allowed_private", ["127.0.0.1"])
    with media_server() as server:
        report_id = report_with("city", "beijing:SJ1", f"http://127.0.0.1:{server.port}/files/a.jpg")
        assert download_attachments(report_id)["refused"] == 1
        assert server.seen == []
    [row] = attachments(runtime)
    assert "host 127.0.0.1 is not allowed for this source" in (row.error or "")


def test_the_connected_address_is_checked_on_the_socket(runtime: Runtime) -> None:
    """A name that passed the first look but connects somewhere not allowed (DNS rebinding) gets nowhere."""
    guard = _Guard(policy=MediaPolicy(), allowed_private=())
    with media_server() as server, _download_session(guard) as session:
        with pytest.raises(DownloadRefused, match="loopback"):
            session.get(f"http://localhost:{server.port}/photo.jpg", timeout=5)
        assert server.seen == []
    allowed = _Guard(policy=MediaPolicy(), allowed_private=("127.0.0.0/8", "::1"))
    with media_server() as server, _download_session(allowed) as session:
        assert session.get(f"http://127.0.0.1:{server.port}/photo.jpg", timeout=5).content == JPEG


def test_host_patterns_are_validated_in_the_configuration() -> None:
    from intake.config import load_config
    from intake.errors import ConfigError

    config = load_config(worker={"attachment_allowed_private": ["10.20.0.0/16", "NVR.local.", "*.cams.example"]})
    assert config.worker.attachment_allowed_private == ["10.20.0.0/16", "nvr.local", "*.cams.example"]
    with pytest.raises(ConfigError, match=r"worker\.attachment_allowed_private"):
        load_config(worker={"attachment_allowed_private": ["http://10.0.0.1/"]})
