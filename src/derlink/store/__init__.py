"""derlink.store: persistence with SQLAlchemy 2 (async) and Alembic migrations.

SQLite (a file in the data directory, WAL) by default; PostgreSQL by ``DERLINK_DATABASE_URL``.
"""

from derlink.store import curve_refs, schema_publications
from derlink.store.database import Database, create_engine, dialect_of
from derlink.store.errors import StoreError
from derlink.store.migrate import current, head_revision, require_current, upgrade

__all__ = [
    "Database",
    "StoreError",
    "create_engine",
    "current",
    "curve_refs",
    "dialect_of",
    "head_revision",
    "require_current",
    "schema_publications",
    "upgrade",
]
