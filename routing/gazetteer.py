"""The address gazetteer (门牌地址库) in memory: free-text Chinese addresses → a standard address, point and cell.

Built once per process from the ``addresses`` table (like the grid index of :mod:`routing.geo`) and
kept in plain lists. Every address is reduced by :mod:`routing.address_text` to a *name* (the road,
estate or village: "青春路", "富乐小区") and its *numbers* ("12号院3号楼" → ("12", "3")), after the
district, town and community names it mentions are taken out. A street's addresses share one name, so
the ~116,000 addresses of the district come down to a few thousand names; a query is matched by

1. normalising it the same way, noting the town it names (if any) and taking the admin names out;
2. finding the few names closest to its name with rapidfuzz over all names (typos, a missing or
   extra character, words the normaliser did not know);
3. looking its first number up among each such name's addresses (a dict), falling back to the
   street's nearest number or its middle address when the number is unknown or missing;
4. scoring each candidate: name similarity × how well the numbers agree × whether the town agrees.

:meth:`Gazetteer.match` then flags the best candidate for the agent to confirm rather than trusting a
guess: when its confidence is low, when a rival elsewhere (another cell or town, or at least
:data:`AMBIGUOUS_METRES` away) scores about as well, or when its point lies within
:data:`NEAR_BOUNDARY_METRES` of its cell's boundary.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import shapely
from rapidfuzz import fuzz, process
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.i18n import register
from intake.process_copy import ProcessCopy
from routing.address_text import normalize, split_numbers
from routing.models import Address, Area, GridCell

log = logging.getLogger(__name__)

#: Names a name must resemble this much (0..1) to be considered at all.
MIN_NAME_SIMILARITY = 0.5
#: Names compared in detail per query, from each of rapidfuzz's two passes (whole and partial ratio).
NAME_CANDIDATES = 12
#: Number agreement factors (0..1) that multiply the name similarity into the confidence:
#: the address has numbers past those the query gave ("12号" for the address "12号院3号楼");
NUMBER_LESS_SPECIFIC = 0.9
#: the typed number is the start of the address's ("青春路1" → 青春路15号; the search box only);
NUMBER_PREFIX = 0.7
#: the query gives no number: the street's middle address stands for the whole street;
NUMBER_MISSING = 0.6
#: the street has no such number: its nearest number stands in.
NUMBER_NEAREST = 0.5
#: Factor for an address outside the town the query names.
TOWN_MISMATCH = 0.6
#: Below this confidence a match is flagged for the agent to confirm.
CONFIRM_BELOW = 0.8
#: Below this confidence :meth:`Gazetteer.match` answers None: too unlike any known address.
MIN_CONFIDENCE = 0.4
#: A rival elsewhere (see AMBIGUOUS_METRES) scoring within this much of the best makes the match ambiguous;
#: within the wider margin when the best is not exact itself: a typo could as well be one of the rival's.
AMBIGUITY_MARGIN = 0.1
INEXACT_AMBIGUITY_MARGIN = 0.25
#: "Elsewhere": in another cell or town, or this many metres away or more (the same compound is not).
AMBIGUOUS_METRES = 100.0
#: A point closer than this to its cell's boundary, in metres, may belong to the neighbouring cell.
NEAR_BOUNDARY_METRES = 30.0
#: Metres per degree of latitude (mean Earth radius 6,371,008.8 m × π/180); a degree of longitude is
#: this × cos(latitude). Exact to well under a metre over a grid cell.
METRES_PER_DEGREE = 111_195.0

#: Leading words of a full postal address above the district (the gazetteer serves one district).
_CITY_PREFIX = re.compile(r"^(?:中国)?(?:北京市?)?")
#: Suffixes of town-level names; the short name plus any of these (or a typo of 街道) names the town too.
_TOWN_SUFFIX = re.compile(r"(?:满族乡|回族乡|街道|地区|镇|乡)$")
_TOWN_SPELLINGS = ("街道", "街到", "镇", "乡")

#: Why a match needs confirmation; codes, translated as ``address.reason.<code>``.
REASONS = {
    "low_confidence": {"zh": "匹配度低", "en": "low confidence"},
    "ambiguous": {"zh": "另有相近地址在别处", "en": "a similar address lies elsewhere"},
    "near_boundary": {"zh": "位于网格边界附近", "en": "close to a grid cell boundary"},
    "outside_grid": {"zh": "不在任何网格内", "en": "outside every grid cell"},
    "town_mismatch": {"zh": "与所述街乡不符", "en": "not in the town named"},
    "number_not_found": {"zh": "门牌号不在地址库中，取最近门牌", "en": "house number unknown; nearest one used"},
    "no_number": {"zh": "未给出门牌号", "en": "no house number given"},
}
register({f"address.reason.{code}": texts for code, texts in REASONS.items()})


@dataclass
class AddressMatch:
    address_id: int
    #: The standard address, e.g. "北京市怀柔区泉河街道青春路12号".
    text: str
    lat: float
    lon: float
    grid_code: str | None
    town_code: str
    #: 0..1: how sure the gazetteer is that this is the address meant.
    confidence: float
    #: True when the agent should confirm the point rather than take it: see ``reasons``.
    needs_confirmation: bool = False
    #: Codes from :data:`REASONS`.
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Query:
    name: str
    numbers: tuple[str, ...]
    town_code: str | None


class Gazetteer:
    """Every address of the district, indexed by name and number. Read-only once built; thread-safe."""

    def __init__(
        self,
        addresses: Iterable[Sequence[object]],
        areas: Iterable[tuple[str, str, str]],
        cells: dict[str, str],
    ) -> None:
        """``addresses``: (id, text, town_code, grid_code, lat, lon) rows; ``areas``: (code, level, name)
        rows; ``cells``: grid cell code → GeoJSON geometry text."""
        self._admin_towns: dict[str, str | None] = {}
        for code, level, name in areas:
            spelled = normalize(name)
            if not spelled:
                continue
            town = code[:9] if level in ("town", "community") else None
            self._admin_towns[spelled] = town
            short = _TOWN_SUFFIX.sub("", spelled)
            if level == "town" and len(short) >= 2 and short != spelled:
                for suffix in _TOWN_SPELLINGS:
                    self._admin_towns.setdefault(short + suffix, town)
        # Longest first: a community's name contains its town's, and must go as a whole.
        alternatives = sorted(self._admin_towns, key=len, reverse=True)
        self._admin = re.compile("|".join(map(re.escape, alternatives))) if alternatives else None
        self._cell_geometry = cells
        self._cell_shapes: dict[str, shapely.Geometry] = {}

        self._ids: list[int] = []
        self._texts: list[str] = []
        self._towns: list[str] = []
        self._grids: list[str | None] = []
        self._lats: list[float] = []
        self._lons: list[float] = []
        self._numbers: list[tuple[str, ...]] = []
        self._names: list[str] = []
        name_ids: dict[str, int] = {}
        # Per name: its addresses and their first numbers (-1: none), ordered by number; first number →
        # addresses. Built as lists, kept as tuples: the garbage collector stops tracking tuples of ints, so
        # its full collections (which a query's allocations set off now and then) stay short.
        members: list[list[int]] = []
        by_number: list[dict[str, list[int]]] = []
        unnamed = 0
        for address_id, text, town_code, grid_code, lat, lon in addresses:
            query = self._parse(str(text))
            if not query.name:
                unnamed += 1
                continue
            index = len(self._ids)
            self._ids.append(int(address_id))  # type: ignore[call-overload]
            self._texts.append(str(text))
            self._towns.append(str(town_code))
            self._grids.append(str(grid_code) if grid_code else None)
            self._lats.append(float(lat))  # type: ignore[arg-type]
            self._lons.append(float(lon))  # type: ignore[arg-type]
            self._numbers.append(query.numbers)
            name_id = name_ids.setdefault(query.name, len(self._names))
            if name_id == len(self._names):
                self._names.append(query.name)
                members.append([])
                by_number.append({})
            members[name_id].append(index)
            if query.numbers:
                by_number[name_id].setdefault(query.numbers[0], []).append(index)
        self._members = [tuple(sorted(street, key=self._number_key)) for street in members]
        self._firsts = [tuple(self._first_number(index) for index in street) for street in self._members]
        self._by_number = [{number: tuple(hits) for number, hits in street.items()} for street in by_number]
        self._name_towns = [frozenset(self._towns[index] for index in street) for street in self._members]
        if unnamed:
            log.warning("gazetteer: %d addresses have no name besides admin names and numbers; left out", unnamed)

    @classmethod
    def load(cls, session: Session) -> Gazetteer:
        started = time.perf_counter()
        addresses = session.execute(
            select(Address.id, Address.text, Address.town_code, Address.grid_code, Address.lat, Address.lon)
        ).all()
        areas = [tuple(row) for row in session.execute(select(Area.code, Area.level, Area.name_zh)).all()]
        cells = {code: geometry for code, geometry in session.execute(select(GridCell.code, GridCell.geometry))}
        built = cls(addresses, areas, cells)  # type: ignore[arg-type]
        log.info(
            "gazetteer built over %d addresses (%d names) in %.2f s",
            len(built),
            built.name_count,
            time.perf_counter() - started,
        )
        return built

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def name_count(self) -> int:
        """Distinct names (roads, estates, villages) the addresses come down to."""
        return len(self._names)

    def match(self, text: str) -> AddressMatch | None:
        """The address ``text`` most likely means, or None when nothing is at least :data:`MIN_CONFIDENCE`."""
        query = self._parse(text)
        candidates = self._candidates(query, search=False)
        if not candidates or candidates[0][1] < MIN_CONFIDENCE:
            return None
        best, confidence, reasons = candidates[0]
        found = self._result(best, confidence, reasons)
        margin = AMBIGUITY_MARGIN if confidence >= 1.0 else INEXACT_AMBIGUITY_MARGIN
        for rival, rival_confidence, _ in candidates[1:]:
            if rival_confidence <= confidence - margin:
                break
            if self._elsewhere(rival, best):
                found.reasons.append("ambiguous")
                found.needs_confirmation = True
                break
        return found

    def search(self, text: str, limit: int = 8) -> list[AddressMatch]:
        """Up to ``limit`` addresses for a search box, best first; a partly typed number matches its start."""
        candidates = self._candidates(self._parse(text), search=True, limit=limit)
        return [self._result(index, confidence, reasons) for index, confidence, reasons in candidates[:limit]]

    # -- matching ---------------------------------------------------------------------------------

    def _parse(self, text: str) -> _Query:
        town: str | None = None

        def drop(found: re.Match[str]) -> str:
            nonlocal town
            town = town or self._admin_towns[found.group(0)]
            return ""

        normalized = _CITY_PREFIX.sub("", normalize(text))
        if self._admin is not None:
            normalized = self._admin.sub(drop, normalized)
        name, numbers = split_numbers(normalized)
        return _Query(name=name, numbers=numbers, town_code=town)

    def _candidates(self, query: _Query, *, search: bool, limit: int = 1) -> list[tuple[int, float, tuple[str, ...]]]:
        """(address index, confidence, reasons) of the addresses worth considering, best first."""
        if not query.name or not self._names:
            return []
        found: dict[int, tuple[float, tuple[str, ...]]] = {}
        for name_id, similarity in self._similar_names(query.name):
            for index, agreement, reasons in self._numbered(name_id, similarity, query, search=search, limit=limit):
                confidence = similarity * agreement
                if query.town_code and self._towns[index] != query.town_code:
                    confidence *= TOWN_MISMATCH
                    reasons = (*reasons, "town_mismatch")
                if confidence > found.get(index, (0.0, ()))[0]:
                    found[index] = (round(confidence, 3), reasons)
        ranked = sorted(found.items(), key=lambda item: (-item[1][0], self._number_key(item[0]), self._ids[item[0]]))
        return [(index, confidence, reasons) for index, (confidence, reasons) in ranked]

    def _similar_names(self, name: str) -> list[tuple[int, float]]:
        """(name id, similarity 0..1) of the names most like ``name``."""
        shortlist: set[int] = set()
        for scorer in (fuzz.ratio, fuzz.partial_ratio):
            hits = process.extract(
                name, self._names, scorer=scorer, limit=NAME_CANDIDATES, score_cutoff=MIN_NAME_SIMILARITY * 100
            )
            shortlist.update(name_id for _, _, name_id in hits)
        scored = [(name_id, name_similarity(name, self._names[name_id])) for name_id in shortlist]
        return [(name_id, similarity) for name_id, similarity in scored if similarity >= MIN_NAME_SIMILARITY]

    def _numbered(
        self, name_id: int, similarity: float, query: _Query, *, search: bool, limit: int
    ) -> list[tuple[int, float, tuple[str, ...]]]:
        """The addresses of one name (``similarity`` to the query's) that its numbers point at, and how well.

        ``search``: the search box's way; a name's street without a number, or the numbers starting with
        what was typed, up to ``limit`` each. The nearest-number stand-in is only looked for where it could
        reach :data:`MIN_CONFIDENCE`.
        """
        members = self._members[name_id]
        if not query.numbers:
            local = self._in_town(members, query.town_code)
            if search:
                return [(index, NUMBER_MISSING, ()) for index in local[:limit]]
            # The middle of the street (by number) stands for it: one guess, flagged.
            return [(local[len(local) // 2], NUMBER_MISSING, ("no_number",))]
        hits = self._by_number[name_id].get(query.numbers[0], ())
        result = [(index, number_agreement(query.numbers, self._numbers[index]), ()) for index in hits]
        if search:
            typed = query.numbers[0]
            started = [
                index
                for index in members
                if self._numbers[index]
                and self._numbers[index][0] != typed
                and self._numbers[index][0].startswith(typed)
            ]
            result += [(index, NUMBER_PREFIX, ()) for index in started[:limit]]
        elif not result and similarity * NUMBER_NEAREST >= MIN_CONFIDENCE:
            nearest = self._nearest(name_id, int(query.numbers[0]), query.town_code)
            if nearest is not None:
                result.append((nearest, NUMBER_NEAREST, ("number_not_found",)))
        return result

    def _nearest(self, name_id: int, wanted: int, town_code: str | None) -> int | None:
        """The address of a name whose first number is nearest ``wanted``, in the town named if it has one."""
        members, firsts = self._members[name_id], self._firsts[name_id]
        town_code = town_code if town_code in self._name_towns[name_id] else None
        # Outwards from where the number would be, the nearer side first.
        left, right = bisect.bisect_left(firsts, wanted) - 1, bisect.bisect_left(firsts, wanted)
        while left >= 0 or right < len(firsts):
            if right >= len(firsts) or (left >= 0 and wanted - firsts[left] <= firsts[right] - wanted):
                at, left = left, left - 1
            else:
                at, right = right, right + 1
            if firsts[at] >= 0 and (town_code is None or self._towns[members[at]] == town_code):
                return members[at]
        return None

    def _elsewhere(self, one: int, other: int) -> bool:
        """Whether two addresses are far enough apart for the difference to matter to the agent."""
        if self._grids[one] != self._grids[other] or self._towns[one] != self._towns[other]:
            return True
        north = (self._lats[one] - self._lats[other]) * METRES_PER_DEGREE
        east = (self._lons[one] - self._lons[other]) * METRES_PER_DEGREE * math.cos(math.radians(self._lats[one]))
        return math.hypot(north, east) >= AMBIGUOUS_METRES

    def _number_key(self, index: int) -> tuple[int, ...]:
        return tuple(int(number) for number in self._numbers[index])

    def _first_number(self, index: int) -> int:
        return int(self._numbers[index][0]) if self._numbers[index] else -1

    def _in_town(self, members: Sequence[int], town_code: str | None) -> Sequence[int]:
        """The members in the town the query names, when it names one that has any; else all."""
        if town_code:
            local = [index for index in members if self._towns[index] == town_code]
            if local:
                return local
        return members

    def _result(self, index: int, confidence: float, reasons: tuple[str, ...]) -> AddressMatch:
        flags = list(reasons)
        if confidence < CONFIRM_BELOW:
            flags.insert(0, "low_confidence")
        grid_code = self._grids[index]
        if grid_code is None or grid_code not in self._cell_geometry:
            flags.append("outside_grid")
        elif boundary_distance_metres(self._cell(grid_code), self._lons[index], self._lats[index]) < (
            NEAR_BOUNDARY_METRES
        ):
            flags.append("near_boundary")
        return AddressMatch(
            address_id=self._ids[index],
            text=self._texts[index],
            lat=self._lats[index],
            lon=self._lons[index],
            grid_code=grid_code,
            town_code=self._towns[index],
            confidence=confidence,
            needs_confirmation=bool(flags),
            reasons=flags,
        )

    def _cell(self, code: str) -> shapely.Geometry:
        cell = self._cell_shapes.get(code)
        if cell is None:
            cell = self._cell_shapes[code] = shape(json.loads(self._cell_geometry[code]))
        return cell


def name_similarity(query: str, known: str) -> float:
    """0..1: how alike a typed name and a known one are, allowing a typo, a missing or an extra part.

    The whole-string ratio (Indel) takes typos; the partial ratio takes a known name inside a longer
    query ("泉河街到青春路": an admin name the normaliser missed) at a small discount, and a query that is
    the start or middle of a known name ("富乐" for 富乐小区) at a larger one, growing with what is missing.
    """
    similarity = fuzz.ratio(query, known) / 100
    if len(known) < len(query):
        similarity = max(similarity, fuzz.partial_ratio(known, query) / 100 * (0.9 + 0.1 * len(known) / len(query)))
    elif len(query) < len(known):
        similarity = max(similarity, fuzz.partial_ratio(query, known) / 100 * (0.75 + 0.25 * len(query) / len(known)))
    return similarity


def number_agreement(query: Sequence[str], known: Sequence[str]) -> float:
    """0..1 for numbers that start alike: 1 when the query has every number of the known address."""
    common = 0
    for typed, number in zip(query, known, strict=False):
        if typed != number:
            break
        common += 1
    if common == 0:
        return 0.0
    return 1.0 if common == len(known) else NUMBER_LESS_SPECIFIC


def boundary_distance_metres(cell: shapely.Geometry, lon: float, lat: float) -> float:
    """Metres from a point to the boundary of a cell (lon/lat), in a local equirectangular projection."""
    scale = (METRES_PER_DEGREE * math.cos(math.radians(lat)), METRES_PER_DEGREE)
    local = shapely.transform(cell.boundary, lambda coords: (coords - (lon, lat)) * scale)
    return float(shapely.distance(local, shapely.Point(0.0, 0.0)))


_gazetteer: ProcessCopy[Gazetteer] = ProcessCopy("gazetteer")


def gazetteer(session: Session) -> Gazetteer:
    """This process's gazetteer, built on first use, after an address import anywhere, and again
    while the address table is empty."""
    return _gazetteer.get(lambda: Gazetteer.load(session), keep_empty=False)


def addresses_changed(session: Session | None = None) -> None:
    """Every process rebuilds its gazetteer (once ``session`` commits, when given)."""
    _gazetteer.announce_change(session)


def reset_gazetteer() -> None:
    """Forget this process's gazetteer (tests)."""
    _gazetteer.forget()
