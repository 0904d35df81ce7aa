"""The demo data (`gridline demo load`, `gridline run` on an empty database): every channel's sample cases,
made through the channel's own path, reach the agents' queue once a worker ran; what it prints works."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from agent_ui.duplicates import candidates
from channels.common import Channel
from channels.registry import CHANNELS
from intake.models import Attachment, Case, ReportRecord
from intake.runtime import Runtime
from intake.states import CaseStatus
from tests.test_console import sign_in

DEMO_PASSWORD = "demo-password-1"


@pytest.fixture
def demo(runtime: Runtime, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Load the demo as `gridline run` does (a small gazetteer), let a worker run; returns the printed lines."""
    import intake.cli as cli

    monkeypatch.setattr(cli, "_runtime", lambda: runtime)
    result = CliRunner().invoke(cli.main, ["demo", "load", "--password", DEMO_PASSWORD, "--addresses", "0"])
    assert result.exit_code == 0, result.output
    run_worker()
    return result.output.splitlines()


def queue(base: str) -> list[dict[str, object]]:
    agent, _ = sign_in(base, "agent1", DEMO_PASSWORD)
    response = agent.get(f"{base}/console/api/queue", timeout=10)
    assert response.status_code == 200
    return response.json()["cases"]  # type: ignore[no-any-return]


def case_of(runtime: Runtime, channel: str) -> Case:
    with runtime.db.transaction() as session:
        found = session.scalars(select(Case).where(Case.channel == channel).order_by(Case.id)).first()
        assert found is not None, f"no demo case of channel {channel}"
        session.expunge(found)
        return found


def test_every_channel_has_demo_data_through_the_registry() -> None:
    missing = [channel.name for channel in CHANNELS if channel.demo_loader() is None]
    assert missing == []
    assert all(channel.package.startswith("channels.") for channel in CHANNELS)
    # An entry made elsewhere names its own module: an eleventh channel brings its demo.py along.
    assert Channel(name="eleventh").package == __name__


def test_the_demo_queue_holds_cases_of_every_channel(
    runtime: Runtime, demo: list[str], live_server: str, run_worker: Callable[[], None]
) -> None:
    rows = queue(live_server)
    by_channel: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_channel.setdefault(str(row["channel"]), []).append(row)
    assert set(by_channel) == {channel.name for channel in CHANNELS}
    assert len(by_channel["web"]) == 4
    with runtime.db.transaction() as session:
        statuses = set(session.scalars(select(Case.status)).all())
    assert statuses == {CaseStatus.VERIFYING}

    camera, grid = case_of(runtime, "camera"), case_of(runtime, "grid")
    assert camera.category == grid.category == "illegal-parking"
    assert camera.grid_code == grid.grid_code == "110116001001004"
    assert "HR-QH-0007" in (camera.description or "")
    # The camera's and the grid worker's report of the same lorries: an agent can merge them.
    assert grid.number in [found.number for found in candidates(camera.number)]

    sms, web = case_of(runtime, "sms"), case_of(runtime, "web")
    assert sms.number in [found.number for found in candidates(web.number)]

    hotline, email, city = case_of(runtime, "hotline"), case_of(runtime, "email"), case_of(runtime, "city")
    with runtime.db.transaction() as session:
        stored = {
            case_id: content_type
            for case_id, content_type in session.execute(
                select(Attachment.case_id, Attachment.content_type).where(Attachment.status == "stored")
            )
        }
        city_raw = session.scalar(select(ReportRecord.raw_content_type).where(ReportRecord.case_id == city.id))
    assert stored[hotline.id] == "audio/x-wav"
    assert stored[email.id].startswith("image/")
    assert stored[camera.id] == "image/jpeg"
    assert stored[grid.id].startswith("image/") and stored[case_of(runtime, "app").id].startswith("image/")
    assert city_raw == "application/json" and city.due_at is not None

    leader, partner = case_of(runtime, "leader"), case_of(runtime, "partner")
    assert leader.priority == 2 and web.priority == 1  # the leader's own case, and the one flagged
    assert partner.category == "street-light" and partner.grid_code is not None
    assert case_of(runtime, "app").grid_code is not None


def test_what_the_demo_prints_lets_a_person_try_each_channel(
    runtime: Runtime, demo: list[str], live_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    printed = "\n".join(demo)
    assert f"password: {DEMO_PASSWORD}" in printed
    assert printed.count(DEMO_PASSWORD) == 1
    for channel in CHANNELS:
        assert f"  {channel.name} " in printed, f"nothing printed for {channel.name}"

    # The partner's API key files a request.
    api_key = printed.split("api_key=")[1].split()[0]
    filed = requests.post(
        f"{live_server}/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "jurisdiction_id": "huairou.gov.cn",
            "service_code": "002",
            "lat": "40.3245",
            "long": "116.6345",
            "description": "路灯不亮",
        },
        timeout=10,
    )
    assert filed.status_code == 200, filed.text

    # The camera sender's password is accepted by the Hikvision receiver.
    password = printed.split("user hik-demo, password ")[1].split()[0]
    alarm = requests.post(
        f"{live_server}/channels/camera/hikvision",
        data=b"<EventNotificationAlert><eventType>videoloss</eventType><eventState>inactive</eventState>"
        b"<macAddress>ac:b9:2f:49:44:75</macAddress><channelID>1</channelID></EventNotificationAlert>",
        headers={
            "Content-Type": "application/xml",
            "Authorization": "Basic " + base64.b64encode(f"hik-demo:{password}".encode()).decode(),
        },
        timeout=10,
    )
    assert alarm.status_code == 200, alarm.text

    # The grid worker and the app user sign in with the printed phone; codes are never logged by default.
    assert "sign in as HR0001" in printed and "13800010001" in printed and "13900001111" in printed
    assert "the code comes by SMS (Twilio)" in printed  # the tests' configuration has a Twilio account
    with caplog.at_level(logging.INFO, logger="channels.app.otp"):
        asked = requests.post(f"{live_server}/api/app/v1/auth/code", json={"phone": "13900001111"}, timeout=10)
    assert asked.status_code == 202
    assert "demo:" not in caplog.text


def test_demo_show_codes_puts_sign_in_codes_in_the_log_without_twilio(
    runtime: Runtime,
    live_server: str,
    make_user: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    places: None,
) -> None:
    monkeypatch.setattr(runtime.config.demo, "show_codes", True)
    monkeypatch.setattr(runtime.config.twilio, "account_sid", "")
    with caplog.at_level(logging.INFO, logger="channels.app.otp"):
        asked = requests.post(f"{live_server}/api/app/v1/auth/code", json={"phone": "13900001111"}, timeout=10)
    assert asked.status_code == 202
    code = caplog.text.split("sign-in code for")[-1].split(" is ")[1].split()[0]
    assert "13900001111" not in caplog.text  # the number is masked
    verified = requests.post(
        f"{live_server}/api/app/v1/auth/verify", json={"phone": "13900001111", "code": code}, timeout=10
    )
    assert verified.status_code == 200, verified.text
