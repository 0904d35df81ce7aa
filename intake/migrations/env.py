"""Alembic environment: the engine comes from Gridline's runtime, the metadata from all packages."""

from __future__ import annotations

from alembic import context

from intake.models import Base
from intake.wiring import import_models

import_models()
connectable = context.config.attributes["engine"]

with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
