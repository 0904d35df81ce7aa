"""Working days (工作日) in the server's time zone, with holidays and make-up days (调休) from config.

A deadline in ``m``/``h``/``d`` is real time. A deadline in working days (``wd``) ends N working days
later at the same local time of day; a clock started on a non-working day starts at
:data:`WORKDAY_START` on the next working day. A fraction of a working day (``0.5wd``) counts that
share of 24 hours, skipping non-working days whole.

Hand-written rather than ``workalendar``/``holidays``: what those libraries bring is their own holiday
tables, which we must not use (the State Council publishes each year's 调休 late, and the center keeps
it in ``routing.calendar``), and their working-day arithmetic works on dates, not on times of day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from intake.config import Config
from intake.errors import ConfigError
from routing.settings import CalendarSettings, Duration, routing_settings

#: Local time at which a clock started on a non-working day begins (the offices open).
WORKDAY_START = time(9, 0)
#: Days :meth:`WorkCalendar.next_working_day` looks ahead before it gives up on the calendar, in days.
MAX_SEARCH_DAYS = 3660


class WorkCalendar:
    """Which local dates are working days, and deadline arithmetic over them."""

    def __init__(self, settings: CalendarSettings, timezone: str | ZoneInfo) -> None:
        clash = sorted(set(settings.holidays) & set(settings.workdays))
        if clash:
            raise ConfigError(
                "invalid configuration:\n  routing.calendar: "
                + ", ".join(day.isoformat() for day in clash)
                + " listed both as holiday and as working day"
            )
        self.zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        self._weekend = frozenset(settings.weekend)
        self._holidays = frozenset(settings.holidays)
        self._workdays = frozenset(settings.workdays)

    def is_working_day(self, day: date) -> bool:
        if day in self._workdays:
            return True
        return day not in self._holidays and day.isoweekday() not in self._weekend

    def next_working_day(self, day: date) -> date:
        """The first working day after ``day``."""
        for offset in range(1, MAX_SEARCH_DAYS + 1):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise ConfigError(f"routing.calendar: no working day within {MAX_SEARCH_DAYS} days after {day}")

    def local_date(self, moment: datetime) -> date:
        return _require_aware(moment).astimezone(self.zone).date()

    def add(self, start: datetime, duration: Duration) -> datetime:
        """When a clock of ``duration`` started at ``start`` runs out (UTC)."""
        _require_aware(start)
        if duration.amount < 0:
            raise ValueError(f"negative duration {duration}")
        if not duration.working_days:
            return (start + duration.as_timedelta()).astimezone(UTC)
        # Wall-clock arithmetic in local time: "the same time of day" is a local notion.
        local = start.astimezone(self.zone).replace(tzinfo=None)
        if not self.is_working_day(local.date()):
            local = datetime.combine(self.next_working_day(local.date()), WORKDAY_START)
        whole = int(duration.amount)
        day = local.date()
        for _ in range(whole):
            day = self.next_working_day(day)
        local = datetime.combine(day, local.time())
        remaining = timedelta(days=duration.amount - whole)
        while True:
            midnight = datetime.combine(local.date() + timedelta(days=1), time())
            if self.is_working_day(local.date()):
                # Strictly before midnight: a clock that fills a day to its end runs out at the start of
                # the next working day, the same time of day as it began.
                if local + remaining < midnight:
                    return (local + remaining).replace(tzinfo=self.zone).astimezone(UTC)
                remaining -= midnight - local
            local = midnight

    def working_days_between(self, a: date | datetime, b: date | datetime) -> int:
        """Working days after ``a``'s local date up to and including ``b``'s; negative if ``b`` is earlier.

        Friday to the next Monday is 1; the same day is 0.
        """
        start = self.local_date(a) if isinstance(a, datetime) else a
        end = self.local_date(b) if isinstance(b, datetime) else b
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        days = (start + timedelta(days=offset) for offset in range(1, (end - start).days + 1))
        count = sum(1 for day in days if self.is_working_day(day))
        return sign * count


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; use an aware one (datetime.now(UTC))")
    return moment


_cache: dict[int, tuple[Config, WorkCalendar]] = {}


def calendar_for(config: Config) -> WorkCalendar:
    """The working-day calendar of ``config`` (``routing.calendar`` in ``server.timezone``), cached."""
    cached = _cache.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    calendar = WorkCalendar(routing_settings(config).calendar, config.server.timezone)
    _cache[id(config)] = (config, calendar)
    return calendar
