"""Camera alarms: senders, the camera registry, raw alarms and incidents.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "camera_senders",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("auth", sa.String(length=8), nullable=False),
        sa.Column("ha1", sa.String(length=32), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("hmac_salt", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_senders")),
        sa.UniqueConstraint("name", name=op.f("uq_camera_senders_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_camera_senders_token_hash")),
    )
    op.create_table(
        "cameras",
        sa.Column("id", BigId, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("vendor", sa.String(length=16), nullable=False),
        sa.Column("sender_id", BigId, nullable=True),
        sa.Column("mac", sa.String(length=17), nullable=True),
        sa.Column("serial", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("channel", sa.Integer(), nullable=True),
        sa.Column("source_name", sa.String(length=64), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offline_since", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["sender_id"], ["camera_senders.id"], name=op.f("fk_cameras_sender_id_camera_senders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("code", name=op.f("uq_cameras_code")),
    )
    op.create_index("ix_cameras_mac_channel", "cameras", ["mac", "channel"], unique=False)
    op.create_index("ix_cameras_serial_channel", "cameras", ["serial", "channel"], unique=False)
    op.create_index("ix_cameras_ip_channel", "cameras", ["ip", "channel"], unique=False)
    op.create_index("ix_cameras_sender_id", "cameras", ["sender_id"], unique=False)
    op.create_index(op.f("ix_cameras_grid_code"), "cameras", ["grid_code"], unique=False)
    op.create_table(
        "camera_alarms",
        sa.Column("id", BigId, nullable=False),
        sa.Column("stream_id", sa.String(length=32), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender_id", BigId, nullable=True),
        sa.Column("camera_id", BigId, nullable=True),
        sa.Column("incident_id", BigId, nullable=True),
        sa.Column("vendor", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=True),
        sa.Column("device", sa.String(length=100), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("post_count", sa.Integer(), nullable=True),
        sa.Column("source_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=True),
        sa.Column("raw_content_type", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_alarms")),
        sa.UniqueConstraint("stream_id", "part", name="uq_camera_alarms_stream_id_part"),
    )
    op.create_index("ix_camera_alarms_camera_received", "camera_alarms", ["camera_id", "received_at"], unique=False)
    op.create_index("ix_camera_alarms_incident_id", "camera_alarms", ["incident_id"], unique=False)
    op.create_index(
        "ix_camera_alarms_flagged",
        "camera_alarms",
        ["received_at"],
        unique=False,
        postgresql_where=sa.text("status <> 'ok'"),
        sqlite_where=sa.text("status <> 'ok'"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Bodies over 2 KB (multipart with pictures, NVR batches) are compressed: lz4 costs far less CPU
        # than the default pglz in a table written tens of thousands of rows a second.
        op.execute("ALTER TABLE camera_alarms ALTER COLUMN raw SET COMPRESSION lz4")
    op.create_table(
        "camera_incidents",
        sa.Column("id", BigId, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("vendor", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("camera_id", BigId, nullable=True),
        sa.Column("sender_id", BigId, nullable=True),
        sa.Column("device", sa.String(length=100), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_source_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_alarm_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("post_count", sa.Integer(), nullable=False),
        sa.Column("max_device_count", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("pictures", sa.JSON(), nullable=False),
        sa.Column("first_stream_id", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("case_number", sa.String(length=24), nullable=True),
        sa.Column("report_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], name=op.f("fk_camera_incidents_camera_id_cameras")),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["camera_senders.id"], name=op.f("fk_camera_incidents_sender_id_camera_senders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_incidents")),
    )
    op.create_index(
        "uq_camera_incidents_open_key",
        "camera_incidents",
        ["key"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_camera_incidents_unsubmitted",
        "camera_incidents",
        ["id"],
        unique=False,
        postgresql_where=sa.text("case_number IS NULL"),
        sqlite_where=sa.text("case_number IS NULL"),
    )
    op.create_index("ix_camera_incidents_camera_opened", "camera_incidents", ["camera_id", "opened_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_camera_incidents_camera_opened", table_name="camera_incidents")
    op.drop_index("ix_camera_incidents_unsubmitted", table_name="camera_incidents")
    op.drop_index("uq_camera_incidents_open_key", table_name="camera_incidents")
    op.drop_table("camera_incidents")
    op.drop_index("ix_camera_alarms_flagged", table_name="camera_alarms")
    op.drop_index("ix_camera_alarms_incident_id", table_name="camera_alarms")
    op.drop_index("ix_camera_alarms_camera_received", table_name="camera_alarms")
    op.drop_table("camera_alarms")
    op.drop_index(op.f("ix_cameras_grid_code"), table_name="cameras")
    op.drop_index("ix_cameras_sender_id", table_name="cameras")
    op.drop_index("ix_cameras_ip_channel", table_name="cameras")
    op.drop_index("ix_cameras_serial_channel", table_name="cameras")
    op.drop_index("ix_cameras_mac_channel", table_name="cameras")
    op.drop_table("cameras")
    op.drop_table("camera_senders")
