"""Leader assignments in a real Chromium: the leader assigns a new case and flags another from
"my assignments"; the agent's case page carries the mark."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from channels.leader.models import LeaderAssignment
from intake import Report, submit
from intake.models import utcnow
from intake.processing import process_received
from intake.runtime import Runtime
from tests.browser import new_context, new_page, screenshot
from tests.conftest import PASSWORD
from tests.test_leader_assignments import ZONE

pytestmark = pytest.mark.browser


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_leader_assigns_and_flags_and_the_agent_sees_the_mark(
    browser: Browser, live_server: str, runtime: Runtime, places: None, make_user: Callable[..., str]
) -> None:
    make_user("leader", "leader")
    make_user("agent1", "agent")
    existing = submit(Report(channel="web", source_id="street-light", text="府前街路灯一周不亮")).case_number
    process_received()

    context = new_context(browser, live_server)
    page, network = new_page(context, live_server)
    sign_in(page, "leader")
    page.goto("/leader")
    expect(page.locator("h1")).to_contain_text("我的指派")
    expect(page.locator("#no-assignments")).to_be_visible()
    page.fill("#leader-text", "京密引水渠怀柔段护栏破损，存在落水隐患")
    page.fill("#leader-address", "怀柔区京密引水渠青春路桥")
    page.fill("#leader-instruction", "请水务局今日内排查处置，结果报我")
    page.select_option("#leader-priority", "1")
    due = (utcnow() + timedelta(days=1)).astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")
    page.fill("#leader-due", due)
    page.click("#leader-create")
    expect(page.locator("#assignments tbody tr")).to_have_count(1)
    page.fill("#flag-number", existing)
    page.fill("#flag-instruction", "群众反映多次，请城管委加快处理")
    page.select_option("#flag-priority", "2")
    page.click("#flag-submit")
    expect(page.locator("#assignments tbody tr")).to_have_count(2)
    flagged = page.locator(f"#assignments tr[data-number='{existing}']")
    expect(flagged).to_contain_text("群众反映多次")
    expect(flagged).to_contain_text(re.compile(r"0h [23]\dm"))  # priority 2 (high): 30 minutes to verify, not 2 hours
    expect(page.locator("#assignments tbody tr").last).to_contain_text("紧急")  # newest first
    screenshot(page, "leader-assignments-zh")
    with runtime.db.transaction() as session:
        assert len(session.scalars(select(LeaderAssignment)).all()) == 2
    page.click(f"#assignments a:text('{existing}')")
    expect(page.locator("#history")).to_contain_text("领导批示")
    assert network.outside == []
    context.close()

    console = new_context(browser, live_server)
    agent, _ = new_page(console, live_server)
    sign_in(agent, "agent1")
    agent.goto(f"/console/cases/{existing}")
    mark = agent.locator("#leader-mark")
    expect(mark).to_contain_text("领导指派")
    expect(mark).to_contain_text("群众反映多次，请城管委加快处理")
    expect(mark).to_contain_text("高")
    screenshot(agent, "console-leader-mark-zh", full_page=False)
    console.close()
