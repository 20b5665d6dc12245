"""Engines and sessions: SQLite (a file, WAL) by default, PostgreSQL by URL.

Durability first: SQLite runs in WAL mode with ``synchronous=FULL`` so that a committed
transaction survives a power cut; PostgreSQL commits are durable by default. Every caller gets
the same engine settings from here, so no component opens the database its own way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from derlink.store.errors import StoreError

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


def dialect_of(url: str) -> str:
    """``sqlite`` or ``postgresql``; anything else is refused with a clear error."""
    try:
        name = make_url(url).get_backend_name()
    except ArgumentError as err:
        raise StoreError(f"bad database URL {url!r}: {err}") from None
    if name not in {"sqlite", "postgresql"}:
        raise StoreError(f"unsupported database {name!r}: use SQLite or PostgreSQL")
    return name


def _async_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs and pick the async driver."""
    parsed = make_url(url)
    drivers = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
    backend = parsed.get_backend_name()
    if parsed.drivername == backend and backend in drivers:
        parsed = parsed.set(drivername=drivers[backend])
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine with derlink's settings for the dialect of ``url``."""
    dialect = dialect_of(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if dialect == "postgresql":
        # No pre-ping: it costs a round trip per checkout on the hot path; recycle instead.
        kwargs.update(pool_size=10, max_overflow=20, pool_recycle=300)
    engine = create_async_engine(_async_url(url), **kwargs)
    if dialect == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


class Database:
    """One engine and its session factory; ``async with Database(url) as db`` disposes it."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.dialect = dialect_of(url)
        self.engine = create_engine(url, echo=echo)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
