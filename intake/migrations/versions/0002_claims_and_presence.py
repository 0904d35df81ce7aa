"""Claims with leases on cases, agent presence on users.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("claimed_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(op.f("fk_cases_claimed_by_id_users"), "users", ["claimed_by_id"], ["id"])
        batch.create_index("ix_cases_claimed_by_id", ["claimed_by_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("presence", sa.String(length=16), nullable=False, server_default="offline"))
        batch.add_column(sa.Column("presence_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("presence_at")
        batch.drop_column("presence")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_claimed_by_id")
        batch.drop_constraint(op.f("fk_cases_claimed_by_id_users"), type_="foreignkey")
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by_id")
