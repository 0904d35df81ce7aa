"""Duplicate candidates for a case: same kind of problem, nearby, recent, and saying the same thing.

Text similarity is the Dice coefficient over character bigrams of the normalized text. Chinese
has no spaces between words, and bigrams of characters capture most two-character words without
a segmenter; the measure also survives typos and word-order changes, which callers' retellings
are full of.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from intake.models import Case, utcnow
from intake.runtime import get_runtime
from intake.states import CaseStatus

#: How far back, in days, and how far away, in metres, a case may be to be proposed.
WINDOW_DAYS = 30
RADIUS_METRES = 800.0
#: Open cases compared at most per look-up, and candidates returned.
SCAN_LIMIT = 500
MAX_CANDIDATES = 5
#: Below this similarity a case is proposed only when it is close and of the same category.
MIN_SCORE = 0.25

#: Statuses of cases one can merge into (still being worked on).
TARGET_STATUSES = (
    CaseStatus.VERIFYING,
    CaseStatus.DISPATCHED,
    CaseStatus.ACCEPTED,
    CaseStatus.HANDLED,
)
_NOISE = re.compile(r"[\W_]+", re.UNICODE)


def bigrams(text: str) -> set[str]:
    normalized = _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())
    if len(normalized) < 2:
        return {normalized} if normalized else set()
    return {normalized[i : i + 2] for i in range(len(normalized) - 1)}


def similarity(a: str, b: str) -> float:
    """Dice coefficient of the two texts' character bigrams, 0 to 1."""
    first, second = bigrams(a), bigrams(b)
    if not first or not second:
        return 0.0
    return 2 * len(first & second) / (len(first) + len(second))


def distance_metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    radius = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class Candidate:
    number: str
    summary: str
    status: str
    score: float
    distance_m: float | None
    same_category: bool


def candidates(number: str) -> list[Candidate]:
    """Open cases that may be the same problem as case ``number``, best first."""
    since = utcnow() - timedelta(days=WINDOW_DAYS)
    with get_runtime().db.transaction() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None:
            return []
        query = select(Case).where(Case.id != case.id, Case.status.in_(TARGET_STATUSES), Case.created_at >= since)
        if case.lat is not None and case.lon is not None:
            # A box around the point first (indexable), the exact distance below.
            dlat = RADIUS_METRES / 111_000
            dlon = dlat / max(math.cos(math.radians(case.lat)), 0.01)
            query = query.where(
                Case.lat.between(case.lat - dlat, case.lat + dlat), Case.lon.between(case.lon - dlon, case.lon + dlon)
            )
        elif case.category:
            query = query.where(Case.category == case.category)
        others = session.scalars(query.order_by(Case.id.desc()).limit(SCAN_LIMIT)).all()
        found = []
        for other in others:
            score = similarity(case.description or case.summary, other.description or other.summary)
            same_category = bool(case.category and case.category == other.category)
            distance = None
            if None not in (case.lat, case.lon, other.lat, other.lon):
                distance = distance_metres(case.lat, case.lon, other.lat, other.lon)  # type: ignore[arg-type]
                if distance > RADIUS_METRES:
                    continue
            if score < MIN_SCORE and not (same_category and distance is not None):
                continue
            found.append(
                Candidate(other.number, other.summary, other.status.value, round(score, 3), distance, same_category)
            )
    found.sort(key=lambda c: c.score + (0.2 if c.same_category else 0), reverse=True)
    return found[:MAX_CANDIDATES]
