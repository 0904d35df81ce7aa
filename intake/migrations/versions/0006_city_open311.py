"""City-level dispatch orders, and the Open311 server's partners and requests.

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "city_orders",
        sa.Column("id", BigId, nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("order_code", sa.String(length=64), nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("city_category", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("area", sa.String(length=200), nullable=False),
        sa.Column("place", sa.String(length=500), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("order_type", sa.Integer(), nullable=False),
        sa.Column("attachment_urls", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("pushes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_city_orders_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_city_orders")),
        sa.UniqueConstraint("platform", "order_code", name="uq_city_orders_platform_order_code"),
    )
    op.create_index(op.f("ix_city_orders_case_id"), "city_orders", ["case_id"], unique=False)
    op.create_table(
        "open311_partners",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_partners")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_partners_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_open311_partners_name")),
    )
    op.create_table(
        "open311_requests",
        sa.Column("id", BigId, nullable=False),
        sa.Column("partner_id", BigId, nullable=False),
        sa.Column("report_id", BigId, nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["open311_partners.id"], name=op.f("fk_open311_requests_partner_id_open311_partners")
        ),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], name=op.f("fk_open311_requests_report_id_reports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_requests")),
        sa.UniqueConstraint("report_id", name=op.f("uq_open311_requests_report_id")),
        sa.UniqueConstraint("token", name=op.f("uq_open311_requests_token")),
    )
    op.create_index(op.f("ix_open311_requests_partner_id"), "open311_requests", ["partner_id"], unique=False)
    op.create_index(op.f("ix_open311_requests_service_code"), "open311_requests", ["service_code"], unique=False)
    op.create_index("ix_open311_requests_requested_at", "open311_requests", ["requested_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_open311_requests_requested_at", table_name="open311_requests")
    op.drop_index(op.f("ix_open311_requests_service_code"), table_name="open311_requests")
    op.drop_index(op.f("ix_open311_requests_partner_id"), table_name="open311_requests")
    op.drop_table("open311_requests")
    op.drop_table("open311_partners")
    op.drop_index(op.f("ix_city_orders_case_id"), table_name="city_orders")
    op.drop_table("city_orders")
