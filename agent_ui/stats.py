"""The statistics page (一库统计) for supervisors, leaders and admins, and its CSV export.

``GET /console/stats?from=YYYY-MM-DD&to=YYYY-MM-DD&sort=<rate>`` shows the overall figures, the
units ranked by a rate, and bar charts (inline SVG, drawn on the server) of cases by source,
category and town. ``GET /console/stats.csv?from=..&to=..&view=units|sources|categories|areas``
gives the same tables as CSV in UTF-8 with a byte-order mark, which Excel needs to read Chinese.
The figures and their definitions are :mod:`routing.stats`'.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request

from agent_ui.auth import current_user, login_required
from agent_ui.duplicates import channel_label
from intake.auth import Role
from intake.categories import load as load_categories
from intake.models import utcnow
from intake.web import lang, runtime, t
from routing.stats import (
    CHANNEL_ORDER,
    PUBLIC_CHANNELS,
    RATES,
    Figures,
    Period,
    Statistics,
    compute,
    town_names,
    unit_names,
)

bp = Blueprint("stats", __name__, template_folder="templates")

#: Who may see the statistics: the duty supervisors, the district's leaders, admins.
STATS_ROLES = (Role.SUPERVISOR, Role.LEADER, Role.ADMIN)
#: What the unit table can be sorted by (descending): a rate, or the number of cases dispatched.
SORT_KEYS: tuple[str, ...] = (*RATES, "dispatched")
DEFAULT_SORT = "response_rate"
#: The tables the CSV export offers.
VIEWS: tuple[str, ...] = ("units", "sources", "categories", "areas")
#: Byte-order mark: without it Excel reads a UTF-8 CSV as the local ANSI code page and garbles Chinese.
BOM = "\ufeff"
#: Leading characters that make a spreadsheet read a cell as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@")

#: The unit table's count columns after the rates: (i18n key, :class:`Figures` field).
UNIT_COUNT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("stats.col.closed", "closed"),
    ("stats.col.overdue", "overdue"),
    ("stats.col.returns", "returns"),
    ("stats.col.returned", "returned"),
    ("stats.col.urges", "urges"),
    ("stats.col.satisfied", "satisfied"),
    ("stats.col.basically_satisfied", "basically_satisfied"),
    ("stats.col.not_satisfied", "not_satisfied"),
)


class BadRequest(ValueError):
    pass


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    figures: Figures


@dataclass(frozen=True)
class Bar:
    """One bar of a chart and one row of its CSV: a source, category or town and its cases."""

    code: str
    label: str
    count: int
    share: float
    #: ``public`` or ``internal`` for sources; empty otherwise.
    kind: str = ""


def percent(value: float | None) -> str:
    """A rate for people: ``95.2%``, or ``—`` when there was nothing to rate."""
    return "—" if value is None else f"{value * 100:.1f}%"


def _csv_percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _zone() -> ZoneInfo:
    return ZoneInfo(runtime().config.server.timezone)


def _today(zone: ZoneInfo) -> date:
    return utcnow().astimezone(zone).date()


def _parse_date(name: str, default: date) -> date:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(t("stats.bad_date", name=name, value=text)) from None


def _period(zone: ZoneInfo) -> Period:
    """``from``/``to`` of the request; by default this month up to today."""
    today = _today(zone)
    first = _parse_date("from", today.replace(day=1))
    last = _parse_date("to", today)
    try:
        period = Period(first, last)
    except ValueError:
        raise BadRequest(t("stats.bad_period")) from None
    try:
        period.utc_bounds(zone)
    except OverflowError:  # 9999-12-31 has no next day
        raise BadRequest(t("stats.bad_date", name="to", value=last.isoformat())) from None
    return period


def quick_periods(today: date) -> list[tuple[str, Period]]:
    """The period picker's shortcuts: this month, last month, this year, the last 30 days."""
    month_start = today.replace(day=1)
    last_month_end = month_start - timedelta(days=1)
    return [
        ("stats.period.this_month", Period(month_start, today)),
        ("stats.period.last_month", Period(last_month_end.replace(day=1), last_month_end)),
        ("stats.period.this_year", Period(today.replace(month=1, day=1), today)),
        ("stats.period.last_30_days", Period(today - timedelta(days=29), today)),
    ]


def unit_rows(stats: Statistics, names: dict[str, str], sort: str) -> list[UnitRow]:
    """Units by ``sort`` (highest first; units with nothing to rate last), then by cases dispatched."""

    def key(row: UnitRow) -> tuple[bool, float, int, str]:
        value = getattr(row.figures, sort)
        return (value is None, -(value or 0), -row.figures.dispatched, row.code)

    rows = [UnitRow(code, names.get(code, code), figures) for code, figures in stats.units.items()]
    return sorted(rows, key=key)


def _bars(counts: dict[str | None, int], labels: dict[str, str], total: int, none_label: str) -> list[Bar]:
    bars = [
        Bar(code or "", labels.get(code, code) if code else none_label, count, count / total if total else 0.0)
        for code, count in counts.items()
    ]
    return sorted(bars, key=lambda bar: (-bar.count, bar.code))


def source_bars(stats: Statistics) -> list[Bar]:
    """Channels in :data:`CHANNEL_ORDER` (the public's first), unknown ones after them."""
    total = stats.overall.received
    order = {channel: index for index, channel in enumerate(CHANNEL_ORDER)}
    channels = sorted(stats.by_channel, key=lambda channel: (order.get(channel, len(order)), channel))
    return [
        Bar(
            channel,
            channel_label(channel, lang()),
            stats.by_channel[channel],
            stats.by_channel[channel] / total if total else 0.0,
            # A channel not known to come from the public counts as the government's own, as in the share.
            "public" if channel in PUBLIC_CHANNELS else "internal",
        )
        for channel in channels
    ]


def category_bars(stats: Statistics) -> list[Bar]:
    labels = {code: category.name(lang()) for code, category in load_categories().items()}
    return _bars(stats.by_category, labels, stats.overall.received, t("stats.uncategorised"))


def area_bars(stats: Statistics, towns: dict[str, str]) -> list[Bar]:
    return _bars(stats.by_town, towns, stats.overall.received, t("stats.no_area"))


@dataclass(frozen=True)
class Report:
    """One request's statistics with everything needed to show or export them."""

    stats: Statistics
    units: list[UnitRow]
    sources: list[Bar]
    categories: list[Bar]
    areas: list[Bar]


def _report(sort: str) -> Report:
    zone = _zone()
    period = _period(zone)
    with runtime().db.transaction() as session:
        stats = compute(session, period, zone, utcnow())
        units = unit_names(session, lang())
        towns = town_names(session, lang())
    return Report(
        stats, unit_rows(stats, units, sort), source_bars(stats), category_bars(stats), area_bars(stats, towns)
    )


def _bad_request(err: BadRequest) -> tuple[str, int]:
    return render_template("console/message.html", message=str(err)), 400


@bp.get("/console/stats")
@login_required(*STATS_ROLES)
def page() -> str | tuple[str, int]:
    sort = request.args.get("sort", DEFAULT_SORT)
    if sort not in SORT_KEYS:
        sort = DEFAULT_SORT
    try:
        report = _report(sort)
    except BadRequest as err:
        return _bad_request(err)
    return render_template(
        "console/stats.html",
        user=current_user(),
        report=report,
        period=report.stats.period,
        sort=sort,
        sort_keys=SORT_KEYS,
        quick=quick_periods(_today(_zone())),
        percent=percent,
    )


@bp.get("/console/stats.csv")
@login_required(*STATS_ROLES)
def csv_export() -> Response | tuple[str, int]:
    view = request.args.get("view", "units")
    if view not in VIEWS:
        return _bad_request(BadRequest(t("stats.bad_view", views=", ".join(VIEWS))))
    sort = request.args.get("sort", DEFAULT_SORT)
    try:
        report = _report(sort if sort in SORT_KEYS else DEFAULT_SORT)
    except BadRequest as err:
        return _bad_request(err)
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    for row in csv_rows(report, view):
        writer.writerow([_cell(value) for value in row])
    period = report.stats.period
    filename = f"gridline-{view}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    response = Response(out.getvalue(), mimetype="text/csv", content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _cell(value: str | int) -> str | int:
    """Names come from editable tables: never let one run as a formula in the reader's spreadsheet."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_rows(report: Report, view: str) -> list[list[str | int]]:
    """The header and rows of one view; rates as percentages with one decimal, empty when undefined."""
    if view == "units":
        header: list[str | int] = [t("stats.col.code"), t("stats.col.unit"), t("stats.col.dispatched")]
        header += [t(f"stats.rate.{rate}") + " (%)" for rate in RATES]
        header += [t(key) for key, _ in UNIT_COUNT_COLUMNS]

        def unit_line(code: str, name: str, figures: Figures) -> list[str | int]:
            line: list[str | int] = [code, name, figures.dispatched]
            line += [_csv_percent(getattr(figures, rate)) for rate in RATES]
            return line + [getattr(figures, field) for _, field in UNIT_COUNT_COLUMNS]

        rows = [unit_line(row.code, row.name, row.figures) for row in report.units]
        return [header, *rows, unit_line("", t("stats.overall"), report.stats.overall)]
    bars = {"sources": report.sources, "categories": report.categories, "areas": report.areas}[view]
    header = [t("stats.col.code"), t(f"stats.col.{view}"), t("stats.col.cases"), t("stats.col.share") + " (%)"]
    if view == "sources":
        header.append(t("stats.col.kind"))
    lines: list[list[str | int]] = [header]
    for bar in bars:
        line: list[str | int] = [bar.code, bar.label, bar.count, f"{bar.share * 100:.1f}"]
        if view == "sources":
            line.append(t(f"stats.kind.{bar.kind}"))
        lines.append(line)
    return lines
