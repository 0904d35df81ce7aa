"""A partial index over the return events (退单) by time, which the statistics count by returning unit.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WHERE = "kind = 'return'"


def upgrade() -> None:
    op.create_index(
        "ix_case_events_returns", "case_events", ["at"], postgresql_where=text(WHERE), sqlite_where=text(WHERE)
    )


def downgrade() -> None:
    op.drop_index("ix_case_events_returns", table_name="case_events")
