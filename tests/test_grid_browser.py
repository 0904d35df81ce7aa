"""The grid worker's phone page in a real Chromium (mobile viewport): sign in with the SMS code, report
with GPS and a photo, answer a check task with a photo; the console shows the answer."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from channels.grid.models import GridCheckTask
from channels.grid.tasks import create_task
from intake.cases import get_case
from intake.models import Attachment, CaseEvent, ReportRecord
from intake.runtime import Runtime
from tests.browser import MOBILE, new_context, new_page, screenshot
from tests.support import RecordingServer
from tests.test_app_api import code_from
from tests.test_grid_workers import WORKER_CELL, WORKER_PHONE, handled_case, twilio, workers  # noqa: F401
from tests.test_web_channel import png_bytes

pytestmark = pytest.mark.browser

QUANHE = {"latitude": 40.3225, "longitude": 116.6392}


def test_worker_signs_in_reports_and_answers_a_check_task_on_the_phone(
    browser: Browser,
    live_server: str,
    runtime: Runtime,
    workers: None,  # noqa: F811
    twilio: RecordingServer,  # noqa: F811
    run_worker: Callable[[], None],
    make_user: Callable[..., str],
) -> None:
    context = new_context(browser, live_server, geolocation=QUANHE, permissions=["geolocation"], **MOBILE)
    page, network = new_page(context, live_server)
    page.goto("/grid")
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("h1")).to_have_text("网格员上报")
    page.fill("#phone", "138 0001 0001")
    page.click("#get-code")
    expect(page.locator("#sign-in-status")).to_have_text("验证码已发送，请查收短信")
    run_worker()
    page.fill("#code", code_from(twilio, WORKER_PHONE))
    screenshot(page, "grid-sign-in-zh")
    page.click("#sign-in-button")
    expect(page.locator("#who")).to_contain_text("王建国")
    expect(page.locator("#who")).to_contain_text(WORKER_CELL)
    expect(page.locator("#report-form")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # A report: text, category, GPS point and a photo taken by the phone's camera (a real JPEG).
    page.fill("#description", "青春路12号门前井盖缺失，已设置临时警示。")
    page.select_option("#category", "manhole-cover")
    page.click("#locate")
    expect(page.locator("#point")).to_contain_text("40.322500, 116.639200")
    jpeg = page.screenshot(type="jpeg", quality=60, clip={"x": 0, "y": 0, "width": 64, "height": 48})
    page.set_input_files("#photos", [{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": jpeg}])
    page.tap("#report-submit")
    expect(page.locator("#report-done")).to_contain_text(re.compile(r"上报成功，案件编号 \d{8}-\d{6}"))
    screenshot(page, "grid-report-mobile-zh")
    number = page.locator("#report-done").inner_text().rsplit(" ", 1)[-1]
    run_worker()
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        assert (case.channel, case.grid_code, case.lat, case.category) == (
            "grid",
            WORKER_CELL,
            40.3225,
            "manhole-cover",
        )
        report = session.scalars(select(ReportRecord)).one()
        assert report.meta["via"] == "page" and report.meta["grid_worker"] == "HR0001"
        assert session.scalar(select(Attachment.content_type)) == "image/jpeg"
    page.click("[data-tab=mine]")
    expect(page.locator("#mine li")).to_have_count(1)
    expect(page.locator("#mine li").first).to_contain_text(number)

    # The center sends a handled case to this worker for a check; the worker answers with a photo.
    checked = handled_case(runtime)
    with runtime.db.transaction() as session:
        create_task(
            session, checked, actor="user:agent1", instruction="请核实井盖是否已更换", worker_code=None, notify=False
        )
    page.reload()
    expect(page.locator("#task-count")).to_have_text("1")
    page.click("#tab-tasks-button")
    task = page.locator("#tasks li").first
    expect(task).to_contain_text(checked)
    expect(task).to_contain_text("承办单位反馈: 已更换新井盖")
    expect(task).to_contain_text("核查要求: 请核实井盖是否已更换")
    screenshot(page, "grid-task-mobile-zh")
    task.locator("input[value=true]").check()
    task.locator("textarea").fill("已更换新井盖，现场安全。")
    task.locator("input[type=file]").set_input_files(
        [{"name": "核查.png", "mimeType": "image/png", "buffer": png_bytes(40, 30, (40, 160, 70))}]
    )
    task.locator("button[type=submit]").tap()
    expect(page.locator("#tasks li").first).to_contain_text("已反馈")
    expect(page.locator("#tasks li").first).to_contain_text("问题已解决 · 已更换新井盖，现场安全。")
    screenshot(page, "grid-task-answered-mobile-zh")
    with runtime.db.transaction() as session:
        task_row = session.scalars(select(GridCheckTask)).one()
        assert task_row.status == "answered" and task_row.resolved is True
        assert session.scalar(select(CaseEvent.kind).where(CaseEvent.id == task_row.event_id)) == "grid_check_answered"
    assert network.outside == []
    context.close()

    # The agent sees the answer and the photo on the case page.
    make_user("agent1", "agent")
    console = new_context(browser, live_server)
    agent, _ = new_page(console, live_server)
    agent.goto("/login")
    agent.fill("input[name=username]", "agent1")
    agent.fill("input[name=password]", "correct-horse-battery")
    agent.click("button[type=submit]")
    agent.goto(f"/console/cases/{checked}")
    panel = agent.locator("#grid-checks")
    expect(panel).to_contain_text("王建国")
    expect(panel).to_contain_text("现场已解决")
    expect(panel.locator("img")).to_have_count(1)
    expect(agent.locator(".history")).to_contain_text("网格员核查反馈")
    panel.scroll_into_view_if_needed()
    screenshot(agent, "console-grid-check-zh")
    console.close()


def test_page_in_english_and_a_wrong_code(
    browser: Browser,
    live_server: str,
    runtime: Runtime,
    workers: None,  # noqa: F811
    twilio: RecordingServer,  # noqa: F811
    run_worker: Callable[[], None],
) -> None:
    context = new_context(browser, live_server, locale="en-US", **MOBILE)
    page, network = new_page(context, live_server)
    page.goto("/grid")
    expect(page.locator("h1")).to_have_text("Grid worker reports")
    page.fill("#phone", "13800010001")
    page.click("#get-code")
    expect(page.locator("#sign-in-status")).to_have_text("The code is on its way by SMS")
    page.fill("#code", "000000" if code_from_after(run_worker, twilio) != "000000" else "111111")
    page.click("#sign-in-button")
    expect(page.locator("#sign-in-status")).to_have_text("wrong code")
    expect(page.locator("#sign-in-status")).to_have_class(re.compile("error"))
    screenshot(page, "grid-wrong-code-mobile-en")
    assert network.outside == []
    context.close()


def code_from_after(run_worker: Callable[[], None], server: RecordingServer) -> str:
    run_worker()
    return code_from(server, WORKER_PHONE)
