"""The wallboard's queries are served by their partial indexes (a million closed cases cost nothing:
bench/queue_page_bench.py). PostgreSQL's planner is asked with sequential scans priced out, so it takes
any index it can: the partial one only when the query implies the index's predicate."""

from __future__ import annotations

import pytest
from sqlalchemy import Select, func, select

from agent_ui.wallboard import ATTENTION_ROWS, attention_conditions, overdue_condition
from intake.models import Case, utcnow
from intake.runtime import Runtime

EXPECTED = {
    "extension": "ix_cases_extension",
    "escalated": "ix_cases_escalated_open",
    "returns": "ix_cases_returned_open",
    "dissatisfied": "ix_cases_dissatisfied",
}


def plan(runtime: Runtime, query: Select) -> str:
    with runtime.db.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params))


def test_each_wallboard_query_uses_its_partial_index(runtime: Runtime, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("the production planner is PostgreSQL's")
    now = utcnow()
    overdue = select(func.count()).select_from(Case).where(overdue_condition(now))
    assert "ix_cases_open_due" in plan(runtime, overdue)
    for reason, condition in attention_conditions(now):
        listed = select(Case.number).where(condition).order_by(Case.updated_at.desc()).limit(ATTENTION_ROWS)
        assert EXPECTED[reason] in plan(runtime, listed), reason
