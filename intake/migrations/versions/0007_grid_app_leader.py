"""Grid workers, check tasks, phone sign-in codes, app tokens, mail message ids, leader assignments.

Revision ID: 0007
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "grid_workers",
        sa.Column("id", BigId, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_workers")),
        sa.UniqueConstraint("code", name=op.f("uq_grid_workers_code")),
        sa.UniqueConstraint("phone", name=op.f("uq_grid_workers_phone")),
    )
    op.create_index(op.f("ix_grid_workers_grid_code"), "grid_workers", ["grid_code"], unique=False)
    op.create_table(
        "grid_worker_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("worker_id", BigId, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["grid_workers.id"], name=op.f("fk_grid_worker_tokens_worker_id_grid_workers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_worker_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_grid_worker_tokens_token_hash")),
    )
    op.create_index(op.f("ix_grid_worker_tokens_worker_id"), "grid_worker_tokens", ["worker_id"], unique=False)
    op.create_table(
        "grid_check_tasks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("worker_id", BigId, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("event_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_grid_check_tasks_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["case_events.id"], name=op.f("fk_grid_check_tasks_event_id_case_events")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["grid_workers.id"], name=op.f("fk_grid_check_tasks_worker_id_grid_workers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_check_tasks")),
    )
    op.create_index(op.f("ix_grid_check_tasks_case_id"), "grid_check_tasks", ["case_id"], unique=False)
    op.create_index("ix_grid_check_tasks_worker_status", "grid_check_tasks", ["worker_id", "status"], unique=False)
    op.create_table(
        "phone_codes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_codes")),
    )
    op.create_index("ix_phone_codes_lookup", "phone_codes", ["purpose", "phone", "created_at"], unique=False)
    op.create_table(
        "app_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_app_tokens_token_hash")),
    )
    op.create_index(op.f("ix_app_tokens_phone"), "app_tokens", ["phone"], unique=False)
    op.create_table(
        "email_messages",
        sa.Column("id", BigId, nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("in_reply_to", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("case_id", BigId, nullable=True),
        sa.Column("report_id", BigId, nullable=True),
        sa.Column("outbound_id", BigId, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_email_messages_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["outbound_id"], ["outbound_messages.id"], name=op.f("fk_email_messages_outbound_id_outbound_messages")
        ),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], name=op.f("fk_email_messages_report_id_reports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_messages")),
        sa.UniqueConstraint("direction", "message_id", name="uq_email_messages_direction_message_id"),
        sa.UniqueConstraint("outbound_id", name=op.f("uq_email_messages_outbound_id")),
    )
    op.create_index(op.f("ix_email_messages_case_id"), "email_messages", ["case_id"], unique=False)
    op.create_index(op.f("ix_email_messages_message_id"), "email_messages", ["message_id"], unique=False)
    op.create_table(
        "leader_assignments",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("leader_id", BigId, nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_case", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_leader_assignments_case_id_cases")),
        sa.ForeignKeyConstraint(["leader_id"], ["users.id"], name=op.f("fk_leader_assignments_leader_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leader_assignments")),
        sa.UniqueConstraint("case_id", "leader_id", name="uq_leader_assignments_case_id_leader_id"),
    )
    op.create_index(op.f("ix_leader_assignments_case_id"), "leader_assignments", ["case_id"], unique=False)
    op.create_index(op.f("ix_leader_assignments_leader_id"), "leader_assignments", ["leader_id"], unique=False)


def downgrade() -> None:
    op.drop_table("leader_assignments")
    op.drop_table("email_messages")
    op.drop_table("app_tokens")
    op.drop_index("ix_phone_codes_lookup", table_name="phone_codes")
    op.drop_table("phone_codes")
    op.drop_table("grid_check_tasks")
    op.drop_table("grid_worker_tokens")
    op.drop_table("grid_workers")
