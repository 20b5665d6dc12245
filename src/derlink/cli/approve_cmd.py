"""``derlink control held|approve|reject``: controls held by anomaly detection.

A control that exceeds a rate threshold is held (``[anomaly] action = "hold"``) and published
only once an operator other than its issuer, with the ``approve`` permission, approves it.
These commands join the ``control`` group of :mod:`derlink.cli.control_cmd`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.control_cmd import control
from derlink.cli.fleet import json_option, output, run
from derlink.control import held as holds

__all__ = ["control"]


@control.command("held")
@click.option("--all", "include_decided", is_flag=True, help="Include decided ones.")
@json_option
@pass_ctx
def control_held(ctx: CliContext, include_decided: bool, as_json: bool) -> None:
    """List controls held for a second operator's approval."""
    found = run(ctx, lambda f: holds.held_controls(f, include_decided=include_decided))

    def text() -> None:
        for h in found:
            when = datetime.fromtimestamp(h.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            target = h.request.get("group") or h.request.get("program")
            click.echo(f"{h.id}\t{h.status}\t{when}\t{h.operator}\t{target}\t{h.reason}")

    output(found, as_json, text)


@control.command("approve")
@click.argument("held_id", type=int)
@pass_ctx
def control_approve(ctx: CliContext, held_id: int) -> None:
    """Approve held control HELD_ID (not its issuer): it is created and published."""
    made = run(ctx, lambda f: holds.approve(f, held_id, actor=ctx.actor))
    click.echo(f"held control {held_id} approved: control {made.mrid} in {made.program}")


@control.command("reject")
@click.argument("held_id", type=int)
@pass_ctx
def control_reject(ctx: CliContext, held_id: int) -> None:
    """Reject held control HELD_ID: nothing is published."""
    run(ctx, lambda f: holds.reject(f, held_id, actor=ctx.actor))
    click.echo(f"held control {held_id} rejected")
