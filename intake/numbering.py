"""Case numbers: ``YYYYMMDD-NNNNNN``, the local day and an ordinal within it; they sort by time.

PostgreSQL draws from one sequence (no lock held, so concurrent intake never queues on a counter
row) and subtracts the day's base, recorded once per day in ``case_number_days``; the number is
computed inside the INSERT, so numbering costs no round trip. SQLite, which serializes writers
anyway, keeps a per-day counter row. Numbers may have gaps; they never repeat (``cases.number`` is
unique besides).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from intake.models import CaseNumberCounter

SEQUENCE = "case_number_seq"
#: Digits of the ordinal (it grows wider past 999,999 cases a day, and still sorts within a width).
ORDINAL_DIGITS = 6

#: PostgreSQL: day → sequence value just before the day's first case, cached per process.
_day_bases: dict[str, int] = {}


def local_day(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y%m%d")


def format_number(day: str, ordinal: int) -> str:
    return f"{day}-{ordinal:0{ORDINAL_DIGITS}d}"


def sequence_number() -> ColumnElement[str]:
    """``cases.number`` computed in SQL from the sequence: binds ``number_prefix`` and ``number_base``."""
    ordinal = func.nextval(literal(SEQUENCE)) - bindparam("number_base", type_=BigInteger)
    return bindparam("number_prefix", type_=String) + func.lpad(cast(ordinal, String), ORDINAL_DIGITS, "0")


def allocate(conn: Connection, moment: datetime, zone: str) -> dict[str, Any]:
    """Parameters for a new case's number: ``number`` itself, or those of :func:`sequence_number`."""
    day = local_day(moment, zone)
    if conn.dialect.name != "postgresql":
        return {"number": format_number(day, _next_counter_ordinal(conn, day))}
    base = _day_bases.get(day)
    if base is None:
        # First case of the day in this process: settle the day's base (own transaction), then
        # hand out the value just drawn.
        return {"number": format_number(day, _first_postgres_ordinal(conn, day))}
    return {"number_prefix": f"{day}-", "number_base": base}


def _next_counter_ordinal(conn: Connection, day: str) -> int:
    ordinal = conn.scalar(
        update(CaseNumberCounter)
        .where(CaseNumberCounter.day == day)
        .values(value=CaseNumberCounter.value + 1)
        .returning(CaseNumberCounter.value)
    )
    if ordinal is None:
        conn.execute(insert(CaseNumberCounter).values(day=day, value=1))
        ordinal = 1
    return ordinal


def _first_postgres_ordinal(conn: Connection, day: str) -> int:
    while True:
        value = conn.scalar(select(func.nextval(literal(SEQUENCE))))
        assert value is not None
        base = _day_bases.get(day) or _postgres_day_base(conn, day, value - 1)
        if value > base:
            return value - base
        # Drawn just before another process opened the day: draw again.


def _postgres_day_base(conn: Connection, day: str, candidate: int) -> int:
    # Its own committed transaction: a base that a rolled-back intake left behind in one process
    # but not in the database would let two processes number the same day differently.
    with conn.engine.begin() as own:
        own.execute(pg_insert(CaseNumberCounter).values(day=day, value=candidate).on_conflict_do_nothing())
        base = own.scalar(select(CaseNumberCounter.value).where(CaseNumberCounter.day == day))
    assert base is not None
    _day_bases[day] = base
    return base
