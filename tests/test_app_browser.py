"""The citizen app (社管通) in a real Chromium on a phone-sized screen: installable (manifest, service
worker, starts offline), SMS-code sign-in, a report with a photo and location, "my reports" with the
status, the result and the rating."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from intake.cases import apply, get_case
from intake.models import Attachment, ReportRecord
from intake.runtime import Runtime
from intake.states import Action
from tests.browser import MOBILE, new_context, new_page, screenshot
from tests.support import RecordingServer
from tests.test_app_api import CITIZEN, code_from, twilio_sms

pytestmark = pytest.mark.browser

QUANHE = {"latitude": 40.3225, "longitude": 116.6392}


@pytest.fixture
def twilio(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    with twilio_sms(runtime, monkeypatch) as server:
        yield server


def test_install_sign_in_report_and_follow_it_on_the_phone(
    browser: Browser,
    live_server: str,
    runtime: Runtime,
    places: None,
    twilio: RecordingServer,
    run_worker: Callable[[], None],
) -> None:
    context = new_context(browser, live_server, geolocation=QUANHE, permissions=["geolocation"], **MOBILE)
    page, network = new_page(context, live_server)
    page.goto("/app")
    expect(page).to_have_url(re.compile(r"/app/$"))
    expect(page.locator("h1")).to_have_text("怀柔社管通")
    # Installable: Chromium itself finds nothing missing (manifest, icons, service worker, secure origin)
    # but for the test's own browser context being an incognito one.
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.active && r.active.scriptURL)").endswith(
        "/app/sw.js"
    )
    cdp = context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert [error["errorId"] for error in errors if error["errorId"] != "in-incognito"] == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [] and manifest["url"].endswith("/app/manifest.webmanifest")
    screenshot(page, "app-sign-in-mobile-zh")

    page.fill("#phone", "138 1234 8000")
    page.click("#get-code")
    expect(page.locator("#sign-in-status")).to_have_text("验证码已发送，请查收短信")
    run_worker()
    page.fill("#code", code_from(twilio, CITIZEN))
    page.click("#sign-in-button")
    expect(page.locator("#who")).to_have_text("138****8000")
    expect(page.locator("#report-form")).to_be_visible()

    page.fill("#description", "小区门口路灯不亮已有一周，晚上出行不便。")
    page.select_option("#category", "street-light")
    page.fill("#address", "泉河街道青春路12号")
    page.click("#locate")
    expect(page.locator("#point")).to_contain_text("40.322500, 116.639200")
    jpeg = page.screenshot(type="jpeg", quality=60, clip={"x": 0, "y": 0, "width": 64, "height": 48})
    page.set_input_files("#photos", [{"name": "路灯.jpg", "mimeType": "image/jpeg", "buffer": jpeg}])
    screenshot(page, "app-report-form-mobile-zh")
    page.tap("#report-submit")
    expect(page.locator("#report-done")).to_contain_text(re.compile(r"提交成功，诉求编号 \d{8}-\d{6}"))
    number = page.locator("#report-done").inner_text().rsplit(" ", 1)[-1]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    run_worker()
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        assert (case.channel, case.reporter_phone, case.grid_code) == ("app", CITIZEN, "110116001001004")
        assert session.scalar(select(ReportRecord.meta))["via"] == "page"
        assert session.scalar(select(Attachment.filename)) == "路灯.jpg"

    page.click("#tab-mine-button")
    item = page.locator(f"#case-{number}")
    expect(item).to_contain_text("核实中")
    screenshot(page, "app-my-reports-mobile-zh")

    with runtime.db.transaction() as session:
        case = get_case(session, number)
        apply(session, case, Action.DISPATCH, actor="user:agent1", department_code="urban-management")
        apply(session, case, Action.ACCEPT, actor="user:urban")
        apply(session, case, Action.REPORT_RESULT, actor="user:urban", detail={"result": "已更换灯泡，恢复照明"})
        apply(session, case, Action.CHECK_PASS, actor="user:agent1", detail={"method": "callback"})
        apply(session, case, Action.CLOSE, actor="user:agent1")
    page.click("[data-tab=report]")
    page.click("#tab-mine-button")
    expect(item).to_contain_text("已结案")
    expect(item).to_contain_text("办理结果: 已更换灯泡，恢复照明")
    item.get_by_role("button", name="满意", exact=True).tap()
    expect(page.locator(f"#case-{number}")).to_contain_text("您的评价: 满意")
    screenshot(page, "app-result-rated-mobile-zh")
    with runtime.db.transaction() as session:
        assert get_case(session, number).satisfaction == 1

    # Offline, the app still starts (its shell comes from the service worker's cache).
    context.set_offline(True)
    page.reload()
    expect(page.locator("h1")).to_have_text("怀柔社管通")
    context.set_offline(False)
    assert network.outside == []
    context.close()


def test_english_page_and_a_rate_limited_second_code(browser: Browser, live_server: str, runtime: Runtime) -> None:
    context = new_context(browser, live_server, locale="en-US", **MOBILE)
    page, network = new_page(context, live_server)
    page.goto("/app/")
    expect(page.locator("h1")).to_have_text("Huairou Citizen App")
    page.fill("#phone", "13812348000")
    page.click("#get-code")
    expect(page.locator("#sign-in-status")).to_have_text("The code is on its way by SMS")
    page.click("#get-code")
    expect(page.locator("#sign-in-status")).to_contain_text("A code was sent moments ago: try again in")
    page.fill("#phone", "12345")
    page.click("#get-code")
    expect(page.locator("#sign-in-status")).to_have_text("Enter a mainland mobile number (11 digits starting with 1)")
    screenshot(page, "app-sign-in-error-mobile-en")
    assert network.outside == []
    context.close()
