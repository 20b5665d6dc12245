"""The ``derlink`` command.

Sub-commands live in their own modules and are loaded lazily, so ``derlink --help`` stays fast
and a broken optional dependency only affects the command that needs it. A
:class:`~derlink.errors.DerlinkError` anywhere below is printed as one line on stderr with a
non-zero exit code; only a bug prints a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from derlink import __version__
from derlink.cli.context import CliContext
from derlink.errors import DerlinkError
from derlink.home import Home

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "init": "derlink.cli.init_cmd:init",
    "config": "derlink.cli.init_cmd:config",
    "pki": "derlink.cli.pki_cmd:pki",
    "audit": "derlink.cli.audit_cmd:audit",
    "db": "derlink.cli.db_cmd:db",
    "demo": "derlink.cli.demo_cmd:demo",
    "group": "derlink.cli.fleet_cmd:group",
    "site": "derlink.cli.fleet_cmd:site",
    "device": "derlink.cli.fleet_cmd:device",
    "program": "derlink.cli.control_cmd:program",
    "control": "derlink.cli.approve_cmd:control",
    "rate": "derlink.cli.control_cmd:rate",
    "curve": "derlink.cli.curve_cmd:curve",
    "tariff": "derlink.cli.tariff_cmd:tariff",
    "dr": "derlink.cli.publish_cmd:dr",
    "message": "derlink.cli.publish_cmd:message",
    "file": "derlink.cli.file_cmd:file",
    "resource": "derlink.cli.resource_cmd:resource",
    "serve": "derlink.cli.serve_cmd:serve",
    "sim": "derlink.cli.sim_cmd:sim",
    "xmpp": "derlink.cli.xmpp_cmd:xmpp",
    "ied": "derlink.cli.ied_cmd:ied",
    "field": "derlink.cli.field_cmd:field",
    "rbac": "derlink.cli.rbac_cmd:rbac",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        from derlink.cli.permissions import guard

        return guard(command)  # every command checks its permissions (RBAC) first


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=str),
    envvar="DERLINK_HOME",
    default=None,
    help="Data directory (config, database, PKI). Default: $DERLINK_HOME or ./derlink-data.",
)
@click.option(
    "--identity",
    envvar="DERLINK_IDENTITY",
    default=None,
    help="Act as this operator: PEM certificate with roles, key in it or beside it (NAME.key).",
)
@click.option(
    "--token",
    envvar="DERLINK_TOKEN",
    default=None,
    help="Act with this signed access token. Default: the data directory's administrator.",
)
@click.version_option(__version__, prog_name="derlink")
@click.pass_context
def cli(ctx: click.Context, home: str | None, identity: str | None, token: str | None) -> None:
    """derlink: a secure control plane for fleets of distributed energy resources."""
    ctx.obj = CliContext(home=Home.resolve(home), identity_file=identity, token=token)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning user errors into one line and an exit code."""
    try:
        return cli.main(args=argv, prog_name="derlink", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except DerlinkError as err:
        click.secho(f"error: {err}", fg="red", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
