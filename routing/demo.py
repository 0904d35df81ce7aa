"""Demo places for Huairou District, Beijing: its 2 subdistricts and 14 towns by their real names.

Boundaries are approximate (Voronoi cells around each unit's seat, clipped to the district's
extent, 40.2°N to 41.1°N); nothing depends on them being exact. Each town is cut into
communities and those into grid cells with 15-digit codes.
"""

from __future__ import annotations

import json

import shapely
from shapely.geometry import MultiPoint, box, mapping
from sqlalchemy.orm import Session

from routing import demo_addresses
from routing.models import Area, Department, GridCell

DISTRICT_CODE = "110116"
DISTRICT = ("怀柔区", "Huairou District")
#: Side of a demo grid cell and of a demo community, in degrees.
CELL_DEGREES = 0.03
COMMUNITY_DEGREES = 0.09

#: (name_zh, name_en, seat latitude, seat longitude), south to north-ish.
TOWNS: list[tuple[str, str, float, float]] = [
    ("泉河街道", "Quanhe Subdistrict", 40.322, 116.640),
    ("龙山街道", "Longshan Subdistrict", 40.308, 116.625),
    ("怀柔镇", "Huairou Town", 40.295, 116.590),
    ("雁栖镇", "Yanqi Town", 40.400, 116.660),
    ("庙城镇", "Miaocheng Town", 40.255, 116.610),
    ("北房镇", "Beifang Town", 40.280, 116.690),
    ("杨宋镇", "Yangsong Town", 40.300, 116.760),
    ("桥梓镇", "Qiaozi Town", 40.340, 116.540),
    ("怀北镇", "Huaibei Town", 40.420, 116.720),
    ("渤海镇", "Bohai Town", 40.410, 116.490),
    ("九渡河镇", "Jiuduhe Town", 40.370, 116.390),
    ("琉璃庙镇", "Liulimiao Town", 40.580, 116.580),
    ("汤河口镇", "Tanghekou Town", 40.740, 116.640),
    ("宝山镇", "Baoshan Town", 40.760, 116.480),
    ("长哨营满族乡", "Changshaoying Manchu Township", 40.830, 116.800),
    ("喇叭沟门满族乡", "Labagoumen Manchu Township", 41.020, 116.620),
]

#: (code, name_zh, name_en) of a few district departments (the district has 118).
DEPARTMENTS: list[tuple[str, str, str]] = [
    ("urban-management", "区城市管理委员会", "Urban Management Commission"),
    ("law-enforcement", "区城市管理综合行政执法局", "Urban Management Law Enforcement Bureau"),
    ("housing", "区住房和城乡建设委员会", "Housing and Urban-Rural Development Commission"),
    ("transport", "区交通局", "Transport Bureau"),
    ("water", "区水务局", "Water Affairs Bureau"),
    ("environment", "区生态环境局", "Ecology and Environment Bureau"),
    ("market", "区市场监督管理局", "Market Regulation Administration"),
    ("landscaping", "区园林绿化局", "Landscaping and Greening Bureau"),
    ("public-security", "区公安分局", "Public Security Sub-bureau"),
]

#: Gazetteer entries :func:`load` makes unless told otherwise: the fixed ones and a few thousand more.
DEMO_ADDRESSES = 2_000

#: The district's extent (lon/lat) the demo towns divide among themselves.
EXTENT = box(116.30, 40.20, 116.95, 41.10)


def town_code(index: int) -> str:
    return f"{DISTRICT_CODE}{index + 1:03d}"


def load(session: Session, *, addresses: int = DEMO_ADDRESSES) -> dict[str, int]:
    """Insert the demo district and ``addresses`` gazetteer entries; returns how many rows of each kind it made.

    ``gridline demo load`` asks for the full gazetteer (:data:`routing.demo_addresses.FULL_COUNT`); the
    default is small, so that tests loading the district stay fast.
    """
    session.add(
        Area(
            code=DISTRICT_CODE,
            level="district",
            name_zh=DISTRICT[0],
            name_en=DISTRICT[1],
            geometry=json.dumps(mapping(EXTENT)),
        )
    )
    seats = MultiPoint([(lon, lat) for _, _, lat, lon in TOWNS])
    regions = shapely.voronoi_polygons(seats, extend_to=EXTENT)
    counts = {"towns": 0, "communities": 0, "cells": 0, "departments": 0}
    for index, (name_zh, name_en, lat, lon) in enumerate(TOWNS):
        region = next(r for r in regions.geoms if r.contains(shapely.Point(lon, lat))).intersection(EXTENT)
        code = town_code(index)
        session.add(
            Area(
                code=code,
                level="town",
                parent_code=DISTRICT_CODE,
                name_zh=name_zh,
                name_en=name_en,
                geometry=json.dumps(mapping(region)),
            )
        )
        session.add(
            Department(
                code=f"town-{code}",
                name_zh=f"{name_zh}分中心",
                name_en=f"{name_en} sub-center",
                kind="town_center",
                area_code=code,
                **_contacts(counts["departments"]),
            )
        )
        counts["towns"] += 1
        counts["departments"] += 1
        _cut_cells(session, code, name_zh, region, counts)
    for code, name_zh, name_en in DEPARTMENTS:
        session.add(Department(code=code, name_zh=name_zh, name_en=name_en, **_contacts(counts["departments"])))
        counts["departments"] += 1
    session.flush()
    counts["addresses"] = demo_addresses.load(session, addresses) if addresses else 0
    return counts


def _contacts(index: int) -> dict[str, str]:
    """Fictional duty and head phones in the 010-6962 range (Beijing numbers; not real lines)."""
    return {
        "duty_phone": f"+86106962{1000 + index:04d}",
        "head_name": "值班负责人",
        "head_phone": f"+86139{index:04d}0000",
    }


def _cut_cells(session: Session, town: str, town_name: str, region: shapely.Geometry, counts: dict[str, int]) -> None:
    min_lon, min_lat, max_lon, max_lat = region.bounds
    community_index = 0
    lat = min_lat
    while lat < max_lat:
        lon = min_lon
        while lon < max_lon:
            block = box(lon, lat, lon + COMMUNITY_DEGREES, lat + COMMUNITY_DEGREES).intersection(region)
            if not block.is_empty and block.area > 1e-6:
                community_index += 1
                community = f"{town}{community_index:03d}"
                session.add(
                    Area(
                        code=community,
                        level="community",
                        parent_code=town,
                        name_zh=f"{town_name}第{community_index}社区",
                        name_en=f"Community {community_index}",
                        geometry=json.dumps(mapping(block)),
                    )
                )
                counts["communities"] += 1
                _cells_of(session, community, block, counts)
            lon += COMMUNITY_DEGREES
        lat += COMMUNITY_DEGREES


def _cells_of(session: Session, community: str, block: shapely.Geometry, counts: dict[str, int]) -> None:
    min_lon, min_lat, max_lon, max_lat = block.bounds
    cell_index = 0
    lat = min_lat
    while lat < max_lat - 1e-9:
        lon = min_lon
        while lon < max_lon - 1e-9:
            cell = box(lon, lat, lon + CELL_DEGREES, lat + CELL_DEGREES).intersection(block)
            if not cell.is_empty and cell.area > 1e-7:
                cell_index += 1
                bounds = cell.bounds
                session.add(
                    GridCell(
                        code=f"{community}{cell_index:03d}",
                        name=f"网格{cell_index:03d}",
                        community_code=community,
                        town_code=community[:9],
                        geometry=json.dumps(mapping(cell)),
                        min_lon=bounds[0],
                        min_lat=bounds[1],
                        max_lon=bounds[2],
                        max_lat=bounds[3],
                    )
                )
                counts["cells"] += 1
            lon += CELL_DEGREES
        lat += CELL_DEGREES
