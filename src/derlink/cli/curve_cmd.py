"""``derlink curve``: the curves of a DER program (IEEE 2030.5 DERCurve), which its controls
and default control name by id (``--volt-var CURVE_ID``...)."""

from __future__ import annotations

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.fleet import json_option, output
from derlink.cli.publish_cmd import run_pub
from derlink.domain import Curve, DomainError
from derlink.domain.curves import KIND_NAMES, Y_REFERENCES, kind_name, kind_of


def parse_point(text: str) -> tuple[float, float]:
    """``X,Y``, e.g. 92,30 (volt-var: % of the reference voltage, % of the maximum var)."""
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise DomainError(f"{text!r} is not a point X,Y such as 92,30") from None
    return x, y


@click.group()
def curve() -> None:
    """Curves of DER programs: volt-var, volt-watt, frequency-watt, ride-through..."""


@curve.command("add")
@click.argument("program_id")
@click.argument("curve_id")
@click.option("--kind", type=click.Choice(sorted(KIND_NAMES)), required=True, help="Curve type.")
@click.option(
    "--point",
    "points",
    multiple=True,
    required=True,
    help="X,Y in increasing X, 1 to 10 points (volt-var: % of VRef, % of max var).",
)
@click.option(
    "--y-unit",
    type=click.Choice([*Y_REFERENCES, "Hz", "PF"]),
    help="What Y is a percentage of (default: the kind's).",
)
@json_option
@pass_ctx
def curve_add(
    ctx: CliContext,
    /,
    program_id: str,
    curve_id: str,
    kind: str,
    points: tuple[str, ...],
    y_unit: str | None,
    as_json: bool,
) -> None:
    """Add curve CURVE_ID to DER program PROGRAM_ID."""
    xy = tuple(parse_point(p) for p in points)
    made = Curve(id=curve_id, kind=kind_of(kind), points=xy, y_unit=y_unit or "")
    made = run_pub(ctx, lambda p: p.add_curve(program_id, made, actor=ctx.actor))
    output(made, as_json, lambda: click.echo(f"curve {made.id} added to program {program_id}"))


@curve.command("remove")
@click.argument("program_id")
@click.argument("curve_id")
@pass_ctx
def curve_remove(ctx: CliContext, program_id: str, curve_id: str) -> None:
    """Remove a curve no live control and no default control uses."""
    run_pub(ctx, lambda p: p.remove_curve(program_id, curve_id, actor=ctx.actor))
    click.echo(f"curve {curve_id} removed from program {program_id}")


@curve.command("list")
@click.argument("program_id")
@json_option
@pass_ctx
def curve_list(ctx: CliContext, program_id: str, as_json: bool) -> None:
    """List the curves of PROGRAM_ID."""
    curves = [c for c, _ in run_pub(ctx, lambda p: p.curves(program_id))]

    def text() -> None:
        for c in curves:
            points = " ".join(f"{x:g},{y:g}" for x, y in c.points)
            click.echo(f"{c.id}\t{kind_name(c.kind)}\t{c.x_unit}/{c.y_unit}\t{points}")

    output(curves, as_json, text)
