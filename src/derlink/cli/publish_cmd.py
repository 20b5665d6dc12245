"""``derlink dr|message``, and what every publication command shares (``tariff`` and ``file``
build on it): what is published to groups, with its events.

A demand response program's load controls, a messaging program's messages and a tariff's price
intervals are events (IEEE 2030.5 EndDeviceControl, TextMessage, TimeTariffInterval) that
devices of the targeted groups read from the head-end, which may be running meanwhile. Every
change goes through the publication service: one transaction, audited.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.fleet import json_option, output, run
from derlink.cli.units import DURATION, PERCENT, TIME, _Parsed
from derlink.control.publications import PublicationService
from derlink.control.service import FleetService, new_mrid
from derlink.domain import (
    ApplianceReduction,
    DemandProgram,
    Event,
    LoadControl,
    LoadModes,
    Message,
    MessagePriority,
    MessageProgram,
    Publication,
    PublicationKind,
    ReductionUnit,
)
from derlink.domain.demand import DEVICE_CATEGORIES

T = TypeVar("T")


def run_pub(ctx: CliContext, work: Callable[[PublicationService], Awaitable[T]]) -> T:
    """Run ``work`` against the publication service, audited as the CLI user."""
    return run(ctx, lambda fleet: work(publications(fleet)))


def publications(fleet: FleetService) -> PublicationService:
    return PublicationService(fleet.db, fleet.audit, clock=fleet.clock)


def parse_categories(text: str) -> int:
    """A device category name (water-heater, evse...) or a DeviceCategoryType bitmap (0x8)."""
    if text in DEVICE_CATEGORIES:
        return 1 << DEVICE_CATEGORIES[text]
    try:
        return int(text, 0)
    except ValueError:
        names = ", ".join(DEVICE_CATEGORIES)
        raise ValueError(f"{text!r} is not a bitmap such as 0x8 or one of: {names}") from None


CATEGORY = _Parsed("category", parse_categories)


def enum_choice(enum_type: Any) -> click.Choice[str]:
    return click.Choice([m.name.lower().replace("_", "-") for m in enum_type])


def enum_member(enum_type: Any, name: str | None) -> Any:
    return None if name is None else enum_type[name.upper().replace("-", "_")]


def program_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--group (repeatable), --primacy and --description of a publication."""
    for option in (
        click.option("--description", default="", help="Shown to clients (32 characters)."),
        click.option("--primacy", type=click.IntRange(0, 255), required=True, help="Lower wins."),
        click.option("--group", "groups", multiple=True, help="Target group (repeatable)."),
    ):
        command = option(command)
    return command


def event_options(randomizable: bool = True) -> Callable[[Callable[..., Any]], Any]:
    """--start, --duration, --description (and the randomization bounds) of an event."""

    def add(command: Callable[..., Any]) -> Any:
        options = [
            click.option("--start", type=TIME, default="now", show_default=True, help="now, +1h."),
            click.option("--duration", type=DURATION, required=True, help="e.g. 2h, 30m."),
            click.option("--description", default="", help="Shown to clients (32 characters)."),
        ]
        if randomizable:
            bound = click.IntRange(-3600, 3600)
            options += [
                click.option("--randomize-start", type=bound, default=0, help="Seconds."),
                click.option("--randomize-duration", type=bound, default=0, help="Seconds."),
            ]
        for option in reversed(options):
            command = option(command)
        return command

    return add


def event_timing(program: str, options: dict[str, Any]) -> dict[str, Any]:
    """The Event fields from the event options (the service sets the creation time)."""
    return {
        "mrid": new_mrid(),
        "program": program,
        "start": options.pop("start"),
        "duration": int(options.pop("duration")),
        "created": int(time.time()),
        "description": options.pop("description"),
        "randomize_start": options.pop("randomize_start", 0),
        "randomize_duration": options.pop("randomize_duration", 0),
    }


def publish_item(ctx: CliContext, item: Publication, as_json: bool) -> None:
    made = run_pub(ctx, lambda p: p.publish(item, actor=ctx.actor))
    output(made, as_json, lambda: click.echo(f"{item.LABEL} {item.id} added"))


def schedule_event(ctx: CliContext, event: Event, as_json: bool) -> None:
    made = run_pub(ctx, lambda p: p.schedule(event, actor=ctx.actor))
    output(made, as_json, lambda: click.echo(f"event {made.mrid} in {made.program}"))


def common_commands(group: click.Group, kind: PublicationKind, *, events: bool = True) -> None:
    """remove, list, show (and cancel an event), the same for every kind of publication."""

    @group.command("remove")
    @click.argument("item_id")
    @pass_ctx
    def remove(ctx: CliContext, item_id: str) -> None:
        """Remove ITEM_ID and its events."""
        run_pub(ctx, lambda p: p.withdraw(kind, item_id, actor=ctx.actor))
        click.echo(f"{kind.value} {item_id} removed")

    @group.command("list")
    @json_option
    @pass_ctx
    def listing(ctx: CliContext, as_json: bool) -> None:
        """List by primacy, with the target groups."""
        items = run_pub(ctx, lambda p: p.publications(kind))

        def text() -> None:
            for item in items:
                groups = ",".join(sorted(item.groups)) or "-"
                click.echo(f"{item.id}\t{groups}\t{item.description}")

        output(items, as_json, text)

    @group.command("show")
    @click.argument("item_id")
    @click.option("--all", "include_ended", is_flag=True, help="Include ended events.")
    @json_option
    @pass_ctx
    def show(ctx: CliContext, item_id: str, include_ended: bool, as_json: bool) -> None:
        """Show ITEM_ID and its events."""

        async def work(p: PublicationService) -> tuple[Publication, list[Event]]:
            found = await p.publication(kind, item_id)
            return found, await p.events(kind, item_id, include_ended=include_ended)

        item, events = run_pub(ctx, work)

        def text() -> None:
            click.echo(f"{item.id}\t{','.join(sorted(item.groups)) or '-'}\t{item.description}")
            for e in events:
                click.echo(f"  {e.mrid}\t{e.status.name}\t{e.start}+{e.duration}s\t{e.description}")

        output({"item": item, "events": events}, as_json, text)

    if events:
        cancel_command(group, kind)


def cancel_command(group: click.Group, kind: PublicationKind) -> None:
    @group.command("cancel")
    @click.argument("mrid")
    @click.option("--randomized", is_flag=True, help="Let devices randomise the cancel.")
    @pass_ctx
    def cancel(ctx: CliContext, mrid: str, randomized: bool) -> None:
        """Cancel event MRID (2030.5 status 2, or 3 with --randomized)."""
        made = run_pub(
            ctx, lambda p: p.cancel_event(kind, mrid, actor=ctx.actor, randomized=randomized)
        )
        click.echo(f"event {made.mrid} cancelled")


# --- demand response --------------------------------------------------------------------------


@click.group()
def dr() -> None:
    """Demand response programs (2030.5 DRLC) and their load controls."""


@dr.command("add")
@click.argument("program_id")
@program_options
@json_option
@pass_ctx
def dr_add(
    ctx: CliContext,
    program_id: str,
    groups: tuple[str, ...],
    primacy: int,
    description: str,
    as_json: bool,
) -> None:
    """Create demand response program PROGRAM_ID for the groups."""
    item = DemandProgram(
        id=program_id, groups=frozenset(groups), description=description, primacy=primacy
    )
    publish_item(ctx, item, as_json)


@dr.command("control")
@click.argument("program_id")
@click.option(
    "--category",
    "categories",
    type=CATEGORY,
    multiple=True,
    required=True,
    help="Device category (water-heater, evse, ...) or bitmap (repeatable).",
)
@click.option("--duty-cycle", type=click.IntRange(0, 100), help="Maximum on-time, %.")
@click.option("--cooling-offset", type=click.FloatRange(0, 25.5), help="°C.")
@click.option("--heating-offset", type=click.FloatRange(0, 25.5), help="°C.")
@click.option("--load-adjust", type=PERCENT, help="Load adjustment, %.")
@click.option("--cooling-setpoint", type=click.FloatRange(-273.15, 327.67), help="°C.")
@click.option("--heating-setpoint", type=click.FloatRange(-273.15, 327.67), help="°C.")
@click.option("--target-reduction", type=click.IntRange(0, 65535), help="In --target-unit.")
@click.option("--target-unit", type=enum_choice(ReductionUnit), default="kw", show_default=True)
@click.option("--appliance-reduction", type=enum_choice(ApplianceReduction), help="ENERGY STAR.")
@click.option("--mandatory", is_flag=True, help="drProgramMandatory.")
@click.option("--shift-forward", is_flag=True, help="loadShiftForward.")
@click.option("--override-duration", type=DURATION, help="How long a user override lasts.")
@event_options()
@json_option
@pass_ctx
def dr_control(
    ctx: CliContext,
    /,
    program_id: str,
    categories: tuple[int, ...],
    mandatory: bool,
    shift_forward: bool,
    override_duration: float | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Schedule a load control (EndDeviceControl) in PROGRAM_ID."""
    timing = event_timing(program_id, options)
    modes = LoadModes(
        duty_cycle_pct=options["duty_cycle"],
        cooling_offset_c=options["cooling_offset"],
        heating_offset_c=options["heating_offset"],
        load_adjustment_pct=options["load_adjust"],
        cooling_setpoint_c=options["cooling_setpoint"],
        heating_setpoint_c=options["heating_setpoint"],
        target_reduction=options["target_reduction"],
        target_unit=enum_member(ReductionUnit, options["target_unit"]),
        appliance_reduction=enum_member(ApplianceReduction, options["appliance_reduction"]),
    )
    bitmap = 0
    for category in categories:
        bitmap |= category
    event = LoadControl(
        **timing,
        device_category=bitmap,
        modes=modes,
        mandatory=mandatory,
        load_shift_forward=shift_forward,
        override_duration=None if override_duration is None else int(override_duration),
    )
    schedule_event(ctx, event, as_json)


common_commands(dr, PublicationKind.DEMAND)


# --- messaging --------------------------------------------------------------------------------


@click.group()
def message() -> None:
    """Messaging programs (2030.5 Messaging) and their text messages."""


@message.command("add")
@click.argument("program_id")
@program_options
@click.option("--locale", default="en-US", show_default=True, help="Language tag, e.g. en-AU.")
@json_option
@pass_ctx
def message_add(
    ctx: CliContext,
    program_id: str,
    groups: tuple[str, ...],
    primacy: int,
    description: str,
    locale: str,
    as_json: bool,
) -> None:
    """Create messaging program PROGRAM_ID for the groups."""
    item = MessageProgram(
        id=program_id,
        groups=frozenset(groups),
        description=description,
        primacy=primacy,
        locale=locale,
    )
    publish_item(ctx, item, as_json)


@message.command("send")
@click.argument("program_id")
@click.argument("text")
@click.option("--priority", type=enum_choice(MessagePriority), default="normal", show_default=True)
@click.option("--originator", default="", help="Who sends it (20 characters).")
@event_options(randomizable=False)
@json_option
@pass_ctx
def message_send(
    ctx: CliContext,
    /,
    program_id: str,
    text: str,
    priority: str,
    originator: str,
    as_json: bool,
    **options: Any,
) -> None:
    """Show TEXT on the displays of PROGRAM_ID's groups over an interval."""
    event = Message(
        **event_timing(program_id, options),
        text=text,
        priority=enum_member(MessagePriority, priority),
        originator=originator,
    )
    schedule_event(ctx, event, as_json)


common_commands(message, PublicationKind.MESSAGING)
