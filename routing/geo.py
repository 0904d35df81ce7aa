"""Point → grid cell, through an STRtree over every cell polygon, built once per process (and again
after a grid import anywhere: :data:`cells_changed`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely import STRtree
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.models import Case
from intake.process_copy import ProcessCopy
from routing.models import GridCell

log = logging.getLogger(__name__)


@dataclass
class CellIndex:
    codes: list[str]
    tree: STRtree

    @classmethod
    def load(cls, session: Session) -> CellIndex:
        rows = session.execute(select(GridCell.code, GridCell.geometry)).all()
        geometries = [shape(json.loads(geometry)) for _, geometry in rows]
        for geometry in geometries:
            shapely.prepare(geometry)
        return cls(codes=[code for code, _ in rows], tree=STRtree(geometries))

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lon: float, lat: float) -> str | None:
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        return self.codes[min(hits)] if len(hits) else None


_index: ProcessCopy[CellIndex] = ProcessCopy("grid-cells")


def cell_index(session: Session) -> CellIndex:
    """This process's cell index (built again while the grid is empty: the demo may be loading)."""

    def load() -> CellIndex:
        index = CellIndex.load(session)
        log.info("grid index built over %d cells", len(index.codes))
        return index

    return _index.get(load, keep_empty=False)


def cells_changed(session: Session | None = None) -> None:
    """Every process rebuilds its cell index (once ``session`` commits, when given)."""
    _index.announce_change(session)


def reset_index() -> None:
    """Forget this process's cell index (tests)."""
    _index.forget()


def locate_cases(session: Session, cases: Sequence[Case]) -> None:
    """Intake enricher: put each case with a point but no cell into its grid cell."""
    todo = [case for case in cases if case.grid_code is None and case.lat is not None and case.lon is not None]
    if not todo:
        return
    index = cell_index(session)
    for case in todo:
        case.grid_code = index.locate(case.lon, case.lat)  # type: ignore[arg-type]
