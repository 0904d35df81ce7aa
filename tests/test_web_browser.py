"""The website channel in a real Chromium: fill the form, get a case number, track it, in both languages."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from intake.cases import get_case
from intake.models import Attachment, ReportRecord
from intake.runtime import Runtime
from intake.states import CaseStatus
from tests.browser import MOBILE, new_context, new_page, screenshot
from tests.test_web_channel import png_bytes

pytestmark = pytest.mark.browser

NUMBER = re.compile(r"^\d{8}-\d{6}$")
PHONE = "13812348000"
#: Inside Huairou: the seat of Quanhe Subdistrict.
QUANHE = {"latitude": 40.322, "longitude": 116.64}


def fill_report(page: Page, *, description: str, address: str, phone: str, category: str = "") -> None:
    page.fill("#description", description)
    if category:
        page.select_option("#category", category)
    page.fill("#address", address)
    page.fill("#phone", phone)


def test_report_and_track_in_chinese_then_english(
    browser: Browser, live_server: str, runtime: Runtime, run_worker: Callable[[], None], places: None
) -> None:
    context = new_context(browser, live_server, geolocation=QUANHE, permissions=["geolocation"])
    page, network = new_page(context, live_server)
    page.goto("/report")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("反映问题")
    expect(page.locator("#category optgroup").first).to_have_attribute("label", "部件 · 公用设施")
    screenshot(page, "web-form-zh")

    fill_report(
        page,
        description="青春路12号门前井盖缺失，夜间行人容易踩空。",
        address="怀柔区青春路12号",
        phone=PHONE,
        category="manhole-cover",
    )
    page.click("#locate")
    expect(page.locator("#lat")).to_have_value("40.322000")
    expect(page.locator("#lon")).to_have_value("116.640000")
    expect(page.locator("#locate-status")).to_have_text("已填入当前位置")
    # A real JPEG, encoded by the browser itself, and a PNG.
    jpeg = page.screenshot(type="jpeg", quality=60, clip={"x": 0, "y": 0, "width": 48, "height": 32})
    page.set_input_files(
        "#photos",
        [
            {"name": "井盖.jpg", "mimeType": "image/jpeg", "buffer": jpeg},
            {"name": "nearby.png", "mimeType": "image/png", "buffer": png_bytes()},
        ],
    )
    expect(page.locator("#photo-list li")).to_have_count(2)
    page.click("#submit")

    expect(page).to_have_url(re.compile(r"/report/done$"))
    expect(page.locator("h1")).to_have_text("提交成功")
    number = page.locator("#case-number").inner_text()
    assert NUMBER.match(number)
    screenshot(page, "web-confirmation")
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        assert (case.lat, case.lon, case.category) == (40.322, 116.64, "manhole-cover")
        report = session.scalar(select(ReportRecord).where(ReportRecord.case_id == case.id))
        assert report is not None and report.meta["lang"] == "zh"
        stored = session.execute(
            select(Attachment.filename, Attachment.content_type, Attachment.status).where(
                Attachment.report_id == report.id
            )
        ).all()
        assert [tuple(row) for row in stored] == [
            ("井盖.jpg", "image/jpeg", "stored"),
            ("nearby.png", "image/png", "stored"),
        ]

    run_worker()
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        assert case.status is CaseStatus.VERIFYING
        assert case.grid_code is not None and case.grid_code.startswith("110116")

    page.click("#track-link")
    expect(page.locator("#number")).to_have_value(number)
    page.fill("#phone_last4", PHONE[-4:])
    page.click("#track-submit")
    expect(page.locator("#case-status")).to_have_text("核实中")
    expect(page.locator("#history li")).to_have_count(2)
    expect(page.locator("#history li").first).to_contain_text("进入坐席受理队列")

    page.click("#lang-switch")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#number")).to_have_value(number)  # the number survives the switch, the digits do not
    expect(page.locator("#phone_last4")).to_have_value("")
    page.fill("#phone_last4", PHONE[-4:])
    page.click("#track-submit")
    expect(page.locator("#case-status")).to_have_text("Being verified")
    expect(page.locator("#history li").last).to_contain_text("Report received")
    screenshot(page, "track-en")
    # The language is remembered for the next page.
    page.goto("/report")
    expect(page.locator("h1")).to_have_text("Report a problem")
    assert network.outside == []
    context.close()


def test_validation_error_is_shown_in_the_page(browser: Browser, live_server: str, runtime: Runtime) -> None:
    context = new_context(browser, live_server)
    page, network = new_page(context, live_server)
    page.goto("/report")
    fill_report(page, description="小区门口有人乱倒建筑垃圾。", address="雁栖镇某小区东门", phone="12345")
    page.fill("#lat", "40.4")
    page.click("#submit")
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("#phone-error")).to_have_text("请填写有效的手机号码或带区号的固定电话")
    expect(page.locator("#lon-error")).to_have_text("纬度和经度需同时填写")
    expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")
    # What was typed is still there.
    expect(page.locator("#description")).to_have_value("小区门口有人乱倒建筑垃圾。")
    expect(page.locator("#lat")).to_have_value("40.4")
    screenshot(page, "web-error-zh")

    page.fill("#phone", "138 1234 8000")
    page.fill("#lon", "116.66")
    page.click("#submit")
    expect(page.locator("#case-number")).to_have_text(NUMBER)
    with runtime.db.transaction() as session:
        assert session.scalar(select(ReportRecord.contact_phone)) == "+8613812348000"
    assert network.outside == []
    context.close()


def test_mobile_layout_in_english(browser: Browser, live_server: str, runtime: Runtime) -> None:
    context = new_context(browser, live_server, locale="en-US", **MOBILE)
    page, network = new_page(context, live_server)
    page.goto("/report")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # from Accept-Language
    expect(page.locator("h1")).to_have_text("Report a problem")
    # Nothing sticks out sideways, and the controls fill the narrow screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for selector in ("#description", "#address", "#phone", "#submit"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["width"] > 300, selector
    screenshot(page, "web-mobile-en")

    page.click("#lang-switch")
    expect(page.locator("h1")).to_have_text("反映问题")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "web-mobile-zh")
    fill_report(page, description="Street light out on Kaifang Road.", address="Kaifang Road 3", phone=PHONE)
    page.tap("#submit")
    expect(page.locator("#case-number")).to_have_text(NUMBER)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "web-confirmation-mobile")
    with runtime.db.transaction() as session:
        assert session.scalar(select(ReportRecord.meta))["lang"] == "zh"
    assert network.outside == []
    context.close()
