"""Indexes for deleting old camera alarms and their stored bodies: alarms by body digest, and
attachments by blob (the foreign key check of every blob deleted).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WHERE = "raw_sha256 IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_camera_alarms_raw_sha256",
        "camera_alarms",
        ["raw_sha256"],
        postgresql_where=text(WHERE),
        sqlite_where=text(WHERE),
    )
    op.create_index("ix_attachments_sha256", "attachments", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_attachments_sha256", table_name="attachments")
    op.drop_index("ix_camera_alarms_raw_sha256", table_name="camera_alarms")
