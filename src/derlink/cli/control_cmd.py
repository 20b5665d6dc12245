"""``derlink program|control|rate``: DER programs, controls (dispatch) and poll/post rates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.fleet import envelope_from, envelope_options, json_option, output, run
from derlink.cli.units import DURATION, TIME
from derlink.domain import Control, Priority, Program, ResponseStatus


@click.group()
def program() -> None:
    """DER programs: primacy (lower wins), target groups, default control."""


@program.command("add")
@click.argument("program_id")
@click.option("--primacy", type=click.IntRange(0, 255), required=True, help="Lower wins.")
@click.option("--group", "groups", multiple=True, help="Target group (repeatable).")
@click.option("--description", default="", help="Shown to clients.")
@envelope_options
@json_option
@pass_ctx
def program_add(
    ctx: CliContext,
    /,
    program_id: str,
    primacy: int,
    groups: tuple[str, ...],
    description: str,
    as_json: bool,
    **envelope: Any,
) -> None:
    """Create program PROGRAM_ID; envelope options set its default control."""
    base = envelope_from(envelope)
    made = Program(
        id=program_id,
        primacy=primacy,
        groups=frozenset(groups),
        description=description,
        default=None if base.is_empty() else base,
    )
    made = run(ctx, lambda f: f.add_program(made, actor=ctx.actor))
    output(made, as_json, lambda: click.echo(f"program {made.id} added (primacy {primacy})"))


@program.command("default")
@click.argument("program_id")
@click.option("--clear", is_flag=True, help="Remove the default control.")
@envelope_options
@json_option
@pass_ctx
def program_default(
    ctx: CliContext, /, program_id: str, clear: bool, as_json: bool, **envelope: Any
) -> None:
    """Set the default control (DefaultDERControl) of PROGRAM_ID."""
    base = envelope_from(envelope)
    if clear == (not base.is_empty()):
        raise click.UsageError("give envelope options, or --clear")
    made = run(ctx, lambda f: f.set_default(program_id, None if clear else base, actor=ctx.actor))
    output(made, as_json, lambda: click.echo(f"program {made.id} default updated"))


@program.command("remove")
@click.argument("program_id")
@pass_ctx
def program_remove(ctx: CliContext, program_id: str) -> None:
    """Delete PROGRAM_ID and its controls."""
    run(ctx, lambda f: f.remove_program(program_id, actor=ctx.actor))
    click.echo(f"program {program_id} removed")


@program.command("list")
@json_option
@pass_ctx
def program_list(ctx: CliContext, as_json: bool) -> None:
    """List programs by primacy."""
    programs = run(ctx, lambda f: f.programs())

    def text() -> None:
        for p in programs:
            groups = ",".join(sorted(p.groups)) or "-"
            default = "default" if p.default else "-"
            click.echo(f"{p.id}\tprimacy {p.primacy}\t{groups}\t{default}\t{p.description}")

    output(programs, as_json, text)


@click.group()
def control() -> None:
    """Controls: time-bound DER events for a program or a group."""


@control.command("create")
@click.option("--group", help="Dispatch to this group (its program at --priority).")
@click.option("--program", "program_id", help="Add to this program.")
@click.option(
    "--priority",
    type=click.Choice([p.value for p in Priority]),
    default=Priority.YELLOW.value,
    show_default=True,
    help="Traffic light with --group: red/yellow grid constraint, green market.",
)
@click.option("--start", type=TIME, default="now", show_default=True, help="now, +15m, ISO.")
@click.option("--duration", type=DURATION, required=True, help="e.g. 2h, 30m.")
@click.option("--randomize-start", type=click.IntRange(-3600, 3600), default=0, help="Seconds.")
@click.option("--randomize-duration", type=click.IntRange(-3600, 3600), default=0, help="Seconds.")
@click.option("--description", default="", help="Shown to clients.")
@click.option("--sign", is_flag=True, help="Attach the operator's signature (signed command).")
@click.option("--signer", "signer_file", help="Operator certificate to sign with (see field).")
@click.option("--valid-for", type=DURATION, help="Signed validity (default: until the end).")
@envelope_options
@json_option
@pass_ctx
def control_create(
    ctx: CliContext,
    /,
    group: str | None,
    program_id: str | None,
    priority: str,
    start: int,
    duration: float,
    randomize_start: int,
    randomize_duration: int,
    description: str,
    sign: bool,
    signer_file: str | None,
    valid_for: float | None,
    as_json: bool,
    **envelope: Any,
) -> None:
    """Create a control, e.g. --group feeder-1 --export-limit 5kW --start +0 --duration 2h."""
    base = envelope_from(envelope)
    if base.is_empty():
        raise click.UsageError("set at least one mode or limit, e.g. --export-limit 5kW")
    signer = None
    if sign or signer_file:
        from derlink.cli.field_cmd import resolve_signer

        signer = resolve_signer(ctx, signer_file)
    made = run(
        ctx,
        lambda f: f.create_control(
            base,
            actor=ctx.actor,
            start=start,
            duration=int(duration),
            program=program_id,
            group=group,
            priority=Priority(priority),
            randomize_start=randomize_start,
            randomize_duration=randomize_duration,
            description=description,
            signer=signer,
            valid_for=None if valid_for is None else int(valid_for),
        ),
    )
    output(
        made,
        as_json,
        lambda: click.echo(
            f"control {made.mrid} in {made.program}: {_when(made)} {_envelope(made)}"
        ),
    )


@control.command("cancel")
@click.argument("mrid")
@click.option("--randomized", is_flag=True, help="Let devices randomise the cancel (status 3).")
@pass_ctx
def control_cancel(ctx: CliContext, mrid: str, randomized: bool) -> None:
    """Cancel control MRID."""
    made = run(ctx, lambda f: f.cancel(mrid, actor=ctx.actor, randomized=randomized))
    click.echo(f"control {made.mrid} cancelled")


@control.command("cancel-all")
@click.option("--program", "program_id", help="Only this program's controls.")
@click.option("--group", help="Only the controls of this group's programs.")
@pass_ctx
def control_cancel_all(ctx: CliContext, program_id: str | None, group: str | None) -> None:
    """Cancel every control that has not ended."""
    count = run(ctx, lambda f: f.cancel_all(actor=ctx.actor, program=program_id, group=group))
    click.echo(f"{count} controls cancelled")


@control.command("list")
@click.option("--program", "program_id", help="Only this program's controls.")
@click.option("--all", "include_ended", is_flag=True, help="Include ended controls.")
@json_option
@pass_ctx
def control_list(
    ctx: CliContext, program_id: str | None, include_ended: bool, as_json: bool
) -> None:
    """List controls by start time."""
    controls = run(ctx, lambda f: f.controls(program=program_id, include_ended=include_ended))

    def text() -> None:
        for c in controls:
            click.echo(f"{c.mrid}\t{c.program}\t{c.status.name}\t{_when(c)}\t{_envelope(c)}")

    output(controls, as_json, text)


@control.command("show")
@click.argument("mrid")
@json_option
@pass_ctx
def control_show(ctx: CliContext, mrid: str, as_json: bool) -> None:
    """Show control MRID and how many devices reported each response status."""

    async def work(f: Any) -> tuple[Control, dict[int, int]]:
        return await f.control(mrid), await f.response_summary(mrid)

    made, summary = run(ctx, work)
    responses = {ResponseStatus(k).name.lower(): v for k, v in summary.items()}

    def text() -> None:
        click.echo(f"{made.mrid} {made.program} {made.status.name} {_when(made)}")
        click.echo(f"  {_envelope(made)}")
        for name, count in sorted(responses.items()):
            click.echo(f"  {name}: {count} devices")

    output({"control": made, "responses": responses}, as_json, text)


def _when(c: Control) -> str:
    start = datetime.fromtimestamp(c.start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{start} for {c.duration}s"


def _envelope(c: Control) -> str:
    return " ".join(f"{k}={v}" for k, v in c.base.set_fields().items())


RATE_KEYS = ("poll", "post")


@click.command()
@click.option("--site", "site_id", help="Only for this site (default: the whole deployment).")
@click.option(
    "--list",
    "list_name",
    help="Only for this resource list (DeviceCapability, EndDeviceList, FunctionSetAssignments, "
    "DERProgramList, DERList, MirrorUsagePoint...).",
)
@click.option("--poll", type=DURATION, help="pollRate in seconds, e.g. 60s, 5m.")
@click.option("--post", type=DURATION, help="postRate of mirrors in seconds.")
@click.option("--clear", is_flag=True, help="Remove the rate(s) of this scope.")
@pass_ctx
def rate(
    ctx: CliContext,
    /,
    site_id: str | None,
    list_name: str | None,
    poll: float | None,
    post: float | None,
    clear: bool,
) -> None:
    """Set poll and post rates per deployment, per site and per list."""
    if not clear and poll is None and post is None:
        raise click.UsageError("give --poll, --post or --clear")
    scope = f"site:{site_id}" if site_id else "deployment"
    values = {"poll": poll, "post": post}

    async def work(f: Any) -> None:
        for key in RATE_KEYS:
            if clear or values[key] is not None:
                name = f"{key}:{list_name or '*'}"
                value = None if clear else str(int(values[key] or 0))
                await f.set_setting(scope, name, value, actor=ctx.actor)

    run(ctx, work)
    click.echo(f"rates of {scope} {'cleared' if clear else 'set'}")
