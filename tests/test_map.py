"""The map's JSON endpoints and page over real HTTP: boundaries, cells by bbox, open case points, roles."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
import requests
import shapely
from shapely.geometry import box, shape
from sqlalchemy import select, update

from agent_ui import maps
from intake import Location, Report, submit
from intake.cases import apply, get_case
from intake.models import Case, utcnow
from intake.processing import process_received
from intake.runtime import Runtime
from intake.states import Action
from routing.models import Area, GridCell
from tests.test_console import sign_in

#: Points inside the demo district: Quanhe (the town centre), Yanqi, Bohai.
QUANHE = Location(lat=40.3225, lon=116.6392)
YANQI = Location(lat=40.40, lon=116.66)
BOHAI = Location(lat=40.41, lon=116.49)


def report(text: str, *, channel: str = "web", category: str | None = None, location: Location = QUANHE) -> str:
    return submit(
        Report(channel=channel, source_id=str(uuid.uuid4()), text=text, category=category, location=location)
    ).case_number


@pytest.fixture
def people(make_user: Callable[..., str], places: None) -> None:
    make_user("agent1", "agent")
    make_user("boss", "supervisor")
    make_user("chief", "leader")
    make_user("water1", "department", department="water")
    make_user("nobody1", "department")  # a department account not yet tied to a unit


def signed_in(base: str, username: str) -> requests.Session:
    session, response = sign_in(base, username)
    # Signed in: redirected onwards (leaders and department staff land on a page they may not use yet).
    assert response.history and response.history[0].status_code == 302, response.text
    return session


def test_anonymous_callers_are_turned_away(live_server: str, places: None) -> None:
    for path in ("/console/api/map/areas", "/console/api/map/cells?bbox=116,40,117,41", "/console/api/map/cases"):
        response = requests.get(live_server + path, timeout=10)
        assert response.status_code == 401 and response.json()["error"] == "sign in first", path
    page = requests.get(f"{live_server}/console/map", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_town_boundaries_are_simplified_geojson_with_an_etag(runtime: Runtime, live_server: str, people: None) -> None:
    browser = signed_in(live_server, "boss")
    response = browser.get(f"{live_server}/console/api/map/areas?level=town", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/geo+json")
    assert "private" in response.headers["Cache-Control"] and response.headers["ETag"]
    body = response.json()
    assert body["type"] == "FeatureCollection"
    with runtime.db.transaction() as session:
        stored = {a.code: a for a in session.scalars(select(Area).where(Area.level == "town"))}
        originals = {code: shape(json.loads(a.geometry)) for code, a in stored.items()}
        names = {code: a.name_zh for code, a in stored.items()}
    assert {f["id"] for f in body["features"]} == set(stored) and len(stored) == 16
    for feature in body["features"]:
        props = feature["properties"]
        geometry = shape(feature["geometry"])
        assert feature["type"] == "Feature" and feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert props["code"] == feature["id"] and props["name_zh"] == names[props["code"]] and props["name_en"]
        assert geometry.is_valid
        original = originals[props["code"]]
        # Simplified, not replaced: the shape still covers nearly the same ground.
        assert original.symmetric_difference(geometry).area < 0.02 * original.area
        assert original.contains(shapely.Point(props["label"]))  # the label point lies inside the town
    assert "泉河街道" in {f["properties"]["name_zh"] for f in body["features"]}

    again = browser.get(
        f"{live_server}/console/api/map/areas?level=town",
        headers={"If-None-Match": response.headers["ETag"]},
        timeout=10,
    )
    assert again.status_code == 304 and again.content == b""


def test_the_boundary_cache_notices_reloaded_areas(runtime: Runtime, live_server: str, people: None) -> None:
    browser = signed_in(live_server, "boss")
    first = browser.get(f"{live_server}/console/api/map/areas?level=town", timeout=10)
    with runtime.db.transaction() as session:
        session.execute(update(Area).where(Area.code == "110116001").values(name_zh="泉河街道（新）"))
    second = browser.get(f"{live_server}/console/api/map/areas?level=town", timeout=10)
    assert second.headers["ETag"] != first.headers["ETag"]
    assert "泉河街道（新）" in {f["properties"]["name_zh"] for f in second.json()["features"]}


def test_community_and_district_levels_and_a_wrong_level(runtime: Runtime, live_server: str, people: None) -> None:
    browser = signed_in(live_server, "agent1")
    communities = browser.get(f"{live_server}/console/api/map/areas?level=community", timeout=10).json()
    with runtime.db.transaction() as session:
        expected = set(session.scalars(select(Area.code).where(Area.level == "community")))
    assert {f["id"] for f in communities["features"]} == expected
    assert all(len(f["id"]) == 12 and f["properties"]["parent_code"] == f["id"][:9] for f in communities["features"])
    district = browser.get(f"{live_server}/console/api/map/areas?level=district", timeout=10).json()
    assert [f["id"] for f in district["features"]] == ["110116"]
    wrong = browser.get(f"{live_server}/console/api/map/areas?level=province", timeout=10)
    assert wrong.status_code == 400 and "level" in wrong.json()["error"]


def cells_meeting(runtime: Runtime, area: shapely.Geometry) -> set[str]:
    """Independently of the endpoint: cells whose bounding box meets ``area``."""
    with runtime.db.transaction() as session:
        rows = session.execute(select(GridCell.code, GridCell.geometry)).all()
    return {code for code, geometry in rows if box(*shape(json.loads(geometry)).bounds).intersects(area)}


def test_cells_in_a_bbox(runtime: Runtime, live_server: str, people: None) -> None:
    browser = signed_in(live_server, "agent1")
    bbox = (116.62, 40.31, 116.66, 40.335)
    query = {"bbox": ",".join(map(str, bbox))}
    response = browser.get(f"{live_server}/console/api/map/cells", params=query, timeout=10)
    assert response.status_code == 200
    body = response.json()
    codes = {f["id"] for f in body["features"]}
    assert codes == cells_meeting(runtime, box(*bbox)) and 0 < len(codes) < 50
    assert body["truncated"] is False and body["limit"] == maps.CELL_LIMIT
    quanhe = shapely.Point(QUANHE.lon, QUANHE.lat)
    assert any(shape(f["geometry"]).contains(quanhe) for f in body["features"])
    feature = body["features"][0]
    assert len(feature["properties"]["code"]) == 15 and feature["properties"]["town_code"] == feature["id"][:9]
    far = browser.get(f"{live_server}/console/api/map/cells?bbox=100,30,100.1,30.1", timeout=10).json()
    assert far["features"] == []


def test_cells_are_capped_and_say_so(
    runtime: Runtime, live_server: str, people: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maps, "CELL_LIMIT", 25)
    browser = signed_in(live_server, "agent1")
    body = browser.get(f"{live_server}/console/api/map/cells?bbox=116,40,117.5,41.5", timeout=10).json()
    assert len(body["features"]) == 25 and body["truncated"] is True and body["limit"] == 25


@pytest.mark.parametrize(
    ("bbox", "says"),
    [
        (None, "bbox is required"),
        ("116,40,117", "4 numbers"),
        ("116,40,117,41,5", "4 numbers"),
        ("116,forty,117,41", "not a number"),
        ("116,40,nan,41", "finite"),
        ("117,40,116,41", "minimum is above"),
        ("116,41,117,40", "minimum is above"),
        ("116,40,190,41", "out of range"),
        ("116,-91,117,41", "out of range"),
    ],
)
def test_a_malformed_bbox_is_400(live_server: str, people: None, bbox: str | None, says: str) -> None:
    browser = signed_in(live_server, "agent1")
    params = {} if bbox is None else {"bbox": bbox}
    response = browser.get(f"{live_server}/console/api/map/cells", params=params, timeout=10)
    assert response.status_code == 400 and says in response.json()["error"]


@pytest.fixture
def cases(runtime: Runtime, people: None) -> dict[str, str]:
    """Open cases of several kinds, and cases the map must leave out."""
    numbers = {
        "light": report("府前街路灯不亮", category="street-light"),
        "manhole": report("雁栖湖边井盖丢失", channel="sms", category="manhole-cover", location=YANQI),
        "water": report("渤海镇自来水管破裂", category="water-supply", location=BOHAI),
        "late": report("路灯一直没修", category="street-light", location=YANQI),
        "flagged": report("井盖松动", category="manhole-cover"),
        "nowhere": report("没有位置的诉求", category="street-light", location=Location()),
        "closed": report("已处理完的路灯", category="street-light"),
    }
    process_received()
    past = utcnow() - timedelta(hours=1)
    with runtime.db.transaction() as session:
        for key in ("water", "late"):
            apply(session, get_case(session, numbers[key]), Action.DISPATCH, actor="user:boss", department_code="water")
        apply(session, get_case(session, numbers["closed"]), Action.INVALIDATE, actor="user:boss", reason="test")
        late = get_case(session, numbers["late"])
        late.finish_due_at = past  # the unit's finish deadline passed
        late.due_at = None
        flagged = get_case(session, numbers["flagged"])
        flagged.overdue_at = past  # supervision marked it
        for key in ("light", "manhole", "water"):
            case = get_case(session, numbers[key])
            case.due_at = utcnow() + timedelta(hours=2)
            case.finish_due_at = utcnow() + timedelta(days=3)
    return numbers


def case_points(browser: requests.Session, base: str, **params: str) -> dict[str, dict[str, object]]:
    response = browser.get(f"{base}/console/api/map/cases", params=params, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["count"] == len(body["cases"]) and body["truncated"] is False
    return {c["number"]: c for c in body["cases"]}


def test_open_cases_with_a_point_and_their_overdue_flag(
    runtime: Runtime, live_server: str, cases: dict[str, str]
) -> None:
    browser = signed_in(live_server, "boss")
    points = case_points(browser, live_server)
    expected = {cases[k] for k in ("light", "manhole", "water", "late", "flagged")}
    assert set(points) == expected  # not the one without a point, nor the finished one
    light = points[cases["light"]]
    assert light == {
        "number": cases["light"],
        "status": "verifying",
        "overdue": False,
        "priority": light["priority"],
        "category": "street-light",
        "channel": "web",
        "lat": QUANHE.lat,
        "lon": QUANHE.lon,
        "summary": light["summary"],
    }
    assert "路灯" in str(light["summary"])
    assert points[cases["water"]]["status"] == "dispatched"
    assert {n for n, c in points.items() if c["overdue"]} == {cases["late"], cases["flagged"]}
    with runtime.db.transaction() as session:  # the queue's countdown passing makes it overdue too
        passed = utcnow() - timedelta(minutes=1)
        session.execute(update(Case).where(Case.number == cases["light"]).values(due_at=passed))
    assert case_points(browser, live_server)[cases["light"]]["overdue"] is True


def test_filters_by_category_channel_and_status(live_server: str, cases: dict[str, str]) -> None:
    browser = signed_in(live_server, "agent1")
    assert set(case_points(browser, live_server, category="street-light")) == {cases["light"], cases["late"]}
    assert set(case_points(browser, live_server, channel="sms")) == {cases["manhole"]}
    assert set(case_points(browser, live_server, status="dispatched")) == {cases["water"], cases["late"]}
    both = browser.get(
        f"{live_server}/console/api/map/cases?category=street-light&category=water-supply&status=dispatched",
        timeout=10,
    ).json()
    assert {c["number"] for c in both["cases"]} == {cases["water"], cases["late"]}
    assert case_points(browser, live_server, category="street-light", channel="sms") == {}
    for status in ("closed", "nonsense"):
        refused = browser.get(f"{live_server}/console/api/map/cases?status={status}", timeout=10)
        assert refused.status_code == 400 and "open cases" in refused.json()["error"]


def test_cases_are_capped_and_say_so(live_server: str, cases: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maps, "CASE_LIMIT", 2)
    browser = signed_in(live_server, "boss")
    body = browser.get(f"{live_server}/console/api/map/cases", timeout=10).json()
    assert body["count"] == 2 and body["truncated"] is True and body["limit"] == 2
    assert [c["number"] for c in body["cases"]] == [cases["flagged"], cases["late"]]  # the newest first


def test_roles_and_department_scoping(live_server: str, cases: dict[str, str]) -> None:
    everything = {cases[k] for k in ("light", "manhole", "water", "late", "flagged")}
    for username in ("agent1", "boss", "chief"):
        assert set(case_points(signed_in(live_server, username), live_server)) == everything, username
    water = signed_in(live_server, "water1")
    assert set(case_points(water, live_server)) == {cases["water"], cases["late"]}
    assert case_points(water, live_server, channel="sms") == {}
    assert water.get(f"{live_server}/console/api/map/areas?level=town", timeout=10).status_code == 200
    assert case_points(signed_in(live_server, "nobody1"), live_server) == {}


def map_config(html: str) -> dict[str, object]:
    start = html.index('<script type="application/json" id="map-config">') + len(
        '<script type="application/json" id="map-config">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_the_map_page_in_both_languages(live_server: str, cases: dict[str, str]) -> None:
    boss = signed_in(live_server, "boss")
    page = boss.get(f"{live_server}/console/map", timeout=10)
    assert page.status_code == 200
    assert "一图呈现" in page.text and 'id="nav-map"' in page.text
    assert '<option value="street-light">路灯</option>' in page.text
    assert '<option value="sms">短信</option>' in page.text  # channels with open cases
    assert "vendor/leaflet/leaflet.js" in page.text and "//unpkg" not in page.text and "cdn" not in page.text
    config = map_config(page.text)
    assert config["urls"]["case"] == "/console/cases/NUMBER"  # type: ignore[index]
    assert config["labels"]["status"][:2] == [["received", "已接收"], ["verifying", "核实中"]]  # type: ignore[index]
    english = boss.get(f"{live_server}/console/map?lang=en", timeout=10).text
    assert "One map" in english and '<option value="street-light">Street light</option>' in english
    assert map_config(english)["labels"]["overdue"] == "Overdue"  # type: ignore[index]


def test_department_staff_see_the_map_without_case_links(live_server: str, cases: dict[str, str]) -> None:
    page = signed_in(live_server, "water1").get(f"{live_server}/console/map", timeout=10)
    assert page.status_code == 200
    config = map_config(page.text)
    assert config["urls"]["case"] is None  # type: ignore[index]
    assert '<option value="sms">' not in page.text  # the only SMS case is not theirs
