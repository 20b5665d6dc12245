"""Alembic environment: migrations run on a connection handed in by ``derlink.store.migrate``."""

from __future__ import annotations

from alembic import context

from derlink.store.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs the alembic CLI
    raise RuntimeError("run migrations with 'derlink db upgrade', not the alembic command")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
