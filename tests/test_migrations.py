"""The Alembic migrations build exactly the schema the models declare, on each backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from intake.models import Base
from intake.runtime import Runtime
from intake.wiring import import_models


def test_migrated_schema_matches_the_models(runtime: Runtime) -> None:
    import_models()
    with runtime.db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []
