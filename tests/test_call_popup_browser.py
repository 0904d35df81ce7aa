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
        page.wait_for_selector("body[data-live='open']", state="attached")  # the event stream is open
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


def test_call_back_tasks_are_listed_in_queue_order_and_can_be_done(
    runtime: Runtime, live_server: str, browser: Browser, make_user: Callable[..., str]
) -> None:
    from datetime import timedelta

    from ivr.models import CallbackRequest

    make_user("agent1", "agent")
    now = utcnow()
    with runtime.db.transaction() as session:
        for index, (phone, reason, minutes_ago) in enumerate(
            [("+8613900000001", "abandoned", 5), ("+8613900000002", "queue", 9)]
        ):
            call = CallRecord(
                provider="twilio", provider_call_id=f"CA{index:032d}", caller_phone=phone, status="completed"
            )
            session.add(call)
            session.flush()
            session.add(
                CallbackRequest(
                    call_id=call.id, phone=phone, reason=reason, queued_at=now - timedelta(minutes=minutes_ago)
                )
            )
    context = new_context(browser, live_server)
    page, _ = new_page(context, live_server)
    try:
        sign_in(page, live_server, "agent1")
        page.locator("#callback-list li").nth(1).wait_for()
        rows = page.locator("#callback-list li").all_inner_texts()
        # The caller who joined the queue first comes first, whichever asked first; numbers masked.
        assert "139****0002" in rows[0] and "排队中要求回拨" in rows[0]
        assert "139****0001" in rows[1] and "排队中挂断" in rows[1]
        assert "+8613900000001" not in page.content()
        page.locator("#callback-list li").first.locator("button").click()
        page.wait_for_function("document.querySelectorAll('#callback-list li').length === 1")
        assert page.locator("#callback-count").inner_text() == "1"
    finally:
        context.close()
    with runtime.db.transaction() as session:
        done = session.scalars(select(CallbackRequest).where(CallbackRequest.status != "open")).one()
        assert done.phone == "+8613900000002" and done.done_by_id is not None
