"""The closed loop: deadline clocks and supervision on cases, the address gazetteer, unit heads,
result photos attached to history entries.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CASE_TIMES = (
    "dispatched_at",
    "accepted_at",
    "handled_at",
    "respond_due_at",
    "finish_due_at",
    "feedback_due_at",
    "warned_at",
    "overdue_at",
    "escalated_at",
    "extension_until",
)


def upgrade() -> None:
    op.create_table(
        "addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("town_code", sa.String(length=9), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("road", sa.String(length=100), nullable=True),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("building", sa.String(length=100), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addresses")),
    )
    op.create_index(op.f("ix_addresses_town_code"), "addresses", ["town_code"], unique=False)
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("event_id", BigId, nullable=True))
        batch.alter_column("report_id", existing_type=BigId, nullable=True)
        batch.create_index(op.f("ix_attachments_event_id"), ["event_id"], unique=False)
        batch.create_foreign_key(op.f("fk_attachments_event_id_case_events"), "case_events", ["event_id"], ["id"])
    with op.batch_alter_table("cases") as batch:
        for name in CASE_TIMES:
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("return_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("urge_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("route_reason", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("satisfaction", sa.Integer(), nullable=True))
        batch.create_index("ix_cases_created_at", ["created_at"], unique=False)
        batch.create_index("ix_cases_status_finish_due_at", ["status", "finish_due_at"], unique=False)
    with op.batch_alter_table("departments") as batch:
        batch.add_column(sa.Column("head_name", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("head_phone", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("head_phone")
        batch.drop_column("head_name")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_status_finish_due_at")
        batch.drop_index("ix_cases_created_at")
        for name in ("satisfaction", "route_reason", "urge_count", "return_count", *CASE_TIMES):
            batch.drop_column(name)
    with op.batch_alter_table("attachments") as batch:
        batch.drop_constraint(op.f("fk_attachments_event_id_case_events"), type_="foreignkey")
        batch.drop_index(op.f("ix_attachments_event_id"))
        batch.alter_column("report_id", existing_type=BigId, nullable=False)
        batch.drop_column("event_id")
    op.drop_index(op.f("ix_addresses_town_code"), table_name="addresses")
    op.drop_table("addresses")
