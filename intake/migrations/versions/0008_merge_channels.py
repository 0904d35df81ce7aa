"""Join the three channel branches (cameras; city and Open311; grid workers, app, leaders, email).

Revision ID: 0008
Revises: 0005, 0006, 0007
"""

from __future__ import annotations

revision = "0008"
down_revision = ("0005", "0006", "0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the branches touch different tables."""


def downgrade() -> None:
    """Nothing to change."""
