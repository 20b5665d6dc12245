"""Fixtures shared by the whole suite: data directories and real database servers.

Tests that need a service use the real one. On a developer's machine without it they skip with
the reason; under CI (``CI=true``) a missing service is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from derlink.home import Home

# The real XMPP servers (``prosody_server``, ``ejabberd_server``, ``xmpp_server``): registered
# once here, so the whole run shares one Prosody and one ejabberd.
pytest_plugins = ["support.xmpp"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_DSN = os.environ.get("DERLINK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def require_service(available: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a real service the test needs is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """An empty, not yet initialised data directory."""
    return Home(tmp_path / "derlink-data")


def _pg_admin_execute(sql: str) -> str | None:
    """Run one statement on the admin database; return an error text instead of raising."""
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(run())
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (created and dropped by the test) as an asyncpg URL."""
    name = f"derlink_test_{uuid.uuid4().hex[:12]}"
    error = _pg_admin_execute(f'CREATE DATABASE "{name}"')
    require_service(error is None, f"PostgreSQL at {PG_ADMIN_DSN} not usable: {error}")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        _pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against SQLite (a file) and PostgreSQL (a fresh database)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
