"""`gridline grid import` and `gridline addresses import` as real processes on the embedded defaults.

Re-imports and every kind of bad file are tested on the functions themselves (tests/test_gazetteer.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import env_for, gridline
from tests.test_gazetteer import ADDRESSES, CELLS


def test_grid_and_address_imports_print_counts_and_refuse_bad_files(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    assert gridline("db", "upgrade", env=env, cwd=tmp_path).returncode == 0

    first = gridline("grid", "import", str(CELLS), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "grid: 9 cells created, 0 updated, 0 unchanged; 4 areas created"

    addresses = gridline("addresses", "import", str(ADDRESSES), env=env, cwd=tmp_path)
    assert addresses.returncode == 0, addresses.stderr
    assert addresses.stdout.strip() == "addresses: 8 created, 0 updated, 0 unchanged"
    assert "skipped 1 outside every grid cell: line 10" in addresses.stderr

    document = json.loads(CELLS.read_text(encoding="utf-8"))
    document["features"][2]["geometry"] = {"type": "LineString", "coordinates": [[116.6, 40.3], [116.7, 40.4]]}
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(document), encoding="utf-8")
    refused = gridline("grid", "import", str(bad), env=env, cwd=tmp_path)
    assert refused.returncode != 0
    assert "features[2]: geometry is LineString, not a Polygon or MultiPolygon" in refused.stderr
