"""The map in a real Chromium: towns and case dots, a filter, a popup link, and the location widget."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
import shapely
from playwright.sync_api import Browser
from shapely.geometry import box, shape
from sqlalchemy import select

from intake import Location, Report, submit
from intake.processing import process_received
from intake.runtime import Runtime
from routing.demo import CELL_DEGREES
from routing.models import GridCell
from tests.browser import new_context, new_page, screenshot
from tests.test_console_browser import sign_in

pytestmark = pytest.mark.browser

QUANHE = Location(lat=40.3225, lon=116.6392)
YANQI = Location(lat=40.40, lon=116.66)
#: In a large town, where the demo cells around are whole squares.
BAOSHAN = Location(lat=40.7612, lon=116.4837)


def report(text: str, category: str, location: Location, channel: str = "web") -> str:
    return submit(
        Report(channel=channel, source_id=str(uuid.uuid4()), text=text, category=category, location=location)
    ).case_number


def test_the_district_map_with_cases_filters_and_popups(
    runtime: Runtime, live_server: str, browser: Browser, make_user: Callable[..., str], places: None
) -> None:
    make_user("boss", "supervisor")
    light = report("府前街路灯不亮", "street-light", QUANHE)
    manhole = report("雁栖湖边井盖丢失", "manhole-cover", YANQI, channel="sms")
    process_received()
    context = new_context(browser, live_server, viewport={"width": 1280, "height": 860})
    page, outside = new_page(context, live_server)
    try:
        sign_in(page, live_server, "boss")
        page.click("#nav-map")
        page.wait_for_url("**/console/map")
        page.wait_for_selector("#map-page[data-cases-loaded='2'][data-areas-loaded='1']")
        assert page.locator("path[data-code^='110116']").count() == 16  # every town is drawn
        labels = page.locator(".gl-town-label").all_inner_texts()
        assert "雁栖镇" in labels and "喇叭沟门满族乡" in labels
        assert page.locator(f"path[data-number='{light}']").is_visible()
        assert page.locator(f"path[data-number='{manhole}']").is_visible()
        assert "核实中" in page.locator("#map-legend").inner_text()
        assert page.locator("#map-count").inner_text() == "地图上 2 件在办案件"
        screenshot(page, "map-zh", full_page=False)

        page.select_option("#filter-category", "street-light")
        page.wait_for_selector("#map-page[data-cases-loaded='1']")
        assert page.locator(f"path[data-number='{manhole}']").count() == 0
        assert page.locator(f"path[data-number='{light}']").is_visible()
        page.select_option("#filter-category", "")
        page.wait_for_selector("#map-page[data-cases-loaded='2']")

        assert page.locator("#map-hint").inner_text() == "放大地图可显示网格"
        page.evaluate(f"GridlineMap.page.map.setView([{QUANHE.lat}, {QUANHE.lon}], 13)")  # zoom in: cells appear
        page.wait_for_selector("#map path.gl-cell")
        assert page.locator("#map-hint").is_hidden()
        screenshot(page, "map-cells-zh", full_page=False)
        page.evaluate("GridlineMap.page.map.setView([40.36, 116.65], 10)")

        page.locator(f"path[data-number='{manhole}']").click()
        popup = page.locator(".leaflet-popup .gl-popup")
        popup.wait_for()
        assert manhole in popup.inner_text() and "井盖丢失" in popup.inner_text()
        link = popup.locator("a.gl-popup-link")
        assert link.get_attribute("href") == f"/console/cases/{manhole}"
        link.click()
        page.wait_for_url(f"**/console/cases/{manhole}")
        assert manhole in page.locator("#case-number").inner_text()
        page.goto(f"{live_server}/console/map?lang=en")
        page.wait_for_selector("#map-page[data-cases-loaded='2'][data-areas-loaded='1']")
        assert "Being verified" in page.locator("#map-legend").inner_text()
        assert "Baoshan Town" in page.locator(".gl-town-label").all_inner_texts()
        screenshot(page, "map-en", full_page=False)
        assert outside.outside == []  # no CDN, no tiles: everything came from the app
    finally:
        context.close()


def cells_near(runtime: Runtime, lon: float, lat: float) -> tuple[str, str, shapely.Geometry]:
    """The code of the cell holding the point, and the nearest other cell that is whole (not clipped).

    A whole cell is a square, so the middle of its drawn outline is surely inside it.
    """
    with runtime.db.transaction() as session:
        rows = session.execute(select(GridCell.code, GridCell.geometry)).all()
    cells = {code: shape(json.loads(geometry)) for code, geometry in rows}
    point = shapely.Point(lon, lat)
    here = next(code for code, cell in cells.items() if cell.contains(point))
    whole = [(code, cell) for code, cell in cells.items() if code != here and cell.equals(box(*cell.bounds))]
    whole = [(code, cell) for code, cell in whole if abs(cell.area - CELL_DEGREES**2) < 1e-9]
    target, cell = min(whole, key=lambda item: item[1].centroid.distance(point))
    return here, target, cell


def test_the_widget_picks_a_point_inside_the_clicked_cell(
    runtime: Runtime, live_server: str, browser: Browser, make_user: Callable[..., str], places: None
) -> None:
    make_user("agent1", "agent")
    here, target, target_cell = cells_near(runtime, BAOSHAN.lon, BAOSHAN.lat)
    context = new_context(browser, live_server)
    page, outside = new_page(context, live_server)
    try:
        sign_in(page, live_server, "agent1")
        page.goto(f"{live_server}/console/map")
        page.wait_for_selector("#map-page[data-cases-loaded]")
        # Mounted exactly as the case page will: a point, its cell, pickable, a callback.
        page.evaluate(
            """([lon, lat, cell]) => {
                const box = document.createElement("div");
                box.id = "widget";
                box.style.cssText = "position:fixed;top:70px;left:20px;width:640px;height:560px;z-index:5000";
                document.body.append(box);
                window.picked = null;
                window.widget = GridlineMap.mount(box, {
                    point: [lon, lat], cellCode: cell, pickable: true, zoom: 13,
                    onPick: (pickedLon, pickedLat, code) => { window.picked = [pickedLon, pickedLat, code]; },
                });
            }""",
            [BAOSHAN.lon, BAOSHAN.lat, here],
        )
        page.wait_for_selector(f"#widget path.gl-cell-{target}")
        assert page.locator(f"#widget path.gl-cell-{here}").get_attribute("stroke") == "#ea580c"  # its cell
        assert page.locator("#widget path.gl-point").count() == 1
        bounds = page.locator(f"#widget path.gl-cell-{target}").bounding_box()
        assert bounds is not None
        x, y = bounds["x"] + bounds["width"] / 2, bounds["y"] + bounds["height"] / 2
        page.mouse.click(x, y)
        page.wait_for_function("window.picked !== null")
        lon, lat, code = page.evaluate("window.picked")
        assert target_cell.contains(shapely.Point(lon, lat)), (lon, lat, target)
        assert code == target
        assert page.locator(f"#widget path.gl-cell-{target}").get_attribute("stroke") == "#ea580c"
        assert page.locator(f"#widget path.gl-cell-{here}").get_attribute("stroke") != "#ea580c"
        point = page.locator("#widget path.gl-point").bounding_box()
        assert point is not None  # the marker moved to where the click was
        assert abs(point["x"] + point["width"] / 2 - x) < 3 and abs(point["y"] + point["height"] / 2 - y) < 3
        screenshot(page, "map-widget-zh", full_page=False)
        assert outside.outside == []
    finally:
        context.close()
