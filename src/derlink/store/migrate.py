"""Schema migrations (Alembic), run programmatically on derlink's own engine.

``upgrade`` brings any database to the newest schema; ``current`` tells where it stands;
``require_current`` refuses to work on a database that is behind, with a clear message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from derlink.store.database import Database
from derlink.store.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config(connection: Any = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(db: Database, revision: str = "head") -> None:
    """Migrate ``db`` to ``revision`` (default: the newest)."""

    def run(sync_connection: Any) -> None:
        command.upgrade(_alembic_config(sync_connection), revision)

    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(run)
    except (DBAPIError, OSError) as err:
        message = f"cannot migrate the database at {_safe(db.url)}: {_first_line(err)}"
        raise StoreError(message) from None


async def current(db: Database) -> str | None:
    """The revision the database is at, or None for an empty database."""

    def read(sync_connection: Any) -> str | None:
        return MigrationContext.configure(sync_connection).get_current_revision()

    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(read)
    except (SQLAlchemyError, OSError) as err:
        message = f"cannot open the database at {_safe(db.url)}: {_first_line(err)}"
        raise StoreError(message) from None


async def require_current(db: Database) -> None:
    """Raise a clear error when the database is missing tables or behind the code."""
    at = await current(db)
    if at != head_revision():
        raise StoreError(
            f"the database at {_safe(db.url)} is at schema {at or 'none'}, "
            f"this derlink needs {head_revision()}: run 'derlink db upgrade'"
        )


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _first_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__
