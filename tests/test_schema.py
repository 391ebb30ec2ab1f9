"""The migrations build exactly the models' schema, on every database."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from statuspage.extensions import db


def test_migrations_produce_the_models_schema(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []
