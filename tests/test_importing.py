"""`gridline grid import` and `gridline addresses import` as real processes, and how running processes
learn of them.

Re-imports and every kind of bad file are tested on the functions themselves (tests/test_gazetteer.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shapely.geometry import shape

from intake import process_copy
from intake.process_copy import ProcessCopy
from intake.runtime import Runtime
from routing.gazetteer import gazetteer
from routing.geo import cell_index
from routing.importing import import_addresses, import_grid
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


def test_imports_reach_processes_that_are_already_running(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This process stands for a running web or worker process with its cell index and gazetteer
    built; `gridline grid import` and `gridline addresses import` run beside it as other processes."""
    document = json.loads(CELLS.read_text(encoding="utf-8"))
    last = document["features"].pop()
    first_cells = tmp_path / "first-cells.geojson"
    first_cells.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    lines = ADDRESSES.read_text(encoding="utf-8").splitlines()
    first_addresses = tmp_path / "first-addresses.csv"
    first_addresses.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    monkeypatch.setattr(process_copy, "VERSION_CHECK_SECONDS", 3600.0)
    with runtime.db.transaction() as session:
        import_grid(session, first_cells)
    with runtime.db.transaction() as session:
        import_addresses(session, first_addresses)

    inside_last = shape(last["geometry"]).representative_point()
    wanted = "北京市怀柔区泉河街道南华大街20号"
    with runtime.db.transaction() as session:
        assert cell_index(session).locate(inside_last.x, inside_last.y) is None
        assert wanted not in {found.text for found in gazetteer(session).search(wanted)}

    env = env_for(
        tmp_path / "other",
        GRIDLINE_DATABASE__URL=runtime.config.database_url,
        GRIDLINE_REDIS__URL=runtime.redis_url,
        GRIDLINE_REDIS__KEY_PREFIX=runtime.config.redis.key_prefix,
    )
    for command in (("grid", "import", str(CELLS)), ("addresses", "import", str(ADDRESSES))):
        done = gridline(*command, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr

    with runtime.db.transaction() as session:
        # Within the check interval a process trusts its copies: no Redis read per lookup.
        assert cell_index(session).locate(inside_last.x, inside_last.y) is None
        monkeypatch.setattr(process_copy, "VERSION_CHECK_SECONDS", 0.0)
        assert cell_index(session).locate(inside_last.x, inside_last.y) == last["properties"]["code"]
        assert gazetteer(session).match(wanted).text == wanted


def test_a_change_announced_after_redis_lost_its_data_is_still_seen(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process_copy, "VERSION_CHECK_SECONDS", 0.0)
    loads: list[int] = []

    def load() -> int:
        loads.append(len(loads) + 1)
        return loads[-1]

    here, elsewhere = ProcessCopy[int]("test-table"), ProcessCopy[int]("test-table")  # two processes
    elsewhere.announce_change()
    assert here.get(load) == 1
    runtime.redis.flushdb()  # Redis restarted without its data
    elsewhere.announce_change()  # a counter would be back at its first value here
    assert here.get(load) == 2
