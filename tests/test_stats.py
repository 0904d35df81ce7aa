"""Ratings and statistics: the three rates per unit and overall from constructed cases, periods in local
time, the page's role boundaries, and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from intake.models import Case, CaseEvent, utcnow
from intake.runtime import Runtime
from intake.states import CaseStatus
from routing.models import Area, Department
from routing.stats import Figures, Period, Statistics, compute
from tests.test_console import sign_in

ZONE = ZoneInfo("Asia/Shanghai")
MARCH = Period(date(2024, 3, 1), date(2024, 3, 31))
TOWN_1, TOWN_2 = "110116001", "110116002"
S = CaseStatus


def local(day: int, hour: int = 10, minute: int = 0, *, month: int = 3) -> datetime:
    """A moment of 2024 in Beijing time."""
    return datetime(2024, month, day, hour, minute, tzinfo=ZONE)


def cell(town: str) -> str:
    return f"{town}001001"


def dispatched(
    created: datetime,
    *,
    signed_after: timedelta | None,
    handled_after: timedelta | None = None,
    respond: timedelta = timedelta(hours=2),
    finish: timedelta = timedelta(days=5),
) -> dict[str, Any]:
    """The clock fields of a case dispatched an hour after it was created."""
    at = created + timedelta(hours=1)
    return {
        "dispatched_at": at,
        "respond_due_at": at + respond,
        "finish_due_at": at + finish,
        "accepted_at": at + signed_after if signed_after is not None else None,
        "handled_at": at + handled_after if handled_after is not None else None,
    }


#: Each case: (channel, category, town, unit, status, created, satisfaction, extra fields).
#: Unit "water": cases 1-4, unit "urban-management": 5-7, no unit: 8-9; 10 and 11 fall outside March.
CASES: list[tuple[str, str | None, str | None, str | None, CaseStatus, datetime, int | None, dict[str, Any]]] = [
    # 1: signed for in time, handled in time, closed, satisfied; returned once before, urged twice.
    (
        "hotline",
        "street-light",
        TOWN_1,
        "water",
        S.CLOSED,
        local(5),
        1,
        {
            **dispatched(local(5), signed_after=timedelta(hours=1), handled_after=timedelta(days=2)),
            "return_count": 1,
            "urge_count": 2,
        },
    ),
    # 2: signed for late, handled late (went overdue), closed, not satisfied.
    (
        "sms",
        "street-light",
        TOWN_1,
        "water",
        S.CLOSED,
        local(10),
        3,
        {
            **dispatched(local(10), signed_after=timedelta(hours=3), handled_after=timedelta(days=6)),
            "overdue_at": local(15, 12),
        },
    ),
    # 3: never signed for, its respond clock long run out; overdue, urged once.
    (
        "camera",
        "garbage",
        TOWN_2,
        "water",
        S.DISPATCHED,
        local(20),
        None,
        {**dispatched(local(20), signed_after=None), "overdue_at": local(20, 13), "urge_count": 1},
    ),
    # 4: the last half hour of March; dispatched, its respond clock still running (not counted either way).
    (
        "web",
        None,
        None,
        "water",
        S.DISPATCHED,
        local(31, 23, 30),
        None,
        {"dispatched_at": utcnow(), "respond_due_at": utcnow() + timedelta(days=1)},
    ),
    # 5: in time throughout, closed, basically satisfied.
    (
        "app",
        "garbage",
        TOWN_2,
        "urban-management",
        S.CLOSED,
        local(15),
        2,
        dispatched(local(15), signed_after=timedelta(minutes=30), handled_after=timedelta(days=1)),
    ),
    # 6: handled in time, not yet closed.
    (
        "grid",
        "garbage",
        TOWN_2,
        "urban-management",
        S.HANDLED,
        local(16),
        None,
        dispatched(local(16), signed_after=timedelta(minutes=5), handled_after=timedelta(hours=5)),
    ),
    # 7: closed in time but nobody rated it: not a confirmed resolution.
    (
        "leader",
        "garbage",
        TOWN_2,
        "urban-management",
        S.CLOSED,
        local(17),
        None,
        dispatched(local(17), signed_after=timedelta(hours=2), handled_after=timedelta(days=5)),
    ),
    # 8: 00:00 on 1 March in Beijing (still February in UTC): inside. Found invalid.
    ("web", None, None, None, S.INVALID, local(1, 0, 0), None, {}),
    # 9: returned twice, back with the agents: no unit now.
    ("hotline", "noise", TOWN_1, None, S.VERIFYING, local(2), None, {"return_count": 2}),
    # 10: one minute before March in Beijing: outside.
    ("web", "noise", TOWN_1, None, S.VERIFYING, local(29, 23, 59, month=2), None, {}),
    # 11: 00:00 on 1 April in Beijing: outside.
    ("sms", "noise", TOWN_1, None, S.VERIFYING, local(1, 0, 0, month=4), None, {}),
]


@pytest.fixture
def cases(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        session.add_all(
            [
                Area(code=TOWN_1, level="town", parent_code="110116", name_zh="泉河街道", name_en="Quanhe Subdistrict"),
                Area(
                    code=TOWN_2, level="town", parent_code="110116", name_zh="龙山街道", name_en="Longshan Subdistrict"
                ),
                Department(code="water", name_zh="区水务局", name_en="Water Affairs Bureau"),
                Department(code="urban-management", name_zh="区城市管理委员会", name_en="Urban Management Commission"),
                Department(code="landscaping", name_zh="区园林绿化局", name_en="Landscaping Bureau"),
            ]
        )
        made: dict[int, Case] = {}
        for index, (channel, category, town, unit, status, created, satisfaction, extra) in enumerate(CASES, 1):
            made[index] = Case(
                number=f"20240301-{index:07d}",
                status=status,
                channel=channel,
                category=category,
                grid_code=cell(town) if town else None,
                department_code=unit,
                created_at=created,
                satisfaction=satisfaction,
                closed_at=created + timedelta(days=7) if status is S.CLOSED else None,
                **extra,
            )
            session.add(made[index])
        session.flush()
        # Who returned what (退单), and when: case 1 by urban management before water took it; case 9
        # by water, then by landscaping, which holds no case of March; case 10 by landscaping 30 s
        # after it came in, still in February.
        returns = (
            (1, "urban-management", timedelta(hours=3)),
            (9, "water", timedelta(hours=3)),
            (9, "landscaping", timedelta(hours=5)),
            (10, "landscaping", timedelta(seconds=30)),
        )
        for index, unit, after in returns:
            case = made[index]
            session.add(
                CaseEvent(
                    case_id=case.id,
                    at=case.created_at + after,
                    actor=f"user:{unit}-staff",
                    kind="return",
                    from_status="accepted",
                    to_status="verifying",
                    detail={"department": unit, "reason": "不属于本单位职责"},
                )
            )


def stats_for(runtime: Runtime, period: Period) -> Statistics:
    with runtime.db.transaction() as session:
        return compute(session, period, ZONE, utcnow())


def test_period_bounds_are_local_days() -> None:
    start, end = MARCH.utc_bounds(ZONE)
    assert start == datetime(2024, 2, 29, 16, 0, tzinfo=UTC)
    assert end == datetime(2024, 3, 31, 16, 0, tzinfo=UTC)
    assert Period(date(2024, 3, 5), date(2024, 3, 5)).utc_bounds(ZONE) == (
        datetime(2024, 3, 4, 16, 0, tzinfo=UTC),
        datetime(2024, 3, 5, 16, 0, tzinfo=UTC),
    )
    with pytest.raises(ValueError):
        Period(date(2024, 3, 2), date(2024, 3, 1))


def test_overall_figures_and_rates(runtime: Runtime, cases: None) -> None:
    overall = stats_for(runtime, MARCH).overall
    assert overall.received == 9  # cases 1-9: 10 and 11 are outside, by a minute each way
    assert overall.dispatched == 7
    assert (overall.responded, overall.response_due) == (4, 6)  # case 4's clock still runs
    assert overall.response_rate == pytest.approx(4 / 6)
    assert (overall.resolved, overall.closed) == (2, 4)
    assert overall.resolution_rate == 0.5
    assert (overall.satisfied, overall.basically_satisfied, overall.not_satisfied, overall.rated) == (1, 1, 1, 3)
    assert overall.satisfaction_rate == pytest.approx(2 / 3)
    assert (overall.handled_on_time, overall.handled) == (4, 5)
    assert overall.on_time_rate == 0.8
    assert overall.overdue == 2
    assert (overall.returns, overall.returned) == (3, 2)
    assert overall.urges == 3


def test_unit_figures(runtime: Runtime, cases: None) -> None:
    units = stats_for(runtime, MARCH).units
    assert set(units) == {"water", "urban-management", "landscaping"}
    water, urban = units["water"], units["urban-management"]
    # Returns count against the unit that made them, even one holding none of the period's cases.
    assert units["landscaping"] == Figures(returns=1, returned=1)
    assert (water.dispatched, water.responded, water.response_due) == (4, 1, 3)
    assert water.response_rate == pytest.approx(1 / 3)
    assert (water.resolution_rate, water.satisfaction_rate, water.on_time_rate) == (0.5, 0.5, 0.5)
    assert (water.overdue, water.returns, water.returned, water.urges) == (2, 1, 1, 3)
    assert (urban.dispatched, urban.response_rate, urban.on_time_rate) == (3, 1.0, 1.0)
    assert (urban.closed, urban.resolved, urban.resolution_rate) == (2, 1, 0.5)
    assert (urban.rated, urban.satisfaction_rate) == (1, 1.0)
    assert (urban.overdue, urban.returns, urban.returned, urban.urges) == (0, 1, 1, 0)


def test_returns_count_in_the_period_they_were_made(runtime: Runtime, cases: None) -> None:
    with runtime.db.transaction() as session:
        case_5 = session.scalars(select(Case).where(Case.number == "20240301-0000005")).one()
        session.add(
            CaseEvent(
                case_id=case_5.id,
                at=local(2, month=4),
                actor="user:urban-staff",
                kind="return",
                detail={"department": case_5.department_code, "reason": "不属于本单位职责"},
            )
        )
    april = stats_for(runtime, Period(date(2024, 4, 1), date(2024, 4, 30)))
    assert (april.overall.returns, april.overall.returned) == (1, 1)  # a March case, returned in April
    assert april.units["urban-management"] == Figures(returns=1, returned=1)
    march = stats_for(runtime, MARCH)
    assert (march.overall.returns, march.units["urban-management"].returns) == (3, 1)  # as before


def test_breakdowns_by_source_category_and_town(runtime: Runtime, cases: None) -> None:
    stats = stats_for(runtime, MARCH)
    assert stats.by_channel == {"hotline": 2, "sms": 1, "camera": 1, "web": 2, "app": 1, "grid": 1, "leader": 1}
    assert stats.from_public == 6  # hotline, sms, web, app
    assert stats.public_share == pytest.approx(6 / 9)
    assert stats.by_category == {"street-light": 2, "garbage": 4, None: 2, "noise": 1}
    assert stats.by_town == {TOWN_1: 3, TOWN_2: 4, None: 2}


def test_other_and_empty_periods(runtime: Runtime, cases: None) -> None:
    february = stats_for(runtime, Period(date(2024, 2, 1), date(2024, 2, 29)))
    assert (february.overall.received, february.by_channel) == (1, {"web": 1})
    assert february.units == {"landscaping": Figures(returns=1, returned=1)}  # it returned case 10
    one_day = stats_for(runtime, Period(date(2024, 3, 31), date(2024, 4, 1)))
    assert (one_day.overall.received, one_day.overall.dispatched) == (2, 1)  # cases 4 and 11
    empty = stats_for(runtime, Period(date(2023, 1, 1), date(2023, 12, 31)))
    assert empty.overall.received == 0 and empty.units == {} and empty.by_channel == {}
    rates = (empty.overall.response_rate, empty.overall.resolution_rate, empty.overall.satisfaction_rate)
    assert rates == (None, None, None) and empty.overall.on_time_rate is None and empty.public_share is None


# The page and the export, over HTTP.


@pytest.fixture
def people(make_user: Callable[..., str]) -> None:
    make_user("super1", "supervisor")
    make_user("leader1", "leader")
    make_user("admin1", "admin")
    make_user("agent1", "agent")
    make_user("water1", "department", department="water")


MARCH_QUERY = "from=2024-03-01&to=2024-03-31"


@pytest.mark.parametrize("username", ["super1", "leader1", "admin1"])
def test_supervisors_leaders_and_admins_see_the_page(
    runtime: Runtime, live_server: str, people: None, cases: None, username: str
) -> None:
    browser, _ = sign_in(live_server, username)
    response = browser.get(f"{live_server}/console/stats?{MARCH_QUERY}", timeout=10)
    assert response.status_code == 200
    html = response.text
    assert "响应率" in html and "满意率" in html and "解决率" in html
    assert '<span id="s-received">9</span>' in html
    assert '<span id="s-public">66.7%</span>' in html
    assert '<span id="s-response_rate">66.7%</span>' in html
    assert '<span id="s-resolution_rate">50.0%</span>' in html
    assert '<span id="s-on_time_rate">80.0%</span>' in html
    assert (
        '<svg id="chart-sources"' in html and '<svg id="chart-categories"' in html and '<svg id="chart-areas"' in html
    )
    assert 'data-code="garbage" data-count="4"' in html and "暴露垃圾" in html
    assert f'data-code="{TOWN_2}" data-count="4"' in html and "龙山街道" in html
    assert "区水务局" in html


@pytest.mark.parametrize("username", ["agent1", "water1"])
def test_agents_and_departments_get_403(live_server: str, people: None, username: str) -> None:
    browser, _ = sign_in(live_server, username)
    for path in ("/console/stats", "/console/stats.csv?view=units"):
        assert browser.get(f"{live_server}{path}", timeout=10).status_code == 403


def test_signed_out_goes_to_sign_in(live_server: str) -> None:
    response = requests.get(f"{live_server}/console/stats", timeout=10, allow_redirects=False)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = requests.get(f"{live_server}/console/stats.csv", timeout=10, allow_redirects=False)
    assert response.status_code == 302


def test_units_sorted_by_the_chosen_rate(live_server: str, people: None, cases: None) -> None:
    browser, _ = sign_in(live_server, "super1")

    def order(sort: str) -> list[str]:
        html = browser.get(f"{live_server}/console/stats?{MARCH_QUERY}&sort={sort}", timeout=10).text
        # str.index raises when a unit's row is missing.
        units = ("water", "urban-management", "landscaping")
        return sorted(units, key=lambda unit: html.index(f'data-unit="{unit}"'))

    # Landscaping only returned a case: nothing of its own to rate, so last.
    assert order("response_rate") == ["urban-management", "water", "landscaping"]  # 100 % before 33.3 %
    assert order("dispatched") == ["water", "urban-management", "landscaping"]  # 4 before 3 before 0
    assert order("satisfaction_rate") == ["urban-management", "water", "landscaping"]  # 100 % before 50 %
    assert order("nonsense") == ["urban-management", "water", "landscaping"]  # falls back to the response rate


def test_empty_period_and_bad_parameters(live_server: str, people: None, cases: None) -> None:
    browser, _ = sign_in(live_server, "super1")
    response = browser.get(f"{live_server}/console/stats?from=2023-01-01&to=2023-01-31", timeout=10)
    assert response.status_code == 200
    assert 'id="units-empty"' in response.text and '<span id="s-response_rate">—</span>' in response.text
    assert browser.get(f"{live_server}/console/stats?from=2024-13-01", timeout=10).status_code == 400
    assert browser.get(f"{live_server}/console/stats?from=2024-03-02&to=2024-03-01", timeout=10).status_code == 400
    assert browser.get(f"{live_server}/console/stats?to=9999-12-31", timeout=10).status_code == 400
    assert browser.get(f"{live_server}/console/stats.csv?view=everything", timeout=10).status_code == 400


def read_csv(response: requests.Response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_export_of_units(live_server: str, people: None, cases: None) -> None:
    browser, _ = sign_in(live_server, "leader1")
    response = browser.get(f"{live_server}/console/stats.csv?{MARCH_QUERY}&view=units", timeout=10)
    assert "gridline-units-2024-03-01-2024-03-31.csv" in response.headers["Content-Disposition"]
    header, urban, water, landscaping, overall = read_csv(response)
    assert header[:7] == ["代码", "承办单位", "派遣件数", "响应率 (%)", "解决率 (%)", "满意率 (%)", "按期办结率 (%)"]
    assert header[7:] == ["结案件数", "超期件数", "退单次数", "退单件数", "催办次数", "满意", "基本满意", "不满意"]
    assert urban[:7] == ["urban-management", "区城市管理委员会", "3", "100.0", "50.0", "100.0", "100.0"]
    assert urban[7:] == ["2", "0", "1", "1", "0", "0", "1", "0"]
    assert water == ["water", "区水务局", "4", "33.3", "50.0", "50.0", "50.0", "2", "2", "1", "1", "3", "1", "0", "1"]
    assert landscaping == ["landscaping", "区园林绿化局", "0", "", "", "", "", "0", "0", "1", "1", "0", "0", "0", "0"]
    assert overall == ["", "全区合计", "7", "66.7", "50.0", "66.7", "80.0", "4", "2", "3", "2", "3", "1", "1", "1"]


def test_csv_export_of_sources_categories_and_areas(live_server: str, people: None, cases: None) -> None:
    browser, _ = sign_in(live_server, "admin1")

    def view(name: str, lang: str = "zh") -> list[list[str]]:
        return read_csv(
            browser.get(f"{live_server}/console/stats.csv?{MARCH_QUERY}&view={name}&lang={lang}", timeout=10)
        )

    sources = view("sources")
    assert sources[0] == ["代码", "来源", "件数", "占比 (%)", "类别"]
    assert sources[1:] == [
        ["hotline", "热线电话", "2", "22.2", "群众反映"],
        ["sms", "短信", "1", "11.1", "群众反映"],
        ["web", "网站填报", "2", "22.2", "群众反映"],
        ["app", "社管通App", "1", "11.1", "群众反映"],
        ["camera", "探头巡查", "1", "11.1", "主动发现"],
        ["grid", "网格员上报", "1", "11.1", "主动发现"],
        ["leader", "领导指派", "1", "11.1", "主动发现"],
    ]
    assert view("categories")[1:] == [
        ["garbage", "暴露垃圾", "4", "44.4"],
        ["", "未分类", "2", "22.2"],
        ["street-light", "路灯", "2", "22.2"],
        ["noise", "噪声扰民", "1", "11.1"],
    ]
    assert view("areas")[1:] == [
        [TOWN_2, "龙山街道", "4", "44.4"],
        [TOWN_1, "泉河街道", "3", "33.3"],
        ["", "未定位", "2", "22.2"],
    ]
    english = view("areas", "en")
    assert english[0] == ["Code", "Town", "Cases", "Share (%)"] and english[1][1] == "Longshan Subdistrict"


def test_empty_period_csv(live_server: str, people: None) -> None:
    browser, _ = sign_in(live_server, "super1")
    rows = read_csv(browser.get(f"{live_server}/console/stats.csv?from=2023-01-01&to=2023-01-31", timeout=10))
    assert len(rows) == 2 and rows[1][:7] == ["", "全区合计", "0", "", "", "", ""]


def test_csv_cells_never_run_as_formulas(runtime: Runtime, live_server: str, people: None) -> None:
    with runtime.db.transaction() as session:
        session.add(Department(code="odd", name_zh='=HYPERLINK("http://example.com")', name_en=""))
        session.add(
            Case(
                number="20240305-0000001",
                status=S.DISPATCHED,
                channel="web",
                department_code="odd",
                created_at=local(5),
            )
        )
    browser, _ = sign_in(live_server, "super1")
    rows = read_csv(browser.get(f"{live_server}/console/stats.csv?{MARCH_QUERY}&view=units", timeout=10))
    assert rows[1][:2] == ["odd", '\'=HYPERLINK("http://example.com")']
