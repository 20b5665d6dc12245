"""``derlink serve``: the IEEE 2030.5 head-end over HTTPS with mutual TLS."""

from __future__ import annotations

import asyncio
import logging

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.store.database import Database
from derlink.store.migrate import require_current


@click.command()
@click.option("--host", default=None, help="Address to listen on (config server.host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (8443).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Processes (1).")
@click.option("--tls13/--no-tls13", default=None, help="Offer TLS 1.3 beside TLS 1.2.")
@click.option(
    "--registration",
    type=click.Choice(["preregistered", "open"]),
    default=None,
    help="preregistered: only enrolled certificates; open: devices may register themselves.",
)
@click.option("--access-log", is_flag=True, help="Log every request.")
@pass_ctx
def serve(
    ctx: CliContext,
    host: str | None,
    port: int | None,
    workers: int | None,
    tls13: bool | None,
    registration: str | None,
    access_log: bool,
) -> None:
    """Serve IEEE 2030.5 (CSIP, CSIP-AUS) to DER clients until interrupted.

    TLS 1.2 with TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 and a client certificate from this
    data directory's PKI are required. Several workers share state through the database: use
    PostgreSQL (DERLINK_DATABASE_URL) for more than one worker or node.
    """
    from derlink.sep2.server import ServeOptions
    from derlink.sep2.server import serve as run

    home = ctx.home.require()
    config = ctx.config
    options = ServeOptions(
        home=str(home.root),
        database_url=ctx.database_url,
        host=host or config.server.host,
        port=port or config.server.port,
        workers=workers or config.server.workers,
        tls13=config.server.tls13 if tls13 is None else tls13,
        registration=registration or config.sep2.registration,
        default_poll_rate=config.sep2.default_poll_rate,
        csipaus_ns=config.sep2.csipaus_namespace,
        max_body_bytes=config.server.max_body_bytes,
        trusted_header=config.server.trusted_client_cert_header,
        access_log=access_log,
        passphrase_env=config.pki.passphrase_env,
    )
    if options.workers > 1 and options.database_url.startswith("sqlite"):
        click.secho(
            "warning: several workers on SQLite serialise writes; use PostgreSQL",
            fg="yellow",
            err=True,
        )

    async def check() -> None:
        async with Database(options.database_url) as db:
            await require_current(db)

    asyncio.run(check())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    where = f"https://{options.host}:{options.port}/dcap"
    run(
        options,
        ready=lambda: click.echo(
            f"derlink 2030.5 head-end listening on {where} ({options.workers} worker(s))", err=True
        ),
    )
