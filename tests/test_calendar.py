"""Working-day arithmetic: weekends, holidays, make-up working days (调休), the National Day week, time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from intake.config import load_config
from intake.errors import ConfigError
from routing.calendar import WORKDAY_START, WorkCalendar, calendar_for
from routing.settings import CalendarSettings, Duration

BEIJING = ZoneInfo("Asia/Shanghai")

#: The 2026 schedule as the State Council published it (as in config.yaml): 中秋 on Friday 25 September,
#: 国庆 1–7 October with Sunday 20 September and Saturday 10 October worked instead, 劳动节 1–5 May.
CALENDAR_2026 = CalendarSettings(
    weekend=[6, 7],
    holidays=[
        date(2026, 5, 1),
        date(2026, 5, 4),
        date(2026, 5, 5),
        date(2026, 9, 25),
        date(2026, 10, 1),
        date(2026, 10, 2),
        date(2026, 10, 5),
        date(2026, 10, 6),
        date(2026, 10, 7),
    ],
    workdays=[date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)],
)


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar(CALENDAR_2026, "Asia/Shanghai")


def local(*parts: int) -> datetime:
    """A Beijing wall-clock time as an aware UTC datetime, the way the database holds times."""
    return datetime(*parts, tzinfo=BEIJING).astimezone(UTC)


def wd(amount: float) -> Duration:
    return Duration(amount=amount, unit="wd")


def test_weekdays_work_weekends_rest_and_config_decides_the_exceptions(calendar: WorkCalendar) -> None:
    assert calendar.is_working_day(date(2026, 6, 3))  # an ordinary Wednesday
    assert not calendar.is_working_day(date(2026, 6, 6))  # Saturday
    assert not calendar.is_working_day(date(2026, 6, 7))  # Sunday
    assert not calendar.is_working_day(date(2026, 10, 1))  # a holiday on a Thursday
    assert calendar.is_working_day(date(2026, 10, 10))  # Saturday, worked instead (调休)
    assert calendar.is_working_day(date(2026, 9, 20))  # Sunday, worked instead
    # Without the configured lists the same days follow the plain week.
    plain = WorkCalendar(CalendarSettings(), "Asia/Shanghai")
    assert plain.is_working_day(date(2026, 10, 1)) and not plain.is_working_day(date(2026, 10, 10))


def test_working_days_skip_the_weekend_and_keep_the_time_of_day(calendar: WorkCalendar) -> None:
    friday = local(2026, 6, 5, 16, 30)
    assert calendar.add(friday, wd(1)) == local(2026, 6, 8, 16, 30)  # Monday, same time
    assert calendar.add(friday, wd(5)) == local(2026, 6, 12, 16, 30)
    assert calendar.add(local(2026, 6, 3, 10, 0), wd(2)) == local(2026, 6, 5, 10, 0)


def test_holidays_are_skipped_and_make_up_days_counted(calendar: WorkCalendar) -> None:
    # Thursday 30 April, then 劳动节 1–5 May: the next working day is Wednesday 6 May.
    assert calendar.add(local(2026, 4, 30, 11, 0), wd(1)) == local(2026, 5, 6, 11, 0)
    # Friday 8 May + 1: Saturday 9 May is a make-up working day.
    assert calendar.add(local(2026, 5, 8, 11, 0), wd(1)) == local(2026, 5, 9, 11, 0)
    # Thursday 24 September + 1 skips 中秋 (Friday) and the weekend.
    assert calendar.add(local(2026, 9, 24, 11, 0), wd(1)) == local(2026, 9, 28, 11, 0)


def test_five_working_days_across_national_day(calendar: WorkCalendar) -> None:
    start = local(2026, 9, 30, 15, 0)  # the eve of 国庆
    assert calendar.add(start, wd(1)) == local(2026, 10, 8, 15, 0)
    # 8 Thu, 9 Fri, 10 Sat (worked), 12 Mon, 13 Tue.
    assert calendar.add(start, wd(5)) == local(2026, 10, 13, 15, 0)
    assert calendar.working_days_between(start, local(2026, 10, 13, 15, 0)) == 5


def test_a_clock_started_on_a_holiday_starts_at_nine_on_the_next_working_day(calendar: WorkCalendar) -> None:
    assert WORKDAY_START.hour == 9
    holiday_night = local(2026, 10, 3, 22, 45)  # Saturday in the middle of 国庆
    assert calendar.add(holiday_night, wd(1)) == local(2026, 10, 9, 9, 0)  # counted from Thu 8 Oct 09:00
    assert calendar.add(holiday_night, wd(0)) == local(2026, 10, 8, 9, 0)
    sunday = local(2026, 6, 7, 7, 0)
    assert calendar.add(sunday, wd(2)) == local(2026, 6, 10, 9, 0)


def test_minutes_hours_and_days_are_real_time_even_on_holidays(calendar: WorkCalendar) -> None:
    start = local(2026, 10, 1, 10, 0)
    assert calendar.add(start, Duration.parse("30m")) == start + timedelta(minutes=30)
    assert calendar.add(start, Duration.parse("24h")) == local(2026, 10, 2, 10, 0)
    assert calendar.add(start, Duration.parse("2d")) == local(2026, 10, 3, 10, 0)


def test_fractions_of_a_working_day_count_hours_of_working_days_only(calendar: WorkCalendar) -> None:
    assert calendar.add(local(2026, 6, 3, 10, 0), wd(0.5)) == local(2026, 6, 3, 22, 0)
    # Friday 20:00 + 12 h: 4 h of Friday, then Monday from midnight.
    assert calendar.add(local(2026, 6, 5, 20, 0), wd(0.5)) == local(2026, 6, 8, 8, 0)
    assert calendar.add(local(2026, 6, 5, 20, 0), wd(1.5)) == local(2026, 6, 9, 8, 0)


def test_days_follow_beijing_time_not_utc(calendar: WorkCalendar) -> None:
    # 16:30 UTC on Wednesday 7 October (a holiday in UTC's date) is 00:30 on Thursday 8 October in
    # Beijing, a working day: the clock starts at once, not at 09:00.
    start = datetime(2026, 10, 7, 16, 30, tzinfo=UTC)
    assert calendar.add(start, wd(1)) == local(2026, 10, 9, 0, 30)
    # 17:30 UTC on Friday 9 October is 01:30 on the make-up Saturday in Beijing.
    late = datetime(2026, 10, 9, 17, 30, tzinfo=UTC)
    assert calendar.add(late, wd(1)) == local(2026, 10, 12, 1, 30)
    # The same instants in a UTC calendar give other answers.
    in_utc = WorkCalendar(CALENDAR_2026, "UTC")
    assert in_utc.add(start, wd(1)) == datetime(2026, 10, 9, 9, 0, tzinfo=UTC)
    assert calendar.add(start, wd(1)).tzinfo is UTC


def test_working_days_between(calendar: WorkCalendar) -> None:
    assert calendar.working_days_between(date(2026, 6, 5), date(2026, 6, 8)) == 1  # Friday → Monday
    assert calendar.working_days_between(date(2026, 6, 8), date(2026, 6, 8)) == 0
    assert calendar.working_days_between(date(2026, 9, 30), date(2026, 10, 9)) == 2
    assert calendar.working_days_between(date(2026, 10, 9), date(2026, 10, 12)) == 2  # the make-up Saturday
    assert calendar.working_days_between(date(2026, 10, 12), date(2026, 10, 9)) == -2
    # Datetimes count by their Beijing date: 23:30 UTC on 7 October is already 8 October there.
    assert calendar.working_days_between(date(2026, 10, 7), datetime(2026, 10, 7, 23, 30, tzinfo=UTC)) == 1


def test_naive_times_and_contradictory_lists_are_refused(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        calendar.add(datetime(2026, 6, 5, 10, 0), wd(1))
    with pytest.raises(ConfigError, match="2026-10-10"):
        WorkCalendar(CalendarSettings(holidays=[date(2026, 10, 10)], workdays=[date(2026, 10, 10)]), "UTC")
    with pytest.raises(ConfigError, match="no working day"):
        WorkCalendar(CalendarSettings(weekend=[1, 2, 3, 4, 5, 6, 7]), "UTC").add(local(2026, 6, 5, 10, 0), wd(1))


def test_the_calendar_comes_from_the_configuration() -> None:
    config = load_config(
        server={"timezone": "Asia/Shanghai"},
        routing={"calendar": {"weekend": [7], "holidays": ["2031-03-04"], "workdays": ["2031-03-09"]}},
    )
    calendar = calendar_for(config)
    assert calendar_for(config) is calendar
    assert calendar.is_working_day(date(2031, 3, 8))  # a Saturday, but only Sunday is weekend here
    assert not calendar.is_working_day(date(2031, 3, 4))
    assert calendar.is_working_day(date(2031, 3, 9))  # a Sunday made a working day
    assert calendar.zone == BEIJING
