"""Case numbers: ``YYYYMMDD-NNNNNN``, the local day and an ordinal within it; they sort by time.

PostgreSQL draws from one sequence (no lock held, so concurrent intake never queues on a counter
row) and subtracts the day's base, recorded once per day in ``case_number_days``. SQLite, which
serializes writers anyway, keeps a per-day counter row. Numbers may have gaps; they never repeat
(``cases.number`` is unique besides).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from intake.models import CaseNumberCounter

SEQUENCE = "case_number_seq"

#: PostgreSQL: day → sequence value just before the day's first case, cached per process.
_day_bases: dict[str, int] = {}


def local_day(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y%m%d")


def format_number(day: str, ordinal: int) -> str:
    return f"{day}-{ordinal:06d}"


def next_case_number(session: Session, moment: datetime, zone: str) -> str:
    day = local_day(moment, zone)
    if session.get_bind().dialect.name == "postgresql":
        return format_number(day, _next_postgres_ordinal(session, day))
    return format_number(day, _next_counter_ordinal(session, day))


def _next_counter_ordinal(session: Session, day: str) -> int:
    ordinal = session.scalar(
        update(CaseNumberCounter)
        .where(CaseNumberCounter.day == day)
        .values(value=CaseNumberCounter.value + 1)
        .returning(CaseNumberCounter.value)
    )
    if ordinal is None:
        session.add(CaseNumberCounter(day=day, value=1))
        session.flush()
        ordinal = 1
    return ordinal


def _next_postgres_ordinal(session: Session, day: str) -> int:
    while True:
        value = session.scalar(text(f"SELECT nextval('{SEQUENCE}')"))
        base = _day_bases.get(day) or _postgres_day_base(session, day, value - 1)
        if value > base:
            return value - base
        # Drawn just before another process opened the day: draw again.


def _postgres_day_base(session: Session, day: str, candidate: int) -> int:
    # Its own committed transaction: a base that a rolled-back intake left behind in one process
    # but not in the database would let two processes number the same day differently.
    with session.get_bind().engine.begin() as conn:
        conn.execute(pg_insert(CaseNumberCounter).values(day=day, value=candidate).on_conflict_do_nothing())
        base = conn.scalar(select(CaseNumberCounter.value).where(CaseNumberCounter.day == day))
    assert base is not None
    _day_bases[day] = base
    return base
