"""``derlink db``: schema migrations of the database in force."""

from __future__ import annotations

import asyncio

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.store.database import Database
from derlink.store.migrate import current, head_revision, upgrade


@click.group()
def db() -> None:
    """Database schema: where it stands, and upgrading it."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: CliContext) -> None:
    """Migrate the database to the schema this derlink needs."""
    _require_database(ctx)

    async def run() -> str | None:
        async with Database(ctx.database_url) as database:
            await upgrade(database)
            return await current(database)

    click.echo(f"database at schema {asyncio.run(run())}")


@db.command("current")
@pass_ctx
def db_current(ctx: CliContext) -> None:
    """Print the database's schema revision and the one this derlink needs."""
    _require_database(ctx)

    async def run() -> str | None:
        async with Database(ctx.database_url) as database:
            return await current(database)

    at = asyncio.run(run())
    click.echo(f"database schema {at or 'none'}; this derlink needs {head_revision()}")


def _require_database(ctx: CliContext) -> None:
    """Without a configured URL the database lives in the data directory: it must exist."""
    if not ctx.config.database.url:
        ctx.home.require()
