"""Places: grid and address imports, point → cell, and free-text addresses → the gazetteer's standard ones."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import func, select

from intake.runtime import Runtime
from routing import demo
from routing.address_text import chinese_numeral, normalize, split_numbers
from routing.demo_addresses import FIXED_ADDRESSES
from routing.errors import AddressImportError, GridImportError
from routing.gazetteer import (
    CONFIRM_BELOW,
    METRES_PER_DEGREE,
    NEAR_BOUNDARY_METRES,
    Gazetteer,
    boundary_distance_metres,
    gazetteer,
    reset_gazetteer,
)
from routing.geo import CellIndex, cell_index
from routing.importing import import_addresses, import_grid
from routing.models import Address, Area, GridCell

FIXTURES = Path(__file__).parent / "fixtures" / "grid"
CELLS = FIXTURES / "quanhe_cells.geojson"
ADDRESSES = FIXTURES / "quanhe_addresses.csv"
#: Demo addresses the gazetteer tests load (the fixed ones and random others).
TEST_ADDRESSES = 3_000
QINGCHUN_12 = "北京市怀柔区泉河街道青春路12号"


#: The gazetteer over the demo district, per backend: built by the first test that asks, then kept in
#: memory (matching needs no database) while every later test empties the tables as usual.
_built: dict[str, tuple[Gazetteer, CellIndex]] = {}


@pytest.fixture
def gaz(runtime: Runtime, backend: str) -> tuple[Gazetteer, CellIndex]:
    """The demo district with a few thousand addresses, indexed once per backend."""
    if backend not in _built:
        with runtime.db.transaction() as session:
            demo.load(session, addresses=TEST_ADDRESSES)
        with runtime.db.transaction() as session:
            _built[backend] = (Gazetteer.load(session), CellIndex.load(session))
    return _built[backend]


def fixed_point(name: str, number: int, town: str | None = None) -> tuple[float, float]:
    return next(
        (lat, lon)
        for town_name, street, _, fixed_number, lat, lon in FIXED_ADDRESSES
        if street == name and fixed_number == number and town in (None, town_name)
    )


# -- normalising ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"), [("十二", 12), ("二十", 20), ("十", 10), ("一百零五", 105), ("三〇五", 305), ("两千零三", 2003)]
)
def test_chinese_numerals(text: str, value: int) -> None:
    assert chinese_numeral(text) == value


@pytest.mark.parametrize(
    ("text", "name", "numbers"),
    [
        ("怀柔区青春路十二号", "怀柔区青春路", ("12",)),
        ("青春路１２号 门口", "青春路", ("12",)),
        ("富乐小区五号楼二单元三〇一室", "富乐小区", ("5", "2", "301")),
        ("青春路12-1号（对面）", "青春路", ("12", "1")),
        ("九渡河镇三渡河村一百零五号", "九渡河镇三渡河村", ("105",)),
    ],
)
def test_normalize_and_split(text: str, name: str, numbers: tuple[str, ...]) -> None:
    assert split_numbers(normalize(text)) == (name, numbers)


# -- matching ---------------------------------------------------------------------------------------


def test_exact_address_resolves_to_its_point_and_cell(gaz: tuple[Gazetteer, CellIndex]) -> None:
    gazetteer_, cells = gaz
    found = gazetteer_.match("北京市怀柔区泉河街道青春路12号")
    assert found is not None
    lat, lon = fixed_point("青春路", 12)
    assert (found.text, found.lat, found.lon) == (QINGCHUN_12, lat, lon)
    assert found.grid_code == cells.locate(lon, lat) and found.grid_code is not None
    assert found.town_code == found.grid_code[:9] == demo.town_code(0)
    assert found.confidence == 1.0 and not found.needs_confirmation and found.reasons == []


@pytest.mark.parametrize(
    "text",
    [
        "泉河街道青春路12号",
        "怀柔区青春路十二号",
        "青春路12号院",
        "北京市怀柔区青春路１２号",
        "青春路12号附近",
        "泉河街道青春路12号门口",
        "青春路十二号对面",
        "泉河街到青春路12号",  # a typo in the town's name, which then is not recognised but harmless
    ],
)
def test_spellings_missing_parts_and_extra_words_resolve_with_confidence(
    gaz: tuple[Gazetteer, CellIndex], text: str
) -> None:
    found = gaz[0].match(text)
    assert found is not None and found.text == QINGCHUN_12
    assert found.confidence >= CONFIRM_BELOW and not found.needs_confirmation, found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("泉河街道青椿路12号", QINGCHUN_12),  # one wrong character
        ("龙山街道开路8号", "北京市怀柔区龙山街道开放路8号"),  # one missing character
        ("龙山街道开放8号", "北京市怀柔区龙山街道开放路8号"),  # the road's 路 left out
        ("北房镇房村23号", "北京市怀柔区北房镇北房村23号"),  # the village's first character missing
    ],
)
def test_typos_and_missing_characters_still_find_the_address(
    gaz: tuple[Gazetteer, CellIndex], text: str, expected: str
) -> None:
    found = gaz[0].match(text)
    assert found is not None and found.text == expected
    assert 0.4 <= found.confidence < 1.0


def test_a_wrong_character_in_a_short_name_is_flagged_for_confirmation(gaz: tuple[Gazetteer, CellIndex]) -> None:
    found = gaz[0].match("泉河街道青椿路12号")
    assert found is not None and found.needs_confirmation and "low_confidence" in found.reasons


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("龙山街道开放路八号", "北京市怀柔区龙山街道开放路8号"),
        ("富乐小区五号楼二单元三〇一室", "北京市怀柔区泉河街道富乐小区5号楼"),
        ("泉河街道富乐小区５号楼", "北京市怀柔区泉河街道富乐小区5号楼"),
        ("北房镇北房村二十三号", "北京市怀柔区北房镇北房村23号"),
    ],
)
def test_chinese_numerals_and_full_width_digits(gaz: tuple[Gazetteer, CellIndex], text: str, expected: str) -> None:
    found = gaz[0].match(text)
    assert found is not None and found.text == expected and found.confidence == 1.0


def test_the_same_address_in_two_towns_is_ambiguous_unless_the_town_is_named(gaz: tuple[Gazetteer, CellIndex]) -> None:
    gazetteer_ = gaz[0]
    either = gazetteer_.match("幸福路8号")
    assert either is not None and either.needs_confirmation and "ambiguous" in either.reasons
    assert either.text in ("北京市怀柔区怀柔镇幸福路8号", "北京市怀柔区杨宋镇幸福路8号")
    for town in ("怀柔镇", "杨宋镇"):
        found = gazetteer_.match(f"{town}幸福路8号")
        assert found is not None and found.text == f"北京市怀柔区{town}幸福路8号"
        assert not found.needs_confirmation, found
        assert (found.lat, found.lon) == fixed_point("幸福路", 8, town)
    assert {match.text for match in gazetteer_.search("幸福路8号")} >= {
        "北京市怀柔区怀柔镇幸福路8号",
        "北京市怀柔区杨宋镇幸福路8号",
    }


def test_a_typo_that_fits_two_streets_is_flagged_even_in_one_cell() -> None:
    """An inexact best match is ambiguous with a rival a little behind it, if the rival lies elsewhere."""
    cell = json.dumps(mapping(shapely.box(116.60, 40.30, 116.66, 40.34)))
    rows = [
        (1, "泉河街道北大街69号", "110116001", "110116001001001", 40.3200, 116.6300),
        (2, "泉河街道南华大街69号", "110116001", "110116001001001", 40.3250, 116.6400),  # about 1 km away
        (3, "泉河街道府前东街3号", "110116001", "110116001001001", 40.3100, 116.6200),
        (4, "泉河街道府前西街3号", "110116001", "110116001001001", 40.3101, 116.6201),  # the same compound
    ]
    areas = [("110116", "district", "怀柔区"), ("110116001", "town", "泉河街道")]
    built = Gazetteer(rows, areas, {"110116001001001": cell})
    north = built.match("南北大街69号")  # 北大街 with an extra 南, or 南华大街 with 华 mistyped as 北?
    assert north is not None and north.address_id == 1 and north.confidence >= CONFIRM_BELOW
    assert north.needs_confirmation and north.reasons == ["ambiguous"]
    exact = built.match("北大街69号")
    assert exact is not None and exact.address_id == 1 and not exact.needs_confirmation
    side = built.match("府前街3号")  # 东 or 西 left out: both fit, but they are the same place
    assert side is not None and side.address_id in (3, 4) and not side.needs_confirmation


def test_a_wrong_town_wrong_number_or_no_number_is_flagged(gaz: tuple[Gazetteer, CellIndex]) -> None:
    gazetteer_ = gaz[0]
    elsewhere = gazetteer_.match("龙山街道青春路12号")
    assert elsewhere is not None and elsewhere.text == QINGCHUN_12
    assert elsewhere.needs_confirmation and "town_mismatch" in elsewhere.reasons
    unknown = gazetteer_.match("泉河街道青春路999号")
    assert unknown is not None and unknown.text.startswith("北京市怀柔区泉河街道青春路")
    assert unknown.needs_confirmation and "number_not_found" in unknown.reasons
    street = gazetteer_.match("泉河街道府前街")
    assert street is not None and street.text.startswith("北京市怀柔区泉河街道府前街")
    assert street.needs_confirmation and "no_number" in street.reasons


@pytest.mark.parametrize("text", ["今天天气很好", "", "   ", "12号", "泉河街道", "我要投诉路灯不亮"])
def test_nonsense_finds_nothing(gaz: tuple[Gazetteer, CellIndex], text: str) -> None:
    assert gaz[0].match(text) is None


def test_search_lists_numbers_starting_with_what_was_typed(gaz: tuple[Gazetteer, CellIndex]) -> None:
    results = gaz[0].search("泉河街道青春路1", limit=5)
    assert [match.text for match in results] == [
        f"北京市怀柔区泉河街道青春路{number}号" for number in (1, 10, 11, 12, 13)
    ]
    assert results[0].confidence > results[1].confidence
    assert len(gaz[0].search("青春路", limit=3)) == 3
    assert gaz[0].search("今天天气很好") == []


def test_a_point_near_its_cell_boundary_is_flagged(runtime: Runtime) -> None:
    """Two addresses in one cell: one 10 m inside its western edge (flagged), one at its centre (not)."""
    with runtime.db.transaction() as session:
        demo.load(session, addresses=0)
        session.flush()
        lat, lon = fixed_point("青春路", 12)
        code = cell_index(session).locate(lon, lat)
        cell = shape(json.loads(session.get(GridCell, code).geometry))  # type: ignore[union-attr]
        centre = cell.centroid
        # 10 m east of the western edge, at the centre's latitude (demo cells are axis-aligned boxes).
        near_lon = cell.bounds[0] + 10 / (METRES_PER_DEGREE * math.cos(math.radians(centre.y)))
        assert cell.contains(shapely.Point(near_lon, centre.y))
        assert code is not None
        for number, point_lon in ((1, near_lon), (2, centre.x)):
            text = f"泉河街道边界路{number}号"
            session.add(Address(text=text, town_code=code[:9], grid_code=code, lat=centre.y, lon=point_lon))
    reset_gazetteer()
    with runtime.db.transaction() as session:
        built = gazetteer(session)
        assert gazetteer(session) is built  # built once per process
    near, middle = built.match("边界路1号"), built.match("边界路2号")
    assert near is not None and near.needs_confirmation and near.reasons == ["near_boundary"]
    assert boundary_distance_metres(cell, near.lon, near.lat) == pytest.approx(10, abs=0.5)
    assert middle is not None and not middle.needs_confirmation
    assert boundary_distance_metres(cell, middle.lon, middle.lat) > NEAR_BOUNDARY_METRES
    reset_gazetteer()


# -- imports ----------------------------------------------------------------------------------------


def _features() -> dict[str, Any]:
    return json.loads(CELLS.read_text(encoding="utf-8"))


def test_import_grid_creates_cells_and_their_parent_areas_and_locates_points(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        done = import_grid(session, CELLS)
    assert (done.created, done.updated, done.unchanged) == (9, 0, 0)
    assert done.areas_created == 4  # the district, 泉河街道, 富乐社区 and 于家园社区
    with runtime.db.transaction() as session:
        cell = session.get(GridCell, "110116001001004")
        assert cell is not None and cell.name == "富乐社区第4网格"
        assert (cell.community_code, cell.town_code) == ("110116001001", "110116001")
        assert cell.min_lon < 116.6392 < cell.max_lon
        community = session.get(Area, "110116001001")
        town = session.get(Area, "110116001")
        assert community is not None and (community.level, community.name_zh, community.parent_code) == (
            "community",
            "富乐社区",
            "110116001",
        )
        assert town is not None and (town.level, town.name_zh) == ("town", "泉河街道")
        cells = [shape(feature["geometry"]) for feature in _features()["features"][:8]]
        union = shape(json.loads(community.geometry or "null"))
        assert union.area == pytest.approx(sum(piece.area for piece in cells), rel=1e-6)
        index = cell_index(session)
        assert index.locate(116.6392, 40.3225) == "110116001001004"
        assert index.locate(116.6950, 40.3400) == "110116001002001"
        assert index.locate(116.6601, 40.4012) is None


def test_reimporting_the_grid_changes_only_what_changed(runtime: Runtime, tmp_path: Path) -> None:
    with runtime.db.transaction() as session:
        import_grid(session, CELLS)
    with runtime.db.transaction() as session:
        again = import_grid(session, CELLS)
    assert (again.created, again.updated, again.unchanged, again.areas_created) == (0, 0, 9, 0)
    document = _features()
    document["features"][0]["properties"]["name"] = "富乐社区一网格"
    document["features"][3]["geometry"] = mapping(shape(document["features"][3]["geometry"]).buffer(-0.001))
    amended = tmp_path / "amended.geojson"
    amended.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    with runtime.db.transaction() as session:
        done = import_grid(session, amended)
    assert (done.created, done.updated, done.unchanged) == (0, 2, 7)
    with runtime.db.transaction() as session:
        assert session.get(GridCell, "110116001001001").name == "富乐社区一网格"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(GridCell)) == 9
        # The grid index was rebuilt: a point 0.0005° (about 40 m) inside the cell's old western edge is
        # now outside it, and outside every other cell.
        shrunk = shape(document["features"][3]["geometry"])
        assert cell_index(session).locate(shrunk.bounds[0] - 0.0005, shrunk.centroid.y) is None


def test_a_bad_grid_file_names_each_bad_feature_and_writes_nothing(runtime: Runtime, tmp_path: Path) -> None:
    document = _features()
    features = document["features"]
    good = features[0]
    corners = [[116.60, 40.30], [116.61, 40.31], [116.61, 40.30], [116.60, 40.31], [116.60, 40.30]]
    bowtie = {"type": "Polygon", "coordinates": [corners]}
    features[1]["properties"]["code"] = "1101160010010"  # 13 digits
    features[2]["geometry"] = {"type": "Point", "coordinates": [116.6, 40.3]}
    features[3]["geometry"] = bowtie
    features[4]["properties"]["code"] = good["properties"]["code"]
    features[5]["properties"]["code"] = "11011600100100A"
    features[6]["properties"]["name"] = ""
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(document), encoding="utf-8")
    with runtime.db.transaction() as session, pytest.raises(GridImportError) as raised:
        import_grid(session, bad)
    problems = dict(raised.value.problems)
    assert sorted(problems) == [f"features[{n}]" for n in (1, 2, 3, 4, 5, 6)]
    assert "'1101160010010' is not 15 digits" in problems["features[1]"]
    assert "Point, not a Polygon or MultiPolygon" in problems["features[2]"]
    assert problems["features[3]"].startswith("invalid geometry: Self-intersection")
    assert "also used by features[0]" in problems["features[4]"]
    assert "is not 15 digits" in problems["features[5]"] and problems["features[6]"] == "no name"
    assert f"{bad}: cannot import:\n  features[1]: code" in str(raised.value)
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(GridCell)) == 0
        assert session.scalar(select(func.count()).select_from(Area)) == 0


def test_grid_files_that_are_not_wgs84_geojson_are_refused(runtime: Runtime, tmp_path: Path) -> None:
    not_json = tmp_path / "cells.geojson"
    not_json.write_text("网格,code\n", encoding="utf-8")
    projected = _features()
    projected["features"] = projected["features"][:1]
    projected["features"][0]["geometry"] = mapping(shapely.box(12_984_000, 4_910_000, 12_987_000, 4_913_000))
    metres = tmp_path / "metres.geojson"
    metres.write_text(json.dumps(projected), encoding="utf-8")
    named = _features()
    named["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    crs = tmp_path / "crs.geojson"
    crs.write_text(json.dumps(named), encoding="utf-8")
    for path, problem in (
        (not_json, "not readable as JSON"),
        (metres, "not WGS 84 longitude/latitude"),
        (crs, "EPSG::3857 is not WGS 84"),
    ):
        with runtime.db.transaction() as session, pytest.raises(GridImportError, match=problem):
            import_grid(session, path)


def test_import_addresses_puts_each_in_its_cell_and_skips_points_outside_the_grid(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        import_grid(session, CELLS)
    with runtime.db.transaction() as session:
        done = import_addresses(session, ADDRESSES)
    assert (done.created, done.updated, done.unchanged, done.outside) == (8, 0, 0, [10])
    with runtime.db.transaction() as session:
        stored = {row.text: row for row in session.scalars(select(Address))}
        assert len(stored) == 8
        qingchun = stored[QINGCHUN_12]
        assert (qingchun.grid_code, qingchun.community_code, qingchun.town_code) == (
            "110116001001004",
            "110116001001",
            "110116001",
        )
        assert (qingchun.road, qingchun.number, qingchun.building) == ("青春路", "12号", None)
        estate = stored["北京市怀柔区泉河街道于家园二区3号楼"]
        assert (estate.grid_code, estate.road, estate.building) == ("110116001002001", None, "于家园二区")
        # The gazetteer was reset by the import and sees the new addresses.
        found = gazetteer(session).match("泉河街道于家园二区三号楼")
        assert found is not None and found.address_id == estate.id and found.grid_code == "110116001002001"
    with runtime.db.transaction() as session:
        again = import_addresses(session, ADDRESSES)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 8)
    reset_gazetteer()


def test_reimporting_addresses_updates_moved_points_and_reads_gb18030(runtime: Runtime, tmp_path: Path) -> None:
    with runtime.db.transaction() as session:
        import_grid(session, CELLS)
        import_addresses(session, ADDRESSES)
    moved = ADDRESSES.read_text(encoding="utf-8").replace("40.3150,116.6450", "40.3400,116.6900")
    gbk = tmp_path / "addresses-gbk.csv"
    gbk.write_bytes(moved.encode("gb18030"))
    with runtime.db.transaction() as session:
        done = import_addresses(session, gbk)
    assert (done.created, done.updated, done.unchanged) == (0, 1, 7)
    with runtime.db.transaction() as session:
        nanhua = session.scalars(select(Address).where(Address.text == "北京市怀柔区泉河街道南华大街20号")).one()
        assert (nanhua.lat, nanhua.lon, nanhua.grid_code) == (40.34, 116.69, "110116001002001")
    reset_gazetteer()


def test_a_bad_address_file_names_each_bad_line_and_writes_nothing(runtime: Runtime, tmp_path: Path) -> None:
    with runtime.db.transaction() as session:
        import_grid(session, CELLS)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "text,lat,lon,road\n"
        "泉河街道青春路1号,40.3225,116.6392,青春路\n"
        ",40.3225,116.6392,\n"
        "泉河街道青春路3号,北纬40度,116.6392,\n"
        "泉河街道青春路5号,40.3225,416.6392,\n"
        "泉河街道青春路1号,40.3226,116.6393,\n",
        encoding="utf-8",
    )
    with runtime.db.transaction() as session, pytest.raises(AddressImportError) as raised:
        import_addresses(session, bad)
    assert raised.value.problems == [
        ("line 3", "no text"),
        ("line 4", "lat '北纬40度' is not a number"),
        ("line 5", "lon 416.6392 is out of range (±180)"),
        ("line 6", "泉河街道青春路1号 is also on line 2"),
    ]
    no_point = tmp_path / "no-point.csv"
    no_point.write_text("text,latitude,longitude\n泉河街道青春路1号,40.3225,116.6392\n", encoding="utf-8")
    with runtime.db.transaction() as session, pytest.raises(AddressImportError, match="missing column\\(s\\) lat, lon"):
        import_addresses(session, no_point)
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Address)) == 0
