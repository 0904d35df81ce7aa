"""One map (一图呈现): area boundaries, grid cells and open cases for the console's map page and widget.

``GET /console/map`` is the page; its data comes from three JSON endpoints under ``/console/api/map/``:
``areas`` (boundaries by level, simplified and cached per process), ``cells`` (grid cells in a
bounding box) and ``cases`` (open cases that have a point). Every signed-in role may look;
department staff see only their own unit's cases.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from flask import Blueprint, Response, jsonify, render_template, request, url_for
from shapely.geometry import mapping, shape
from sqlalchemy import ColumnElement, false, func, select

from agent_ui.auth import CONSOLE_ROLES, login_required
from agent_ui.web import acting_user
from intake.auth import Role
from intake.categories import load as load_categories
from intake.models import Case, User, utcnow
from intake.states import OPEN_STATUSES, CaseStatus
from intake.web import json_error, lang, runtime, t
from routing.models import Area, GridCell
from routing.settings import routing_settings

bp = Blueprint("maps", __name__, template_folder="templates")

#: Everyone who signs in may look at the map; what a department user sees is narrowed in :func:`cases`.
MAP_ROLES = tuple(Role)
#: Most cells one ``cells`` answer holds: the page asks for cells only when zoomed in, so more means
#: a huge bounding box, and the answer says it was cut (``truncated``).
CELL_LIMIT = 2000
#: Most case points one ``cases`` answer holds (the newest first); the answer says when it was cut.
CASE_LIMIT = 5000
AREA_LEVELS = ("district", "town", "community")
#: Simplification tolerance in degrees (0.001° ≈ 100 m): boundaries are drawn at district scale,
#: so survey-grade vertices only make the answer large.
SIMPLIFY_DEGREES = {"district": 0.001, "town": 0.001, "community": 0.0003}
#: Coordinates in answers are rounded to 5 decimals (about 1 m).
DECIMALS = 5
#: Browsers may reuse the boundaries this long before asking again (then a 304 when unchanged).
AREAS_MAX_AGE_SECONDS = 300
#: A dispatched case whose finish deadline passed is overdue while the unit still has it.
_WITH_UNIT = frozenset({CaseStatus.DISPATCHED, CaseStatus.ACCEPTED})


class BadQuery(ValueError):
    """A query parameter the endpoints cannot use; the message says which and why."""


# --- boundaries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Boundaries:
    fingerprint: str
    etag: str
    body: bytes


_boundaries: dict[str, _Boundaries] = {}
_boundaries_lock = threading.Lock()


def _fingerprint(level: str) -> str:
    """A cheap digest of the level's rows (codes, names, boundary text lengths).

    Reading and simplifying every boundary is the expensive part, so the cache is checked against
    this instead: reloading places changes it. An edit that keeps a boundary's text length exactly
    would go unnoticed until the process restarts; boundaries change by reloading, not by hand.
    """
    with runtime().db.transaction() as db:
        rows = db.execute(
            select(Area.code, Area.parent_code, Area.name_zh, Area.name_en, func.length(Area.geometry))
            .where(Area.level == level)
            .order_by(Area.code)
        ).all()
    return hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    return value


def _geometry_json(geometry: shapely.Geometry) -> dict[str, Any]:
    raw = mapping(geometry)
    return {"type": raw["type"], "coordinates": _rounded(raw["coordinates"])}


def _simplified(geometries: list[shapely.Geometry], tolerance: float) -> list[shapely.Geometry]:
    """Simplify neighbouring areas together when they tile the ground without overlaps.

    Coverage simplification moves each shared border once, so neighbours stay flush; simplifying
    each area alone opens slivers between them. Data that is not a clean coverage falls back to that.
    """
    if len(geometries) > 1 and bool(shapely.coverage_is_valid(geometries)):
        return list(shapely.coverage_simplify(geometries, tolerance))
    return [shapely.simplify(g, tolerance, preserve_topology=True) for g in geometries]


def _build_boundaries(level: str, fingerprint: str) -> _Boundaries:
    with runtime().db.transaction() as db:
        rows = db.execute(
            select(Area.code, Area.parent_code, Area.name_zh, Area.name_en, Area.geometry)
            .where(Area.level == level, Area.geometry.is_not(None))
            .order_by(Area.code)
        ).all()
    geometries = [shape(json.loads(row.geometry)) for row in rows]
    simplified = _simplified(geometries, SIMPLIFY_DEGREES[level])
    features = []
    for row, original, geometry in zip(rows, geometries, simplified, strict=True):
        label = original.representative_point()  # inside the area, even for a crescent shape
        features.append(
            {
                "type": "Feature",
                "id": row.code,
                "geometry": _geometry_json(geometry),
                "properties": {
                    "code": row.code,
                    "level": level,
                    "parent_code": row.parent_code,
                    "name_zh": row.name_zh,
                    "name_en": row.name_en,
                    "label": _rounded([label.x, label.y]),
                },
            }
        )
    body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()
    return _Boundaries(fingerprint=fingerprint, etag=hashlib.sha256(body).hexdigest()[:32], body=body)


def boundaries(level: str) -> _Boundaries:
    """The level's boundaries as a GeoJSON FeatureCollection, rebuilt only when the areas changed."""
    fingerprint = _fingerprint(level)
    cached = _boundaries.get(level)
    if cached is not None and cached.fingerprint == fingerprint:
        return cached
    with _boundaries_lock:  # threaded web workers: build once, not once per waiting request
        cached = _boundaries.get(level)
        if cached is None or cached.fingerprint != fingerprint:
            cached = _boundaries[level] = _build_boundaries(level, fingerprint)
    return cached


# --- grid cells -------------------------------------------------------------------------------------


def parse_bbox(text: str | None) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` in degrees (WGS 84), or :class:`BadQuery` saying what is wrong."""
    if not text:
        raise BadQuery("bbox is required: minlon,minlat,maxlon,maxlat")
    parts = text.split(",")
    if len(parts) != 4:
        raise BadQuery(f"bbox needs 4 numbers minlon,minlat,maxlon,maxlat; got {len(parts)}")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in parts)
    except ValueError:
        raise BadQuery(f"bbox has a part that is not a number: {text!r}") from None
    if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)):
        raise BadQuery("bbox numbers must be finite")
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180 and -90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise BadQuery("bbox is out of range: longitudes -180..180, latitudes -90..90")
    if min_lon > max_lon or min_lat > max_lat:
        raise BadQuery("bbox minimum is above its maximum: use minlon,minlat,maxlon,maxlat")
    return min_lon, min_lat, max_lon, max_lat


def cells_in(bbox: tuple[float, float, float, float], limit: int = CELL_LIMIT) -> dict[str, Any]:
    """Grid cells whose stored bounding box meets ``bbox``, as a FeatureCollection (at most ``limit``)."""
    min_lon, min_lat, max_lon, max_lat = bbox
    with runtime().db.transaction() as db:
        rows = db.execute(
            select(GridCell.code, GridCell.name, GridCell.community_code, GridCell.town_code, GridCell.geometry)
            .where(
                GridCell.min_lon <= max_lon,
                GridCell.max_lon >= min_lon,
                GridCell.min_lat <= max_lat,
                GridCell.max_lat >= min_lat,
            )
            .order_by(GridCell.code)
            .limit(limit + 1)  # one more tells whether there were more
        ).all()
    features = [
        {
            "type": "Feature",
            "id": row.code,
            "geometry": json.loads(row.geometry),
            "properties": {
                "code": row.code,
                "name": row.name,
                "community_code": row.community_code,
                "town_code": row.town_code,
            },
        }
        for row in rows[:limit]
    ]
    return {"type": "FeatureCollection", "features": features, "limit": limit, "truncated": len(rows) > limit}


# --- cases ------------------------------------------------------------------------------------------


def _is_overdue(
    status: CaseStatus,
    overdue_at: datetime | None,
    due_at: datetime | None,
    finish_due_at: datetime | None,
    now: datetime,
) -> bool:
    if overdue_at is not None or (due_at is not None and due_at < now):
        return True
    return status in _WITH_UNIT and finish_due_at is not None and finish_due_at < now


def _visible_to(user: User) -> ColumnElement[bool] | None:
    """The condition narrowing a department user to their unit's cases; ``None`` for everyone else."""
    if user.role != Role.DEPARTMENT:
        return None
    if not user.department_code:
        return false()  # a department account without a unit sees nothing rather than everything
    return Case.department_code == user.department_code


def open_case_points(
    user: User,
    *,
    categories: list[str],
    channels: list[str],
    statuses: list[str],
    limit: int = CASE_LIMIT,
) -> dict[str, Any]:
    """Open cases with a point that ``user`` may see, newest first (at most ``limit``)."""
    wanted: list[CaseStatus] = []
    for value in statuses:
        try:
            status = CaseStatus(value)
        except ValueError:
            status = None
        if status not in OPEN_STATUSES:
            open_ones = ", ".join(s.value for s in CaseStatus if s in OPEN_STATUSES)
            raise BadQuery(f"status {value!r}: the map shows open cases; use any of {open_ones}")
        wanted.append(status)  # type: ignore[arg-type]
    query = select(
        Case.number,
        Case.status,
        Case.priority,
        Case.category,
        Case.channel,
        Case.lat,
        Case.lon,
        Case.summary,
        Case.due_at,
        Case.finish_due_at,
        Case.overdue_at,
    ).where(
        Case.status.in_(wanted or OPEN_STATUSES),
        Case.lat.is_not(None),
        Case.lon.is_not(None),
    )
    if categories:
        query = query.where(Case.category.in_(categories))
    if channels:
        query = query.where(Case.channel.in_(channels))
    scope = _visible_to(user)
    if scope is not None:
        query = query.where(scope)
    now = utcnow()
    with runtime().db.transaction() as db:
        rows = db.execute(query.order_by(Case.id.desc()).limit(limit + 1)).all()
    points = [
        {
            "number": row.number,
            "status": row.status.value,
            "overdue": _is_overdue(row.status, row.overdue_at, row.due_at, row.finish_due_at, now),
            "priority": row.priority,
            "category": row.category,
            "channel": row.channel,
            "lat": row.lat,
            "lon": row.lon,
            "summary": row.summary,
        }
        for row in rows[:limit]
    ]
    return {"cases": points, "count": len(points), "limit": limit, "truncated": len(rows) > limit}


# --- views ------------------------------------------------------------------------------------------


@bp.errorhandler(BadQuery)
def _bad_request(err: BadQuery) -> Response:
    return json_error(400, str(err))


@bp.get("/console/api/map/areas")
@login_required(*MAP_ROLES)
def areas() -> Response:
    level = request.args.get("level", "town")
    if level not in AREA_LEVELS:
        raise BadQuery(f"level {level!r}: use any of {', '.join(AREA_LEVELS)}")
    found = boundaries(level)
    response = Response(found.body, mimetype="application/geo+json")
    response.set_etag(found.etag)
    response.headers["Cache-Control"] = f"private, max-age={AREAS_MAX_AGE_SECONDS}"
    return response.make_conditional(request)


@bp.get("/console/api/map/cells")
@login_required(*MAP_ROLES)
def cells() -> Response:
    response = jsonify(cells_in(parse_bbox(request.args.get("bbox")), CELL_LIMIT))
    response.mimetype = "application/geo+json"
    return response


@bp.get("/console/api/map/cases")
@login_required(*MAP_ROLES)
def cases() -> Response:
    found = open_case_points(
        acting_user(),
        categories=[v for v in request.args.getlist("category") if v],
        channels=[v for v in request.args.getlist("channel") if v],
        statuses=[v for v in request.args.getlist("status") if v],
        limit=CASE_LIMIT,
    )
    response = jsonify(found)
    response.headers["Cache-Control"] = "no-store"  # live data
    return response


def _open_channels(user: User) -> list[str]:
    query = select(Case.channel).where(Case.status.in_(OPEN_STATUSES)).distinct().order_by(Case.channel)
    scope = _visible_to(user)
    if scope is not None:
        query = query.where(scope)
    with runtime().db.transaction() as db:
        return list(db.scalars(query))


def _label(key: str, fallback: str) -> str:
    text = t(key)
    return fallback if text == key else text


@bp.get("/console/map")
@login_required(*MAP_ROLES)
def map_page() -> str:
    user = acting_user()
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, category in load_categories().items():
        groups.setdefault(category.group(lang()), []).append((code, category.name(lang())))
    open_statuses = [s for s in CaseStatus if s in OPEN_STATUSES]
    config = {
        "lang": lang(),
        "urls": {
            "areas": url_for("maps.areas"),
            "cells": url_for("maps.cells"),
            "cases": url_for("maps.cases"),
            # Only console roles may open the case page; others see the number alone.
            "case": url_for("console.case_page", number="NUMBER") if user.role in CONSOLE_ROLES else None,
        },
        "tileUrl": routing_settings(runtime().config).map_tile_url,
        "categories": {code: name for members in groups.values() for code, name in members},
        "labels": {
            # Pairs, not an object: tojson sorts keys, and the legend follows the closed loop's order.
            "status": [[s.value, t(f"status.{s.value}")] for s in open_statuses],
            "overdue": t("map.overdue"),
            "open": t("map.open_case"),
            "legend": t("map.legend"),
            "shown": t("map.cases_shown"),
            "casesTruncated": t("map.cases_truncated"),
            "cellsTruncated": t("map.cells_truncated"),
            "cellsHint": t("map.cells_hint"),
            "failed": t("map.failed"),
            "towns": t("map.layer.towns"),
            "communities": t("map.layer.communities"),
            "cells": t("map.layer.cells"),
            "cases": t("map.layer.cases"),
        },
    }
    channels = [(c, _label(f"map.channel.{c}", c)) for c in _open_channels(user)]
    return render_template(
        "console/map.html",
        user=user,
        config=config,
        category_groups=groups,
        channels=channels,
        statuses=[(s.value, t(f"status.{s.value}")) for s in open_statuses],
    )
