"""Ratings and statistics (一库统计): the three rates per unit and overall, and where cases come from.

Beijing rates the units that handle 12345 cases on 响应率, 解决率 and 满意率 (response, resolution and
satisfaction). Here every figure is about a *cohort*: the cases created in a period (local dates in
``server.timezone``, first day 00:00 to the day after the last, i.e. both days included), as they
stand at the moment of the query. Filtering on ``created_at`` alone lets one index range scan
(``ix_cases_created_at``) serve every figure, and a period's figures only ever move towards their
final values as its cases are worked on.

A case's *unit* is the unit that holds it now (``department_code``). Returns (退单) are the exception:
a unit that sends a case back no longer holds it, so returns are read from the cases' history, by
when they were made and against the unit that made them (a unit that only returned cases still
gets its row).

Definitions (counts are of cases unless named "times"):

* received — every case created in the period, invalid and merged ones too (they were received).
* dispatched — cases that have a responsible unit now (dispatched and not returned).
* 响应率 response rate = responded / response_due, where
  response_due = dispatched cases that were signed for (签收) or whose respond clock has run out,
  responded = those signed for no later than ``respond_due_at`` (any time, when no clock was set).
  A case still inside its respond clock and not yet signed for is not counted either way.
* 解决率 resolution rate = resolved / closed, where resolved = closed cases whose reporter rated the
  result satisfied or basically satisfied. A closed case nobody rated counts as not (confirmed)
  resolved: the rating is the only evidence of a resolution we have.
* 满意率 satisfaction rate = (satisfied + basically satisfied) / rated, over every rated case.
* 按期办结率 on-time rate = handled on time / handled, where handled = cases with ``handled_at``, on time
  = ``handled_at <= finish_due_at`` (any time, when no finish clock was set).
* overdue — cases that went past a deadline at some point (``overdue_at`` set).
* returns / returned — return events made in the period (any case's) / the cases they concern;
  per unit, those the unit made (the event's ``department``).
* urges — times the center urged (催办) the cases (sum of ``urge_count``).

A rate whose denominator is zero is ``None`` (shown as "—"), never 0 or 100 %.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, distinct, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from intake.models import Case, CaseEvent
from intake.states import Action, CaseStatus
from routing.models import Area, Department

#: Channels through which the public reports (群众反映) — the district counts its share of these.
PUBLIC_CHANNELS: frozenset[str] = frozenset({"hotline", "sms", "web", "app", "email", "partner"})
#: Channels through which the government finds problems itself (主动发现): cameras, grid workers,
#: leaders' assignments, the city's dispatch orders.
INTERNAL_CHANNELS: frozenset[str] = frozenset({"camera", "grid", "leader", "city"})
#: Every known channel in the order reports show them: public first.
CHANNEL_ORDER: tuple[str, ...] = (
    "hotline",
    "sms",
    "web",
    "app",
    "email",
    "partner",
    "camera",
    "grid",
    "leader",
    "city",
)
#: ``Case.satisfaction`` answers.
SATISFIED = 1
BASICALLY_SATISFIED = 2
NOT_SATISFIED = 3
#: Length of a grid-cell code's town/subdistrict prefix (6 district + 3 town digits).
TOWN_CODE_CHARS = 9


@dataclass(frozen=True)
class Period:
    """Local calendar days ``first`` to ``last``, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the period ends ({self.last}) before it begins ({self.first})")

    def utc_bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC: 00:00 local of the first day to 00:00 local of the day after the last."""
        start = datetime.combine(self.first, time(), zone)
        end = datetime.combine(self.last + timedelta(days=1), time(), zone)
        return start.astimezone(UTC), end.astimezone(UTC)


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Figures:
    """The counts behind the rates, for one unit or for everything; see the module's definitions."""

    received: int = 0
    dispatched: int = 0
    response_due: int = 0
    responded: int = 0
    closed: int = 0
    resolved: int = 0
    rated: int = 0
    satisfied: int = 0
    basically_satisfied: int = 0
    not_satisfied: int = 0
    handled: int = 0
    handled_on_time: int = 0
    overdue: int = 0
    returns: int = 0
    returned: int = 0
    urges: int = 0

    @property
    def response_rate(self) -> float | None:
        return _rate(self.responded, self.response_due)

    @property
    def resolution_rate(self) -> float | None:
        return _rate(self.resolved, self.closed)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.satisfied + self.basically_satisfied, self.rated)

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.handled_on_time, self.handled)

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


#: The figures counted over the period's cases (the others come from the history).
COHORT_FIGURES: tuple[str, ...] = tuple(f.name for f in fields(Figures) if f.name not in ("returns", "returned"))

#: The rates a unit table can be sorted by.
RATES: tuple[str, ...] = ("response_rate", "resolution_rate", "satisfaction_rate", "on_time_rate")


@dataclass(frozen=True)
class Statistics:
    """Everything the statistics page shows for one period."""

    period: Period
    overall: Figures
    #: Unit code → its figures, for every unit that holds a case of the period or returned one.
    units: dict[str, Figures]
    #: Cases by channel, by category code (``None``: not categorised) and by town code (``None``: no cell).
    by_channel: dict[str, int]
    by_category: dict[str | None, int]
    by_town: dict[str | None, int]

    @property
    def from_public(self) -> int:
        return sum(count for channel, count in self.by_channel.items() if channel in PUBLIC_CHANNELS)

    @property
    def public_share(self) -> float | None:
        return _rate(self.from_public, self.overall.received)


def _figure_columns(now: datetime) -> list[ColumnElement[int]]:
    """One aggregate per figure of :data:`COHORT_FIGURES`: ``COUNT(column)`` where "has a value" is the condition,
    ``COUNT(*) FILTER (WHERE ...)`` otherwise.

    On a year of a busy district these expressions, evaluated for every row, cost as much as reading
    the rows, hence the cheapest form of each: ``COUNT(column)`` needs no filter, and
    ``a <= COALESCE(deadline, a)`` is "by the deadline, or at all when there was none" in one
    comparison that is false when ``a`` is NULL.
    """
    c = Case
    count = func.count
    has_unit = c.department_code.is_not(None)
    closed = c.status == CaseStatus.CLOSED
    return [
        count().label("received"),
        count(c.department_code).label("dispatched"),
        count().filter(has_unit, or_(c.accepted_at.is_not(None), c.respond_due_at < now)).label("response_due"),
        count().filter(has_unit, c.accepted_at <= func.coalesce(c.respond_due_at, c.accepted_at)).label("responded"),
        count().filter(closed).label("closed"),
        count().filter(closed, c.satisfaction.in_((SATISFIED, BASICALLY_SATISFIED))).label("resolved"),
        count(c.satisfaction).label("rated"),
        count().filter(c.satisfaction == SATISFIED).label("satisfied"),
        count().filter(c.satisfaction == BASICALLY_SATISFIED).label("basically_satisfied"),
        count().filter(c.satisfaction == NOT_SATISFIED).label("not_satisfied"),
        count(c.handled_at).label("handled"),
        count().filter(c.handled_at <= func.coalesce(c.finish_due_at, c.handled_at)).label("handled_on_time"),
        count(c.overdue_at).label("overdue"),
        func.coalesce(func.sum(c.urge_count), 0).label("urges"),
    ]


def compute(session: Session, period: Period, zone: ZoneInfo, now: datetime) -> Statistics:
    """The period's statistics in two aggregate queries over the cases created in it.

    One groups by unit with every figure as a conditional aggregate (the overall figures are the
    sum of the groups, the "no unit" group included); the other counts by channel × category ×
    town, which is small (tens × tens × tens) and is folded into the three breakdowns here.
    """
    start, end = period.utc_bounds(zone)
    in_period = (Case.created_at >= start, Case.created_at < end)
    if session.get_bind().dialect.name == "postgresql":
        # psycopg prepares a statement run five times, and PostgreSQL may then keep one generic plan
        # for every period: a month's index scan, run over a year, doubles the year's time. The best
        # plan depends on how much of the table the period covers, so plan each time.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    overall = Figures()
    units: dict[str, Figures] = {}
    for row in session.execute(
        select(Case.department_code, *_figure_columns(now)).where(*in_period).group_by(Case.department_code)
    ):
        figures = Figures(**{name: int(row._mapping[name]) for name in COHORT_FIGURES})
        overall += figures
        if row.department_code is not None:
            units[row.department_code] = figures
    overall, units = _with_returns(session, overall, units, start, end)
    # Literal arguments: bound ones would make the GROUP BY expression differ from the selected one.
    town = func.substr(Case.grid_code, literal_column("1"), literal_column(str(TOWN_CODE_CHARS))).label("town")
    by_channel: Counter[str] = Counter()
    by_category: Counter[str | None] = Counter()
    by_town: Counter[str | None] = Counter()
    for channel, category, town_code, count in session.execute(
        select(Case.channel, Case.category, town, func.count())
        .where(*in_period)
        .group_by(Case.channel, Case.category, town)
    ):
        by_channel[channel] += count
        by_category[category] += count
        by_town[town_code] += count
    return Statistics(
        period=period,
        overall=overall,
        units=units,
        by_channel=dict(by_channel),
        by_category=dict(by_category),
        by_town=dict(by_town),
    )


def _with_returns(
    session: Session, overall: Figures, units: dict[str, Figures], start: datetime, end: datetime
) -> tuple[Figures, dict[str, Figures]]:
    """``overall`` and ``units`` with the returns made from ``start`` to ``end``, from the history.

    A partial index holds just the return events, by time, so neither query reads another event
    or any case.
    """
    in_period = (CaseEvent.kind == Action.RETURN.value, CaseEvent.at >= start, CaseEvent.at < end)
    counts = (func.count(), func.count(distinct(CaseEvent.case_id)))
    times, cases = session.execute(select(*counts).where(*in_period)).one()
    returning_unit = CaseEvent.detail["department"].as_string()
    made = {
        code: (unit_times, unit_cases)
        for code, unit_times, unit_cases in session.execute(
            select(returning_unit, *counts).where(*in_period).group_by(returning_unit)
        )
        if code is not None
    }
    units = {
        code: replace(units.get(code, Figures()), returns=unit_times, returned=unit_cases)
        for code in units.keys() | made.keys()
        for unit_times, unit_cases in [made.get(code, (0, 0))]
    }
    return replace(overall, returns=times, returned=cases), units


def unit_names(session: Session, lang: str) -> dict[str, str]:
    """Unit code → its name in ``lang`` (Chinese when there is no English name)."""
    rows = session.execute(select(Department.code, Department.name_zh, Department.name_en)).all()
    return {code: (en if lang == "en" and en else zh) for code, zh, en in rows}


def town_names(session: Session, lang: str) -> dict[str, str]:
    """Town/subdistrict code → its name in ``lang``."""
    rows = session.execute(select(Area.code, Area.name_zh, Area.name_en).where(Area.level == "town")).all()
    return {code: (en if lang == "en" and en else zh) for code, zh, en in rows}
