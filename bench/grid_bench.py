"""Point → grid cell lookups with 10,000 cells, against the cost of making the point alone.

    .venv/bin/python bench/grid_bench.py [--cells 10000] [--lookups 100000]

Generates ``--cells`` irregular cells (a Voronoi tessellation of random seats over the demo district's
extent, each edge cut into short segments so that a cell has a few dozen vertices, like a boundary
traced along streets), writes them as a GeoJSON file, imports it with ``routing.importing.import_grid``
into a SQLite file, builds ``routing.geo.CellIndex`` from the database and times
``CellIndex.locate(lon, lat)`` for ``--lookups`` random points in the extent. The baselines, timed in the
same run over the same points: ``shapely.Point(lon, lat)`` alone (what any lookup must at least pay)
and a dict lookup. Target: under 0.1 ms per lookup.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_US = 100.0
#: Longest edge segment of a generated cell, in degrees (about 100 m): cells get a few dozen vertices.
SEGMENT_DEGREES = 0.001


def per_call_us(points: list[tuple[float, float]], call: Callable[[float, float], object]) -> float:
    started = time.perf_counter()
    for lon, lat in points:
        call(lon, lat)
    return (time.perf_counter() - started) / len(points) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the points; the best is kept")
    args = parser.parse_args()

    import numpy as np
    import shapely
    from shapely.geometry import mapping
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from intake.models import Base
    from intake.wiring import import_models
    from routing.demo import EXTENT
    from routing.geo import CellIndex
    from routing.importing import import_grid, locate_points

    rng = random.Random(10_000)
    min_lon, min_lat, max_lon, max_lat = EXTENT.bounds
    seats = shapely.multipoints(
        [(rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)) for _ in range(args.cells)]
    )
    cells = [
        shapely.segmentize(cell.intersection(EXTENT), SEGMENT_DEGREES)
        for cell in shapely.voronoi_polygons(seats, extend_to=EXTENT).geoms
    ]
    features = [
        {
            "type": "Feature",
            # 100 cells per community, 100 communities per town: codes stay 15 digits.
            "properties": {
                "code": f"110116{n // 10_000 + 1:03d}{n // 100 % 100 + 1:03d}{n % 100 + 1:03d}",
                "name": f"网格{n}",
            },
            "geometry": mapping(cell),
        }
        for n, cell in enumerate(cells)
    ]
    vertices = sum(len(cell.exterior.coords) for cell in cells) / len(cells)
    with tempfile.TemporaryDirectory(prefix="gl-grid-bench-") as folder:
        geojson = Path(folder) / "cells.geojson"
        geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        engine = create_engine(f"sqlite:///{folder}/bench.sqlite")
        import_models()
        Base.metadata.create_all(engine)
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            imported = import_grid(session, geojson)
        import_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with Session(engine) as session:
            index = CellIndex.load(session)
        index_seconds = time.perf_counter() - started
        engine.dispose()

    points = [(rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)) for _ in range(args.lookups)]
    table = {point: n for n, point in enumerate(points)}
    index.locate(*points[0])  # warm up
    point_us = min(per_call_us(points, shapely.Point) for _ in range(args.rounds))
    dict_us = min(per_call_us(points, lambda lon, lat: table.get((lon, lat))) for _ in range(args.rounds))
    locate_us = min(per_call_us(points, index.locate) for _ in range(args.rounds))
    lons, lats = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    started = time.perf_counter()
    bulk = locate_points(index, lons, lats)
    bulk_us = (time.perf_counter() - started) / len(points) * 1e6
    # The same answers both ways, and every random point in the extent lies in some cell.
    assert bulk == [index.locate(lon, lat) for lon, lat in points[:2000]] + bulk[2000:]
    missed = sum(code is None for code in bulk)

    result = {
        "cells": imported.created,
        "vertices_per_cell": round(vertices, 1),
        "import_seconds": round(import_seconds, 2),
        "index_build_seconds": round(index_seconds, 2),
        "lookups": args.lookups,
        "points_outside_every_cell": missed,
        "baseline_point_us": round(point_us, 2),
        "baseline_dict_us": round(dict_us, 3),
        "locate_us": round(locate_us, 2),
        "locate_per_second": round(1e6 / locate_us),
        "locate_over_point": round(locate_us / point_us, 1),
        "bulk_locate_us_per_point": round(bulk_us, 2),
        "target_us": TARGET_US,
    }
    print(json.dumps(result, indent=2))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"grid-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json").write_text(json.dumps(result))
    if missed:
        print(f"FAILURE: {missed} points in the extent fell in no cell", file=sys.stderr)
        return 2
    return 0 if locate_us < TARGET_US else 1


if __name__ == "__main__":
    sys.exit(main())
