"""Partial indexes for the supervisors' wallboard: open cases by deadline, pending extensions,
escalations, repeated returns and "not satisfied" answers.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OPEN_CASES = "status IN ('accepted', 'checked', 'dispatched', 'handled', 'received', 'verifying')"
INDEXES = (
    ("ix_cases_open_due", "due_at", OPEN_CASES),
    ("ix_cases_extension", "updated_at", "extension_until IS NOT NULL"),
    ("ix_cases_escalated_open", "updated_at", f"escalated_at IS NOT NULL AND {OPEN_CASES}"),
    ("ix_cases_returned_open", "updated_at", f"return_count >= 2 AND {OPEN_CASES}"),
    ("ix_cases_dissatisfied", "closed_at", "satisfaction = 3 AND status = 'closed'"),
)


def upgrade() -> None:
    for name, column, where in INDEXES:
        op.create_index(name, "cases", [column], postgresql_where=text(where), sqlite_where=text(where))


def downgrade() -> None:
    for name, _, _ in INDEXES:
        op.drop_index(name, table_name="cases")
