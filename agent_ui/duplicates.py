"""Duplicate candidates for a case: the same problem, from any channel, nearby, recent, of a related kind.

Text similarity is the Dice coefficient over character bigrams of the normalized text. Chinese
has no spaces between words, and bigrams of characters capture most two-character words without
a segmenter; the measure also survives typos and word-order changes, which callers' retellings
are full of.

Text is not enough across channels: a camera's incident case reads "【探头巡查】暴露垃圾：…", a city
order is the city's boilerplate and a grid worker's photo report may say four characters. So a
candidate is scored on four signals — the text (Dice, or how much of a short text the other one
contains), the place (within :data:`RADIUS_METRES`, or the same grid cell when a point is missing),
the category (the same subclass, or the same class of the taxonomy) and how recent it is — and a case
at the same place with a related category is proposed however little its text resembles this one.
A case known to lie farther away than the radius is never proposed.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from intake.categories import load as load_categories
from intake.i18n import translate
from intake.models import Case, utcnow
from intake.runtime import get_runtime
from intake.states import CaseStatus

#: How far back, in days, and how far away, in metres, a case may be to be proposed.
WINDOW_DAYS = 30
RADIUS_METRES = 800.0
#: Open cases compared at most per look-up, and candidates returned.
SCAN_LIMIT = 500
MAX_CANDIDATES = 5
#: Below this text score a case is proposed only when it is at the same place with a related category.
MIN_SCORE = 0.25
#: A text this short (in bigrams) is scored by how much of it the other text contains, too.
SHORT_TEXT_BIGRAMS = 12
#: The weights of the ranking score (they add up to 1).
WEIGHTS = {"text": 0.45, "place": 0.3, "category": 0.2, "recency": 0.05}
#: Categories too vague to make two cases "related" by their class.
VAGUE_CATEGORIES = frozenset({"other"})

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


def text_score(a: str, b: str) -> float:
    """Dice, or for a short text (a grid worker's "井盖缺失") how much of it the other text contains.

    Containment counts a little less than Dice (0.8), and only from two bigrams up: one shared word
    is not yet the same problem.
    """
    first, second = bigrams(a), bigrams(b)
    if not first or not second:
        return 0.0
    dice = 2 * len(first & second) / (len(first) + len(second))
    shorter = min(len(first), len(second))
    if shorter < 2 or shorter > SHORT_TEXT_BIGRAMS:
        return dice
    return max(dice, 0.8 * len(first & second) / shorter)


def distance_metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    radius = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(h))


def category_relation(a: str | None, b: str | None) -> str | None:
    """``"same"`` subclass, ``"related"`` (the same class of the taxonomy), or ``None``."""
    if not a or not b:
        return None
    if a == b:
        return "same"
    if a in VAGUE_CATEGORIES or b in VAGUE_CATEGORIES:
        return None
    taxonomy = load_categories()
    first, second = taxonomy.get(a), taxonomy.get(b)
    if first is not None and second is not None and first.class_code == second.class_code:
        return "related"
    return None


@dataclass(frozen=True)
class Candidate:
    number: str
    summary: str
    status: str
    #: The ranking score, 0 to 1 (text, place, category and age together).
    score: float
    distance_m: float | None
    same_category: bool
    #: The text score alone, 0 to 1.
    similarity: float = 0.0
    #: ``"near"`` (within the radius), ``"cell"`` (the same grid cell, a point missing) or ``None``.
    place: str | None = None
    #: ``"same"``, ``"related"`` or ``None``.
    category: str | None = None
    #: The channel of the candidate's first report, and its label in the page language.
    channel: str = ""
    channel_label: str = ""
    #: Why it is proposed, in the page language ("120 m away", "same category", ...).
    reasons: list[str] = field(default_factory=list)


def candidates(number: str, lang: str = "zh") -> list[Candidate]:
    """Open cases of any channel that may be the same problem as case ``number``, best first."""
    now = utcnow()
    since = now - timedelta(days=WINDOW_DAYS)
    with get_runtime().db.transaction() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None:
            return []
        query = select(Case).where(Case.id != case.id, Case.status.in_(TARGET_STATUSES), Case.created_at >= since)
        places = []
        if case.lat is not None and case.lon is not None:
            # A box around the point first (indexable), the exact distance below.
            dlat = RADIUS_METRES / 111_000
            dlon = dlat / max(math.cos(math.radians(case.lat)), 0.01)
            places.append(
                Case.lat.between(case.lat - dlat, case.lat + dlat) & Case.lon.between(case.lon - dlon, case.lon + dlon)
            )
        if case.grid_code:
            places.append(Case.grid_code == case.grid_code)
        if case.category:
            places.append(Case.category == case.category)
        # Cases without a point (a mail, a city order, an SMS) may still say the same thing: by text.
        places.append(Case.lat.is_(None))
        if case.lat is None and not case.grid_code:
            places = []  # nowhere to look around: every recent open case is compared by its text
        if places:
            query = query.where(or_(*places))
        others = session.scalars(query.order_by(Case.id.desc()).limit(SCAN_LIMIT)).all()
        text = case.description or case.summary
        found = [candidate for other in others if (candidate := _candidate(case, other, text, now, lang)) is not None]
    found.sort(key=lambda c: (c.score, c.similarity), reverse=True)
    return found[:MAX_CANDIDATES]


def _candidate(case: Case, other: Case, text: str, now: datetime, lang: str) -> Candidate | None:
    similar = text_score(text, other.description or other.summary)
    distance = None
    if None not in (case.lat, case.lon, other.lat, other.lon):
        distance = distance_metres(case.lat, case.lon, other.lat, other.lon)  # type: ignore[arg-type]
        if distance > RADIUS_METRES:
            return None
    place = None
    if distance is not None:
        place = "near"
    elif case.grid_code and case.grid_code == other.grid_code:
        place = "cell"
    relation = category_relation(case.category, other.category)
    if similar < MIN_SCORE and not (place is not None and relation is not None):
        return None
    closeness = 0.0
    if distance is not None:
        closeness = 1 - distance / RADIUS_METRES
    elif place == "cell":
        closeness = 0.6
    age = max((now - other.created_at).total_seconds(), 0.0)
    recency = max(0.0, 1 - age / timedelta(days=WINDOW_DAYS).total_seconds())
    score = (
        WEIGHTS["text"] * similar
        + WEIGHTS["place"] * closeness
        + WEIGHTS["category"] * {"same": 1.0, "related": 0.6, None: 0.0}[relation]
        + WEIGHTS["recency"] * recency
    )
    return Candidate(
        number=other.number,
        summary=other.summary,
        status=other.status.value,
        score=round(score, 3),
        distance_m=round(distance, 1) if distance is not None else None,
        same_category=relation == "same",
        similarity=round(similar, 3),
        place=place,
        category=relation,
        channel=other.channel,
        channel_label=channel_label(other.channel, lang),
        reasons=_reasons(similar, distance, place, relation, lang),
    )


def _reasons(similar: float, distance: float | None, place: str | None, relation: str | None, lang: str) -> list[str]:
    reasons = []
    if distance is not None:
        reasons.append(translate("console.dup.near", lang, metres=round(distance)))
    elif place == "cell":
        reasons.append(translate("console.dup.cell", lang))
    if relation is not None:
        reasons.append(translate(f"console.dup.category_{relation}", lang))
    if similar >= MIN_SCORE:
        reasons.append(translate("console.dup.text", lang, percent=round(similar * 100)))
    return reasons


def channel_label(channel: str, lang: str) -> str:
    """The channel's name for people ("短信", "Camera alarms"), or its code when none is registered."""
    text = translate(f"stats.channel.{channel}", lang)
    return channel if text == f"stats.channel.{channel}" else text
