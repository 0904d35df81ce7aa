"""The whole closed loop in a real Chromium: the agent dispatches, the unit signs and returns it,
the agent re-dispatches, the unit reports a result with a photo, the center checks and closes, and
the reporter's "1" by SMS shows up as their satisfaction."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser

from intake.runtime import Runtime
from tests.browser import new_context, new_page, screenshot
from tests.support import form_fixture, post_twilio
from tests.test_console_browser import sign_in
from tests.test_loop import REPORTER, png, report

pytestmark = pytest.mark.browser


def test_dispatch_sign_return_redispatch_result_check_close_and_rating(
    runtime: Runtime, live_server: str, browser: Browser, make_user: Callable[..., str], places: None
) -> None:
    make_user("agent1", "agent")
    make_user("water1", "department", department="water")
    number = report(REPORTER)
    center = new_context(browser, live_server)
    unit = new_context(browser, live_server)
    agent, agent_outside = new_page(center, live_server)
    staff, staff_outside = new_page(unit, live_server)
    try:
        sign_in(agent, live_server, "agent1", "/console")
        sign_in(staff, live_server, "water1", "/dept")

        # The agent categorizes; routing proposes the water bureau and says why.
        agent.keyboard.press("n")
        agent.wait_for_url(f"**/console/cases/{number}")
        agent.select_option("#category", "manhole-cover")
        agent.click("#save")
        agent.wait_for_selector("#route-proposal:has-text('井盖、供水、停水归水务局')")
        assert agent.locator("#department").input_value() == "water"
        assert not agent.locator("#override-reason").is_visible()
        agent.select_option("#department", "transport")
        assert agent.locator("#override-reason").is_visible()  # overriding asks why
        agent.select_option("#department", "water")
        agent.click("#dispatch")
        agent.wait_for_url(f"{live_server}/console")

        # The unit signs for it, then returns it with a reason.
        staff.reload()
        staff.click(f"text={number}")
        staff.click("#sign")
        staff.wait_for_selector("#case-status:has-text('处置中')")
        staff.fill("#return-reason", "井盖属燃气公司")
        staff.click("#return")
        staff.wait_for_url(f"{live_server}/dept")
        assert number not in staff.content()

        # Back in the agents' queue, marked as returned; re-dispatched.
        agent.reload()
        assert re.search(r"退单×1", agent.locator("#queue").inner_text())
        agent.keyboard.press("n")
        agent.wait_for_url(f"**/console/cases/{number}")
        agent.click("#dispatch")
        agent.wait_for_url(f"{live_server}/console")

        # The unit signs and reports its result with a photo.
        staff.reload()
        staff.click(f"text={number}")
        staff.click("#sign")
        staff.wait_for_selector("#result-note")
        staff.fill("#result-note", "已更换井盖并设置警示")
        staff.set_input_files("#result-photos", files=[{"name": "after.png", "mimeType": "image/png", "buffer": png()}])
        staff.click("#report-result")
        staff.wait_for_selector("#case-status:has-text('已处置')")
        assert staff.locator(".attachments img").count() == 1
        screenshot(staff, "dept-case-zh")

        # The center checks by calling back and closes; the reporter gets the question.
        agent.goto(f"{live_server}/console/cases/{number}")
        agent.select_option("#check-method", "callback")
        agent.click("#check-pass")
        agent.wait_for_selector("#case-status:has-text('已核查')")
        agent.click("#close-case")
        agent.wait_for_selector("#case-status:has-text('已结案')")
        answer = post_twilio(live_server, "/channels/sms/twilio", form_fixture("sms", "rating_reply.txt"))
        assert answer.status_code == 200
        agent.reload()
        assert agent.locator("#satisfaction").inner_text() == "满意"
        assert agent.locator("#return-count").inner_text() == "1"
        screenshot(agent, "console-closed-case-zh")
        assert agent_outside.outside == [] and staff_outside.outside == []
    finally:
        center.close()
        unit.close()
