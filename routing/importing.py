"""Loading the district's own place data: grid cells (网格) from GeoJSON, the gazetteer from CSV.

Both imports check the whole file first and write nothing when any part is wrong; the error names every
bad feature (``features[3]``, counting from 0 as in the file) or line (``line 5``, counting the header
as line 1) with its problem. Both are upserts: importing the same file again changes nothing, and an
amended file updates what changed. Rows already stored but missing from the file are kept.

Grid GeoJSON: a FeatureCollection in WGS 84 longitude/latitude (RFC 7946) of Polygon or MultiPolygon
features whose properties are ``code`` (15 digits: 6 district + 3 town/subdistrict + 3
community/village + 3 cell), ``name`` and, optionally, ``community`` and ``town`` (their names, used
for the parent areas this import creates when they are missing).

Address CSV (UTF-8, or GB18030 as Excel writes it on Chinese Windows): columns ``text``, ``lat``,
``lon`` and, optionally, ``road``, ``number``, ``building``. The standard text is the key; the town,
community and cell come from the point.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.errors import ShapelyError
from shapely.geometry import mapping, shape
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from routing.errors import AddressImportError, DataImportError, GridImportError
from routing.gazetteer import addresses_changed
from routing.geo import CellIndex, cells_changed
from routing.models import Address, Area, GridCell

log = logging.getLogger(__name__)

#: Longest names the tables hold (routing.models), in characters.
MAX_NAME_CHARS = 100
MAX_ADDRESS_CHARS = 200
MAX_NUMBER_CHARS = 32
#: Rows looked up or written per statement (below every backend's limit on bound parameters).
CHUNK_ROWS = 500
#: Coordinate reference systems a GeoJSON ``crs`` member may name: WGS 84 longitude/latitude only.
WGS84_NAMES = ("CRS84", "EPSG::4326", "EPSG:4326")

_CELL_CODE = re.compile(r"\d{15}")
_ADDRESS_COLUMNS = ("text", "lat", "lon")
_OPTIONAL_COLUMNS = {"road": MAX_NAME_CHARS, "number": MAX_NUMBER_CHARS, "building": MAX_NAME_CHARS}
#: Address fields compared to tell an unchanged row from an updated one.
_ADDRESS_FIELDS = ("town_code", "community_code", "grid_code", "road", "number", "building", "lat", "lon")


@dataclass(frozen=True)
class GridImport:
    """What :func:`import_grid` did: cells created, updated and already up to date; areas created."""

    created: int
    updated: int
    unchanged: int
    areas_created: int


@dataclass(frozen=True)
class AddressImport:
    """What :func:`import_addresses` did; ``outside``: lines whose point lies in no grid cell (skipped)."""

    created: int
    updated: int
    unchanged: int
    outside: list[int] = field(default_factory=list)


@dataclass
class _Cell:
    code: str
    name: str
    community: str | None
    town: str | None
    geometry: shapely.Geometry


def import_grid(session: Session, path: str | Path) -> GridImport:
    """Create or update the grid cells of a GeoJSON file, and the community/town/district areas they lack."""
    source = str(path)
    cells = _read_cells(source)
    stored = {cell.code: cell for cell in _in_chunks(session, GridCell, GridCell.code, [c.code for c in cells])}
    created = updated = 0
    for cell in cells:
        min_lon, min_lat, max_lon, max_lat = cell.geometry.bounds
        values = {
            "name": cell.name,
            "community_code": cell.code[:12],
            "town_code": cell.code[:9],
            "geometry": json.dumps(mapping(cell.geometry)),
            "min_lon": min_lon,
            "min_lat": min_lat,
            "max_lon": max_lon,
            "max_lat": max_lat,
        }
        row = stored.get(cell.code)
        if row is None:
            session.add(GridCell(code=cell.code, **values))
            created += 1
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            updated += 1
    areas_created = _add_missing_areas(session, cells)
    session.flush()
    cells_changed(session)
    addresses_changed(session)  # the gazetteer knows each address's cell and its boundary
    log.info("grid import %s: %d created, %d updated, %d areas created", source, created, updated, areas_created)
    return GridImport(created, updated, len(cells) - created - updated, areas_created)


def import_addresses(session: Session, path: str | Path) -> AddressImport:
    """Create or update the gazetteer's addresses from a CSV file, each in the grid cell of its point."""
    source = str(path)
    rows = _read_addresses(source)
    index = CellIndex.load(session)
    codes = locate_points(
        index,
        np.fromiter((row["lon"] for _, row in rows), dtype=float, count=len(rows)),
        np.fromiter((row["lat"] for _, row in rows), dtype=float, count=len(rows)),
    )
    outside = [line for (line, _), code in zip(rows, codes, strict=True) if code is None]
    located = []
    for (_, row), code in zip(rows, codes, strict=True):
        if code is not None:
            located.append({**row, "grid_code": code, "community_code": code[:12], "town_code": code[:9]})
    # The whole table in one query: ``text`` has no index, and chunks of IN lists would each scan it.
    columns = [getattr(Address, key) for key in _ADDRESS_FIELDS]
    stored = {
        text: {"id": address_id, **dict(zip(_ADDRESS_FIELDS, values, strict=True))}
        for address_id, text, *values in session.execute(select(Address.id, Address.text, *columns))
    }
    new = [row for row in located if row["text"] not in stored]
    changed = []
    for row in located:
        old = stored.get(row["text"])
        if old is not None and any(old[key] != row[key] for key in _ADDRESS_FIELDS):
            changed.append({"id": old["id"], **{key: row[key] for key in _ADDRESS_FIELDS}})
    for chunk in _chunks(new):
        session.execute(insert(Address.__table__), chunk)  # type: ignore[arg-type]
    for chunk in _chunks(changed):
        session.execute(update(Address), chunk)
    session.flush()
    addresses_changed(session)
    if outside:
        log.warning("address import %s: %d rows lie in no grid cell, e.g. line %s", source, len(outside), outside[0])
    log.info("address import %s: %d created, %d updated", source, len(new), len(changed))
    return AddressImport(len(new), len(changed), len(located) - len(new) - len(changed), outside)


def locate_points(index: CellIndex, lons: np.ndarray, lats: np.ndarray) -> list[str | None]:
    """The grid cell of each point, as :meth:`CellIndex.locate` gives it, in one STRtree query."""
    found = np.full(len(lons), len(index.codes), dtype=np.int64)
    if len(lons) and index.codes:
        point_at, cell_at = index.tree.query(shapely.points(lons, lats), predicate="intersects")
        # Of several cells sharing a boundary point, the first, like CellIndex.locate.
        np.minimum.at(found, point_at, cell_at)
    return [index.codes[cell] if cell < len(index.codes) else None for cell in found.tolist()]


# -- grid GeoJSON -----------------------------------------------------------------------------------


def _read_cells(source: str) -> list[_Cell]:
    try:
        document = json.loads(Path(source).read_bytes())
    except (OSError, ValueError) as err:
        raise GridImportError(source, [("file", f"not readable as JSON: {err}")]) from err
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise GridImportError(source, [("file", "not a GeoJSON FeatureCollection")])
    crs = (document.get("crs") or {}).get("properties", {}).get("name")
    if crs and not any(name in str(crs) for name in WGS84_NAMES):
        raise GridImportError(source, [("crs", f"{crs} is not WGS 84 longitude/latitude; reproject to EPSG:4326")])
    features = document.get("features")
    if not isinstance(features, list):
        raise GridImportError(source, [("features", "missing or not a list")])
    cells: list[_Cell] = []
    problems: list[tuple[str, str]] = []
    first_at: dict[str, int] = {}
    for position, feature in enumerate(features):
        where = f"features[{position}]"
        try:
            cell = _cell(feature)
        except ValueError as err:
            problems.append((where, str(err)))
            continue
        if cell.code in first_at:
            problems.append((where, f"code {cell.code} is also used by features[{first_at[cell.code]}]"))
            continue
        first_at[cell.code] = position
        cells.append(cell)
    if problems:
        raise GridImportError(source, problems)
    if not cells:
        raise GridImportError(source, [("features", "no features")])
    return cells


def _cell(feature: Any) -> _Cell:
    """One feature as a cell; ValueError names what is wrong with it."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ValueError("not a GeoJSON Feature")
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        raise ValueError("no properties")
    raw_code = properties.get("code")
    code = str(raw_code).strip() if isinstance(raw_code, str | int) else ""
    if not _CELL_CODE.fullmatch(code):
        raise ValueError(
            f"code {raw_code!r} is not 15 digits (6 district + 3 town/subdistrict + 3 community/village + 3 cell)"
        )
    name = _text(properties, "name", required=True)
    geometry_json = feature.get("geometry")
    kind = geometry_json.get("type") if isinstance(geometry_json, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"geometry is {kind or 'missing'}, not a Polygon or MultiPolygon")
    try:
        geometry = shape(geometry_json)
    except (ValueError, TypeError, AttributeError, IndexError, ShapelyError) as err:
        raise ValueError(f"geometry has malformed coordinates: {err}") from err
    if geometry.is_empty:
        raise ValueError("geometry is empty")
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ValueError("coordinates are not WGS 84 longitude/latitude (projected metres?)")
    if not geometry.is_valid:
        raise ValueError(f"invalid geometry: {shapely.is_valid_reason(geometry)}")
    return _Cell(
        code=code,
        name=name or "",
        community=_text(properties, "community"),
        town=_text(properties, "town"),
        geometry=geometry,
    )


def _text(properties: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = properties.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"no {key}")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} {value!r} is not text")
    if len(value.strip()) > MAX_NAME_CHARS:
        raise ValueError(f"{key} is longer than {MAX_NAME_CHARS} characters")
    return value.strip()


def _add_missing_areas(session: Session, cells: list[_Cell]) -> int:
    """Create the community, town and district areas the cells' codes imply and the database lacks.

    A new area's boundary is the union of its cells in the file; existing areas are left as they are.
    """
    members: dict[str, list[_Cell]] = {}
    for cell in cells:
        for prefix in (cell.code[:6], cell.code[:9], cell.code[:12]):
            members.setdefault(prefix, []).append(cell)
    existing = {area.code for area in _in_chunks(session, Area, Area.code, list(members))}
    created = 0
    for code in sorted(set(members) - existing):
        group = members[code]
        level, parent, name = {
            6: ("district", None, None),
            9: ("town", code[:6], next((cell.town for cell in group if cell.town), None)),
            12: ("community", code[:9], next((cell.community for cell in group if cell.community), None)),
        }[len(code)]
        boundary = shapely.union_all([cell.geometry for cell in group])
        session.add(
            Area(
                code=code,
                level=level,
                parent_code=parent,
                name_zh=name or code,
                geometry=json.dumps(mapping(boundary)),
            )
        )
        created += 1
    return created


# -- address CSV ------------------------------------------------------------------------------------


def read_csv(
    source: str, required: tuple[str, ...], error: type[DataImportError]
) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(line, record) of a CSV file in UTF-8 (with or without BOM) or GB18030, as spreadsheets save it.

    Raises ``error`` when the file is unreadable or lacks a ``required`` column.
    """
    try:
        raw = Path(source).read_bytes()
    except OSError as err:
        raise error(source, [("file", f"not readable: {err}")]) from err
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            content = raw.decode("gb18030")
        except UnicodeDecodeError as err:
            raise error(source, [("file", "neither UTF-8 nor GB18030 text")]) from err
    reader = csv.DictReader(io.StringIO(content, newline=""))
    columns = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = columns
    missing = [name for name in required if name not in columns]
    if missing:
        raise error(source, [("header", f"missing column(s) {', '.join(missing)}; has {columns}")])
    return _numbered(reader)


def _read_addresses(source: str) -> list[tuple[int, dict[str, Any]]]:
    """(line, row) of every address in the file; AddressImportError lists every bad line."""
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[tuple[str, str]] = []
    first_at: dict[str, int] = {}
    for line, record in read_csv(source, _ADDRESS_COLUMNS, AddressImportError):
        try:
            row = _address(record)
        except ValueError as err:
            problems.append((f"line {line}", str(err)))
            continue
        if row["text"] in first_at:
            problems.append((f"line {line}", f"{row['text']} is also on line {first_at[row['text']]}"))
            continue
        first_at[row["text"]] = line
        rows.append((line, row))
    if problems:
        raise AddressImportError(source, problems)
    return rows


def _numbered(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str | None]]]:
    # reader.line_num counts physical lines, so it stays right when a quoted field holds a line break.
    for record in reader:
        yield reader.line_num, record


def _address(record: dict[str, str | None]) -> dict[str, Any]:
    text = (record.get("text") or "").strip()
    if not text:
        raise ValueError("no text")
    if len(text) > MAX_ADDRESS_CHARS:
        raise ValueError(f"text is longer than {MAX_ADDRESS_CHARS} characters")
    point = {}
    for key, limit in (("lat", 90.0), ("lon", 180.0)):
        value = (record.get(key) or "").strip()
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{key} {value!r} is not a number") from None
        if not math.isfinite(number) or abs(number) > limit:
            raise ValueError(f"{key} {value} is out of range (±{limit:g})")
        point[key] = number
    row: dict[str, Any] = {"text": text, **point}
    for key, limit in _OPTIONAL_COLUMNS.items():
        value = (record.get(key) or "").strip() or None
        if value is not None and len(value) > limit:
            raise ValueError(f"{key} is longer than {limit} characters")
        row[key] = value
    return row


# -- helpers ----------------------------------------------------------------------------------------


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK_ROWS):
        yield items[start : start + CHUNK_ROWS]


def _in_chunks(session: Session, model: Any, column: Any, keys: list[str]) -> Iterator[Any]:
    for chunk in _chunks(keys):
        yield from session.scalars(select(model).where(column.in_(chunk)))
