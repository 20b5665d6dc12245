"""``derlink resource``: switch 2030.5 resources off (and on) for the whole deployment.

A disabled resource answers 404 and its links leave DeviceCapability and every
FunctionSetAssignments; running head-ends see the change within seconds. Names are the
resource names of the head-end's routes (``TariffProfileList``, ``FileList``, ``Time``...).
"""

from __future__ import annotations

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.fleet import json_option, output, run
from derlink.errors import DerlinkError
from derlink.sep2.context import DISABLED, LOCKED, flagged

# Without these a client cannot start, nor the operator undo from a client's point of view.
ESSENTIAL = frozenset({"DeviceCapability", "EndDeviceList", "EndDevice"})


def resource_names() -> list[str]:
    """Every resource name the head-end serves."""
    from derlink.sep2.server import build_router

    return sorted({route.name for route in build_router().routes})


def _checked(name: str) -> str:
    names = resource_names()
    if name not in names:
        raise DerlinkError(f"no resource {name!r}: 'derlink resource list' shows the names")
    return name


def _set_flag(ctx: CliContext, prefix: str, name: str, value: str | None) -> None:
    """Set (``"1"``) or clear (``None``) the deployment setting ``prefix + name``."""
    key = f"{prefix}{name}"
    run(ctx, lambda f: f.set_setting("deployment", key, value, actor=ctx.actor))


@click.group()
def resource() -> None:
    """Resources the head-end serves: disable or enable them per deployment."""


@resource.command("disable")
@click.argument("name")
@pass_ctx
def resource_disable(ctx: CliContext, name: str) -> None:
    """Answer 404 for resource NAME and leave its links out of DeviceCapability and FSAs."""
    if _checked(name) in ESSENTIAL:
        raise DerlinkError(f"{name} cannot be disabled: clients start from it")
    _set_flag(ctx, DISABLED, name, "1")
    click.echo(f"resource {name} disabled")


@resource.command("enable")
@click.argument("name")
@pass_ctx
def resource_enable(ctx: CliContext, name: str) -> None:
    """Serve resource NAME again."""
    _set_flag(ctx, DISABLED, _checked(name), None)
    click.echo(f"resource {name} enabled")


@resource.command("lock")
@click.argument("name")
@pass_ctx
def resource_lock(ctx: CliContext, name: str) -> None:
    """Refuse client updates (PUT/POST/DELETE) of resource NAME, e.g. ConnectionPoint."""
    _set_flag(ctx, LOCKED, _checked(name), "1")
    click.echo(f"client updates of {name} locked")


@resource.command("unlock")
@click.argument("name")
@pass_ctx
def resource_unlock(ctx: CliContext, name: str) -> None:
    """Accept client updates of resource NAME again."""
    _set_flag(ctx, LOCKED, _checked(name), None)
    click.echo(f"client updates of {name} accepted")


@resource.command("list")
@json_option
@pass_ctx
def resource_list(ctx: CliContext, as_json: bool) -> None:
    """List the resource names and whether each is served."""
    off = flagged(run(ctx, lambda f: f.settings()), DISABLED)
    state = {name: name not in off for name in resource_names()}

    def text() -> None:
        for name, enabled in state.items():
            click.echo(f"{name}\t{'enabled' if enabled else 'DISABLED'}")

    output(state, as_json, text)
