"""The statistics page in a real Chromium: Chinese text, the SVG charts, the period picker, sorting, export."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser

from intake.models import Case
from intake.runtime import Runtime
from intake.states import CaseStatus
from routing.demo import DEPARTMENTS, TOWNS, town_code
from routing.stats import CHANNEL_ORDER
from tests.browser import new_context, new_page, screenshot
from tests.conftest import PASSWORD
from tests.test_console_browser import sign_in

pytestmark = pytest.mark.browser

ZONE = ZoneInfo("Asia/Shanghai")
#: Cases spread over March 2024, so that every chart has several bars.
CASES = 400
CATEGORIES = ["street-light", "garbage", "illegal-parking", "noise", "road-damage", "heating", None]


@pytest.fixture
def month_of_cases(runtime: Runtime, places: None) -> None:
    """A month of varied cases in the demo district (deterministic: a seeded generator)."""
    rng = random.Random(12345)
    units = [code for code, _, _ in DEPARTMENTS[:5]] + [f"town-{town_code(i)}" for i in range(4)]
    with runtime.db.transaction() as session:
        for index in range(CASES):
            created = datetime(2024, 3, 1, tzinfo=ZONE) + timedelta(minutes=rng.randrange(31 * 24 * 60))
            unit = rng.choice(units) if rng.random() < 0.8 else None
            at = created + timedelta(minutes=20)
            signed = unit is not None and rng.random() < 0.9
            handled = signed and rng.random() < 0.8
            closed = handled and rng.random() < 0.8
            hours_to_handle = rng.randrange(160)  # the finish clock is 5 days: 120 hours
            late = unit is not None and (not handled or hours_to_handle > 120)
            session.add(
                Case(
                    number=f"20240301-{index:07d}",
                    status=CaseStatus.CLOSED if closed else CaseStatus.DISPATCHED if unit else CaseStatus.VERIFYING,
                    # Weighted as in the source document: about 70 % of cases come from the public.
                    channel=rng.choices(CHANNEL_ORDER, weights=[30, 8, 12, 12, 3, 5, 12, 12, 3, 3])[0],
                    category=rng.choice(CATEGORIES),
                    grid_code=f"{town_code(rng.randrange(len(TOWNS)))}001001" if rng.random() < 0.95 else None,
                    department_code=unit,
                    created_at=created,
                    dispatched_at=at if unit else None,
                    respond_due_at=at + timedelta(hours=2) if unit else None,
                    accepted_at=at + timedelta(minutes=rng.randrange(200)) if signed else None,
                    finish_due_at=at + timedelta(days=5) if unit else None,
                    handled_at=at + timedelta(hours=hours_to_handle) if handled else None,
                    overdue_at=at + timedelta(days=5) if late else None,
                    closed_at=at + timedelta(days=7) if closed else None,
                    satisfaction=rng.choices([1, 2, 3], weights=[7, 2, 1])[0]
                    if closed and rng.random() < 0.9
                    else None,
                    return_count=1 if rng.random() < 0.05 else 0,
                    urge_count=rng.choice([0, 0, 0, 1]),
                )
            )


def test_statistics_page_in_chinese(
    runtime: Runtime, live_server: str, browser: Browser, make_user: Callable[..., str], month_of_cases: None
) -> None:
    make_user("super1", "supervisor")
    context = new_context(browser, live_server, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page, outside = new_page(context, live_server)
    try:
        sign_in(page, live_server, "super1")
        page.goto(f"{live_server}/console/stats?from=2024-02-01&to=2024-02-29")
        assert page.locator("#units-empty").is_visible()  # nothing in February
        # The period picker: type the dates, press the button.
        page.fill("#stats-from", "2024-03-01")
        page.fill("#stats-to", "2024-03-31")
        page.click("#stats-picker button[type=submit]")
        page.wait_for_url("**/console/stats?from=2024-03-01&to=2024-03-31*")
        assert page.locator("h1").inner_text().startswith("统计分析")
        assert page.locator("#s-received").inner_text() == str(CASES)
        # Every source, category and town with a case has a bar, drawn as SVG with the Chinese names.
        assert page.locator("#chart-sources g.bar").count() == len(CHANNEL_ORDER)
        assert page.locator("#chart-categories g.bar").count() == len(CATEGORIES)
        assert page.locator("#chart-areas g.bar").count() == len(TOWNS) + 1  # and "未定位"
        assert "热线电话" in page.locator("#chart-sources").inner_html()
        assert "喇叭沟门满族乡" in page.locator("#chart-areas").inner_html()
        widths = page.eval_on_selector_all("#chart-areas rect", "rects => rects.map(r => r.getBBox().width)")
        assert max(widths) == pytest.approx(290) and min(widths) > 0  # the longest bar spans the axis
        # Sorting by a column header ranks the units by that rate, highest first.
        page.click("#units th a[data-sort=on_time_rate]")
        page.wait_for_url("**sort=on_time_rate*")
        rates = page.locator("#units td[data-rate=on_time_rate]").all_inner_texts()
        values = [float(rate.rstrip("%")) for rate in rates if rate != "—"]
        assert len(values) == 9 and values == sorted(values, reverse=True) and values[0] > values[-1]
        screenshot(page, "stats-zh")
        with page.expect_download() as download_info:
            page.click("#export-areas")
        path = Path(download_info.value.path())
        assert path.read_bytes().startswith("\ufeff代码,街道乡镇,件数,占比 (%)".encode())
        assert outside.outside == []  # no CDN, fonts or chart libraries from elsewhere
    finally:
        context.close()


def test_a_leader_lands_on_this_month_in_english(
    runtime: Runtime, live_server: str, browser: Browser, make_user: Callable[..., str]
) -> None:
    make_user("leader1", "leader")
    context = new_context(browser, live_server, locale="en-US")
    page, _ = new_page(context, live_server)
    try:
        page.goto(f"{live_server}/login?next=/console/stats")
        page.fill("input[name=username]", "leader1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/stats")
        today = datetime.now(ZONE).date()
        assert page.locator("#stats-from").input_value() == date(today.year, today.month, 1).isoformat()
        assert page.locator("#stats-to").input_value() == today.isoformat()
        assert page.locator("h1").inner_text().startswith("Statistics")
    finally:
        context.close()
