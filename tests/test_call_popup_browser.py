"""An incoming call pops up in the agent's console (caller masked, earlier cases, a draft), and the
agent's notes become a report of that caller joined to their open case."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser
from sqlalchemy import select

from intake import Contact, Report, submit
from intake.models import Case, ReportRecord, User, utcnow
from intake.processing import process_received, publish_queue_event
from intake.runtime import Runtime
from ivr.models import CallRecord
from tests.browser import new_context, new_page, screenshot
from tests.test_console_browser import sign_in

pytestmark = pytest.mark.browser

CALLER = "+8613812348000"


def test_a_connected_call_pops_up_and_becomes_a_report(
    runtime: Runtime, live_server: str, browser: Browser, make_user: Callable[..., str]
) -> None:
    make_user("agent1", "agent")
    earlier = submit(
        Report(channel="sms", source_id=str(uuid.uuid4()), text="小区门口路灯不亮", contact=Contact(phone=CALLER))
    ).case_number
    process_received()
    context = new_context(browser, live_server)
    page, outside = new_page(context, live_server)
    try:
        sign_in(page, live_server, "agent1")
        assert not page.locator("#call-popup").is_visible()
        page.wait_for_timeout(300)  # the event stream is open
        with runtime.db.transaction() as session:
            agent_id = session.scalar(select(User.id).where(User.username == "agent1"))
            call = CallRecord(
                provider="twilio",
                provider_call_id="CA" + uuid.uuid4().hex,
                caller_phone=CALLER,
                status="in-progress",
                answered_at=utcnow(),
                agent_id=agent_id,
                wait_seconds=42,
                priority=3,
                menu_path=["lang:zh", "main:1", "queue:3", "agent"],
            )
            session.add(call)
        publish_queue_event({"event": "call", "user_id": agent_id, "call": call.id})
        page.locator("#call-popup").wait_for(state="visible")
        assert "138****8000" in page.locator("#call-caller").inner_text()
        assert CALLER not in page.content()
        assert earlier in page.locator("#call-history").inner_text()
        assert page.locator("#call-join").is_checked()  # the caller has an open case
        page.fill("#call-text", "来电补充：路灯已经坏了三天")
        screenshot(page, "console-call-popup-zh")
        page.click("#call-create")
        page.wait_for_url(f"**/console/cases/{earlier}")
        assert outside.outside == []
    finally:
        context.close()
    with runtime.db.transaction() as session:
        texts = session.scalars(
            select(ReportRecord.text).join(Case, Case.id == ReportRecord.case_id).where(Case.number == earlier)
        ).all()
        assert texts == ["小区门口路灯不亮", "来电补充：路灯已经坏了三天"]
        assert session.scalar(select(CallRecord.case_id)) == session.scalar(
            select(Case.id).where(Case.number == earlier)
        )
