"""A deterministic demo gazetteer (门牌地址库) for the demo district of :mod:`routing.demo`.

Roads with house numbers (odd on one side, even on the other), residential estates (小区) with numbered
buildings (号楼) and villages (村) with house numbers, laid out inside each town's demo boundary, and
each address put in its grid cell. The district's real gazetteer has about 116,000 entries
(:data:`FULL_COUNT`); tests load a few thousand. The road names of the two subdistricts are Huairou's
own; smaller places get invented but plausible names. :data:`FIXED_ADDRESSES` are always there, at the
same points, for tests and the demo to rely on.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from routing.errors import RoutingError
from routing.gazetteer import addresses_changed
from routing.geo import CellIndex
from routing.importing import locate_points
from routing.models import Address, Area

log = logging.getLogger(__name__)

#: Addresses of the full demo gazetteer: about as many as Huairou District's.
FULL_COUNT = 116_000
#: Seed of every random choice, so that each run lays out the same addresses.
SEED = 116_116
#: Above the district in every standard address.
CITY = "北京市"
#: Metres per degree of latitude (see routing.gazetteer).
METRES_PER_DEGREE = 111_195.0
#: Distance between neighbouring house numbers on one side of a road, and from a house to the road's
#: centre line, in metres.
HOUSE_SPACING_METRES = 20.0
ROAD_SIDE_METRES = 15.0
#: Distance between neighbouring buildings of an estate and houses of a village, in metres.
BUILDING_SPACING_METRES = 45.0
VILLAGE_SPACING_METRES = 30.0
#: Spread (standard deviation) of street centres around the town's seat, in metres: towns are built up
#: around their seat, not evenly over the mountains.
SEAT_SPREAD_METRES = 2_500.0

#: (town, road/estate/village, kind, number, lat, lon): addresses always present, at these points.
#: 幸福路 is in two towns on purpose: "幸福路8号" without a town is ambiguous.
FIXED_ADDRESSES: list[tuple[str, str, str, int, float, float]] = [
    ("泉河街道", "青春路", "road", 12, 40.3225, 116.6392),
    ("泉河街道", "府前街", "road", 1, 40.3240, 116.6410),
    ("龙山街道", "开放路", "road", 8, 40.3091, 116.6268),
    ("泉河街道", "富乐小区", "estate", 5, 40.3262, 116.6321),
    ("怀柔镇", "幸福路", "road", 8, 40.2935, 116.5900),
    ("杨宋镇", "幸福路", "road", 8, 40.3010, 116.7615),
    ("北房镇", "北房村", "village", 23, 40.2795, 116.6905),
]

#: Relative number of addresses per town (the two subdistricts and the towns near them are the densest).
TOWN_WEIGHTS: dict[str, int] = {
    "泉河街道": 14,
    "龙山街道": 12,
    "怀柔镇": 10,
    "雁栖镇": 9,
    "庙城镇": 8,
    "北房镇": 6,
    "杨宋镇": 7,
    "桥梓镇": 6,
    "怀北镇": 4,
    "渤海镇": 4,
    "九渡河镇": 4,
    "琉璃庙镇": 2,
    "汤河口镇": 3,
    "宝山镇": 2,
    "长哨营满族乡": 2,
    "喇叭沟门满族乡": 2,
}
#: Share of roads, estates and villages among a town's streets, by how urban it is.
URBAN_MIX = {"road": 0.6, "estate": 0.4, "village": 0.0}
SUBURBAN_MIX = {"road": 0.4, "estate": 0.2, "village": 0.4}
RURAL_MIX = {"road": 0.15, "estate": 0.0, "village": 0.85}
URBAN = {"泉河街道", "龙山街道"}
SUBURBAN = {"怀柔镇", "雁栖镇", "庙城镇"}

#: Names each town's streets take first, before invented ones.
KNOWN_NAMES: dict[str, list[str]] = {
    "泉河街道": ["青春路", "府前街", "府前东街", "南华大街", "北大街", "富乐大街", "后横街", "富乐小区", "青春苑"],
    "龙山街道": ["开放路", "迎宾中路", "迎宾南路", "南大街", "龙山东路", "金台园", "龙山小区", "南华园"],
    "怀柔镇": ["迎宾北路", "京加路", "兴怀大街", "郑家庄村", "孙史山村", "张各长村", "怀柔花园"],
    "雁栖镇": ["雁栖大街", "乐园大街", "雁栖湖路", "范各庄村", "柏崖厂村", "交界河村", "北台上村"],
    "庙城镇": ["庙城路", "庙城村", "王史山村", "高两河村", "西台村"],
    "北房镇": ["北房大街", "宰相庄村", "驸马庄村", "梭草村", "小罗山村"],
    "杨宋镇": ["杨宋大街", "杨宋庄村", "花园村", "凤翔村", "张自口村"],
    "桥梓镇": ["桥梓大街", "桥梓村", "北宅村", "前桥梓村", "后桥梓村"],
    "怀北镇": ["怀北路", "怀北庄村", "河防口村", "椴树岭村"],
    "渤海镇": ["渤海大街", "渤海所村", "慕田峪村", "北沟村", "田仙峪村"],
    "九渡河镇": ["九渡河大街", "九渡河村", "黄坎村", "西水峪村", "团泉村"],
    "琉璃庙镇": ["琉璃庙村", "杨树底下村", "双文铺村"],
    "汤河口镇": ["汤河口大街", "汤河口村", "东帽湾村", "大黄塘村"],
    "宝山镇": ["宝山寺村", "对石村", "转年村"],
    "长哨营满族乡": ["长哨营村", "七道河村", "大沟村", "古洞沟村"],
    "喇叭沟门满族乡": ["喇叭沟门村", "孙栅子村", "苇塘村"],
}
#: Characters of invented names, and the endings that make them roads, estates or villages.
NAME_CHARACTERS = "安康宁和顺兴福华丰泰明新惠乐民裕盛德仁平文昌荣景瑞祥恒通达永嘉利春秋松柏桃杏柳榆槐枫"
ROAD_ENDINGS = ("路", "街", "大街", "巷", "东路", "西路", "南路", "北路")
ESTATE_ENDINGS = ("小区", "家园", "花园", "苑", "园", "公寓", "新村")
VILLAGE_ENDINGS = ("村", "庄村", "各庄村", "家庄村", "峪村", "沟村")
#: Numbers per street: (smallest, largest) for each kind.
STREET_SIZES = {"road": (40, 300), "estate": (8, 40), "village": (80, 400)}


@dataclass
class _Street:
    town_code: str
    town_name: str
    kind: str
    name: str
    size: int
    #: Where number 1 (road) or the centre (estate, village) lies, and the road's direction (radians).
    lat: float
    lon: float
    heading: float
    #: For a fixed address: its number and point, which the street is laid out around.
    anchor: tuple[int, float, float] | None = None


def load(session: Session, count: int = FULL_COUNT) -> int:
    """Insert ``count`` demo addresses (the fixed ones first) into the demo district; returns how many."""
    district = session.scalars(select(Area).where(Area.level == "district")).first()
    towns = session.scalars(select(Area).where(Area.level == "town").order_by(Area.code)).all()
    if district is None or not towns:
        raise RoutingError("the demo addresses need the demo district's towns: load routing.demo first")
    index = CellIndex.load(session)
    rng = random.Random(SEED)
    regions = {town.code: shape(json.loads(town.geometry or "null")) for town in towns}
    for region in regions.values():
        shapely.prepare(region)
    rows = list(_rows(rng, towns, regions, district.name_zh, count))
    lons = np.fromiter((row["lon"] for row in rows), dtype=float, count=len(rows))
    lats = np.fromiter((row["lat"] for row in rows), dtype=float, count=len(rows))
    for row, code in zip(rows, locate_points(index, lons, lats), strict=True):
        row["grid_code"] = code
        row["community_code"] = code[:12] if code else None
    if rows:
        session.execute(insert(Address.__table__), rows)  # type: ignore[arg-type]
    addresses_changed(session)
    log.info("demo gazetteer: %d addresses", len(rows))
    return len(rows)


def _rows(
    rng: random.Random, towns: list[Area], regions: dict[str, shapely.Geometry], district: str, count: int
) -> Iterator[dict[str, object]]:
    by_name = {town.name_zh: town for town in towns}
    seen: set[tuple[str, str, int]] = set()
    made = 0
    fixed_streets: list[_Street] = []
    for town_name, name, kind, number, lat, lon in FIXED_ADDRESSES:
        town = by_name.get(town_name)
        if town is None or made >= count:
            continue
        street = _Street(town.code, town_name, kind, name, 0, lat, lon, rng.uniform(0, math.pi), (number, lat, lon))
        fixed_streets.append(street)
        seen.add((town.code, name, number))
        made += 1
        yield _row(district, street, number, lat, lon)
    weights = {town.code: TOWN_WEIGHTS.get(town.name_zh, 1) for town in towns}
    total = sum(weights.values())
    quotas = {code: round((count - made) * weight / total) for code, weight in weights.items()}
    # Rounding may leave a few over or under: the first town takes the difference.
    quotas[towns[0].code] += count - made - sum(quotas.values())
    for town in towns:
        left = quotas[town.code]
        for street in _streets(rng, town, regions[town.code], fixed_streets):
            if left <= 0:
                break
            for number, lat, lon in _places(street, regions[town.code]):
                if (town.code, street.name, number) in seen:
                    continue
                seen.add((town.code, street.name, number))
                yield _row(district, street, number, lat, lon)
                left -= 1
                if left <= 0:
                    break


def _row(district: str, street: _Street, number: int, lat: float, lon: float) -> dict[str, object]:
    suffix = "号楼" if street.kind == "estate" else "号"
    return {
        "text": f"{CITY}{district}{street.town_name}{street.name}{number}{suffix}",
        "town_code": street.town_code,
        "road": street.name if street.kind == "road" else None,
        "number": f"{number}{suffix}",
        "building": street.name if street.kind != "road" else None,
        "lat": round(lat, 6),
        "lon": round(lon, 6),
    }


def _streets(rng: random.Random, town: Area, region: shapely.Geometry, fixed: list[_Street]) -> Iterator[_Street]:
    """The town's streets, endlessly: fixed ones first, then its known names, then invented ones."""
    mix = URBAN_MIX if town.name_zh in URBAN else SUBURBAN_MIX if town.name_zh in SUBURBAN else RURAL_MIX
    names = {street.name for street in fixed if street.town_code == town.code}
    for street in fixed:
        if street.town_code == town.code:
            street.size = rng.randint(*STREET_SIZES[street.kind])
            yield street
    seat = shapely.Point(region.representative_point())
    known = [name for name in KNOWN_NAMES.get(town.name_zh, []) if name not in names]
    while True:
        if known:
            name = known.pop(0)
            kind = "village" if name.endswith("村") else "estate" if name.endswith(ESTATE_ENDINGS) else "road"
        else:
            kind = rng.choices(list(mix), weights=list(mix.values()))[0]
            name = _invent(rng, kind)
            if name in names:
                continue
        names.add(name)
        lat, lon = _centre(rng, region, seat, spread=kind != "village")
        yield _Street(
            town.code, town.name_zh, kind, name, rng.randint(*STREET_SIZES[kind]), lat, lon, rng.uniform(0, 2 * math.pi)
        )


def _invent(rng: random.Random, kind: str) -> str:
    stem = "".join(rng.sample(NAME_CHARACTERS, 2))
    endings = {"road": ROAD_ENDINGS, "estate": ESTATE_ENDINGS, "village": VILLAGE_ENDINGS}[kind]
    return stem + rng.choice(endings)


def _centre(rng: random.Random, region: shapely.Geometry, seat: shapely.Point, *, spread: bool) -> tuple[float, float]:
    """A point inside the town: near its seat for roads and estates, anywhere for villages."""
    min_lon, min_lat, max_lon, max_lat = region.bounds
    for _ in range(1000):
        if spread:
            lat = seat.y + rng.gauss(0, SEAT_SPREAD_METRES) / METRES_PER_DEGREE
            lon = seat.x + rng.gauss(0, SEAT_SPREAD_METRES) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
        else:
            lat, lon = rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon)
        if shapely.contains_xy(region, lon, lat):
            return lat, lon
    return seat.y, seat.x


def _places(street: _Street, region: shapely.Geometry) -> Iterator[tuple[int, float, float]]:
    """(number, lat, lon) of each address of the street that lies inside the town."""
    numbers = np.arange(1, street.size + 1)
    if street.kind == "road":
        # Odd numbers on the left of the centre line, even on the right, pairs every HOUSE_SPACING_METRES.
        along = (numbers - 1) // 2 * HOUSE_SPACING_METRES
        across = np.where(numbers % 2 == 1, ROAD_SIDE_METRES, -ROAD_SIDE_METRES)
    else:
        spacing = BUILDING_SPACING_METRES if street.kind == "estate" else VILLAGE_SPACING_METRES
        side = math.ceil(math.sqrt(street.size))
        along = ((numbers - 1) % side - side / 2) * spacing
        across = ((numbers - 1) // side - side / 2) * spacing
    east = along * math.cos(street.heading) - across * math.sin(street.heading)
    north = along * math.sin(street.heading) + across * math.cos(street.heading)
    if street.anchor is not None:
        # Shift the layout so that the anchored number lands exactly on its fixed point.
        number = min(street.anchor[0], street.size) - 1
        east, north = east - east[number], north - north[number]
    lats = street.lat + north / METRES_PER_DEGREE
    lons = street.lon + east / (METRES_PER_DEGREE * math.cos(math.radians(street.lat)))
    inside = shapely.contains_xy(region, lons, lats)
    for number, lat, lon, keep in zip(numbers.tolist(), lats.tolist(), lons.tolist(), inside.tolist(), strict=True):
        if keep:
            yield number, lat, lon
