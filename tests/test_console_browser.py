"""The console in a real Chromium: sign in, press N, land on the claimed case; two agents at once."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser

from intake import Report, submit
from intake.processing import process_received
from intake.runtime import Runtime
from tests.browser import new_context, new_page, screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, base: str, username: str, lands_on: str = "/console") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{lands_on}")


def test_two_agents_press_next_and_get_different_cases(
    runtime: Runtime,
    live_server: str,
    browser,
    make_user: Callable[..., str],
) -> None:
    make_user("agent1", "agent")
    make_user("agent2", "agent")
    numbers = [
        submit(
            Report(channel="web", source_id=str(uuid.uuid4()), text=f"第{i}处路灯不亮", priority=3 - (i == 1))
        ).case_number
        for i in range(3)
    ]
    process_received()
    first_context = new_context(browser, live_server)
    second_context = new_context(browser, live_server, locale="en-US")
    first, _ = new_page(first_context, live_server)
    second, _ = new_page(second_context, live_server)
    try:
        sign_in(first, live_server, "agent1")
        sign_in(second, live_server, "agent2")
        assert first.locator("#queue tbody tr").count() == 3
        screenshot(first, "console-queue-zh")
        first.keyboard.press("n")  # the keyboard path
        first.wait_for_url("**/console/cases/*")
        second.click("#next-case")
        second.wait_for_url("**/console/cases/*")
        mine = first.locator("#case-number").inner_text()
        theirs = second.locator("#case-number").inner_text()
        assert numbers[1] in mine  # the high-priority case first
        assert mine.split()[0] != theirs.split()[0]
        assert first.locator("#held").is_visible()
        screenshot(first, "console-case-zh")
    finally:
        first_context.close()
        second_context.close()


def test_new_cases_appear_in_the_queue_without_reloading(
    runtime: Runtime, live_server: str, browser: Browser, make_user: Callable[..., str]
) -> None:
    make_user("agent1", "agent")
    context = new_context(browser, live_server)
    page, _ = new_page(context, live_server)
    try:
        sign_in(page, live_server, "agent1")
        assert page.locator("#queue-empty").is_visible()
        page.wait_for_selector("body[data-live='open']", state="attached")  # the event stream is open
        number = submit(Report(channel="sms", source_id=str(uuid.uuid4()), text="新来的诉求")).case_number
        process_received()  # the worker's batch publishes the change through Redis
        page.locator(f"#queue tbody tr:has-text('{number}')").wait_for(timeout=3000)
        assert page.locator("#queue-count").inner_text() == "1"
        assert not page.locator("#queue-empty").is_visible()
    finally:
        context.close()


def test_verify_and_dispatch_from_the_case_page(
    runtime: Runtime, live_server: str, browser: Browser, make_user: Callable[..., str], places: None
) -> None:
    from sqlalchemy import select

    from intake.models import Case

    make_user("agent1", "agent")
    submit(Report(channel="web", source_id=str(uuid.uuid4()), text="府前街路灯坏了一周"))
    process_received()
    context = new_context(browser, live_server)
    page, outside = new_page(context, live_server)
    try:
        sign_in(page, live_server, "agent1")
        page.keyboard.press("n")
        page.wait_for_url("**/console/cases/*")
        page.keyboard.press("c")  # the keyboard reaches the category
        assert page.evaluate("document.activeElement.id") == "category"
        page.select_option("#category", "street-light")
        page.select_option("#priority", "2")
        page.click("#save")
        page.wait_for_selector(".history li:has-text('信息更正')")
        screenshot(page, "console-case-actions-zh")
        page.select_option("#department", "urban-management")
        page.click("#dispatch")
        page.wait_for_url(f"{live_server}/console")
        assert page.locator("#queue-empty").is_visible()
        assert outside.outside == []
    finally:
        context.close()
    with runtime.db.transaction() as session:
        case = session.scalars(select(Case)).one()
        assert (case.status.value, case.category, case.priority, case.department_code) == (
            "dispatched",
            "street-light",
            2,
            "urban-management",
        )


def test_wallboard_updates_live(
    runtime: Runtime, live_server: str, browser: Browser, make_user: Callable[..., str]
) -> None:
    make_user("boss", "supervisor")
    context = new_context(browser, live_server)
    page, _ = new_page(context, live_server)
    try:
        sign_in(page, live_server, "boss")
        page.click("#nav-wallboard")
        page.wait_for_url("**/console/wallboard")
        assert page.locator("#w-waiting").inner_text() == "0"
        page.wait_for_selector("body[data-live='open']", state="attached")  # the event stream is open
        for _ in range(2):
            submit(Report(channel="sms", source_id=str(uuid.uuid4()), text="夜间施工噪音"))
        process_received()
        page.wait_for_function("document.getElementById('w-waiting').textContent === '2'", timeout=3000)
        assert page.locator("#w-channels li[data-channel='sms']").inner_text() == "短信: 2"  # live, by name
        screenshot(page, "console-wallboard-zh")
        page.reload()
        assert page.locator("#w-channels li[data-channel='sms']").inner_text() == "短信: 2"  # as rendered
    finally:
        context.close()


def test_ask_the_reporter_then_merge_the_duplicate(
    runtime: Runtime, live_server: str, browser: Browser, make_user: Callable[..., str]
) -> None:
    from sqlalchemy import select

    from intake import Contact, Location
    from intake.models import Case, OutboundMessage

    make_user("agent1", "agent")
    point = Location(lat=40.3225, lon=116.6392)
    original = submit(
        Report(channel="web", source_id=str(uuid.uuid4()), text="青春路12号井盖丢了，晚上有人踩空", location=point)
    ).case_number
    duplicate = submit(
        Report(
            channel="sms",
            source_id=str(uuid.uuid4()),
            text="青春路12号门前井盖缺失，夜间行人容易踩空",
            contact=Contact(phone="+8613800000001"),
            location=point,
            priority=1,
        )
    ).case_number
    process_received()
    context = new_context(browser, live_server)
    page, _ = new_page(context, live_server)
    try:
        sign_in(page, live_server, "agent1")
        page.keyboard.press("n")
        page.wait_for_url(f"**/console/cases/{duplicate}")
        page.keyboard.press("a")
        page.keyboard.type("井盖在几号楼门口？")
        page.click("#ask")
        page.wait_for_selector(".history li:has-text('向反映人询问')")  # the page reloaded with it
        page.wait_for_load_state("load")  # and its script, which listens for the keys, has run
        page.keyboard.press("m")  # focus lands on the first candidate's merge button
        assert page.evaluate("document.activeElement.dataset.into") == original
        screenshot(page, "console-merge-candidates-zh")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server}/console")
    finally:
        context.close()
    with runtime.db.transaction() as session:
        merged = session.scalars(select(Case).where(Case.number == duplicate)).one()
        assert merged.status.value == "merged"
        assert session.scalar(select(OutboundMessage.body)).endswith("（直接回复本短信即可）")
