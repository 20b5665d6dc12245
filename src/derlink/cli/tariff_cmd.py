"""``derlink tariff``: tariffs for groups (IEEE 2030.5 Pricing), their rate components (what is
priced) and their time-of-use price intervals with consumption blocks.

Prices are typed in currency (0.25) and stored as whole counts of 10^price-exponent of it (2500
with -4): a price the tariff's exponent cannot hold exactly is refused, never rounded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import click

from derlink.cli.context import CliContext, pass_ctx
from derlink.cli.fleet import json_option, output
from derlink.cli.publish_cmd import (
    common_commands,
    enum_choice,
    enum_member,
    event_options,
    event_timing,
    program_options,
    publish_item,
    run_pub,
)
from derlink.cli.units import _Parsed
from derlink.control.publications import PublicationService
from derlink.domain import (
    Event,
    FlowDirection,
    PriceBlock,
    PublicationKind,
    RateComponent,
    ServiceKind,
    Tariff,
    TariffInterval,
)

CURRENCIES = {"AUD": 36, "CAD": 124, "CHF": 756, "EUR": 978, "GBP": 826, "NZD": 554, "USD": 840}
UNITS = {"Wh": 0, "kWh": 3, "MWh": 6}


def parse_currency(text: str) -> int:
    """An ISO 4217 code (AUD, EUR...) or its number."""
    if text.isdigit() and int(text) <= 999:
        return int(text)
    if text.upper() in CURRENCIES:
        return CURRENCIES[text.upper()]
    raise ValueError(f"{text!r} is not a currency: use {', '.join(CURRENCIES)} or its number")


def parse_block(text: str) -> tuple[int, str]:
    """``PRICE`` (from 0 units) or ``FROM:PRICE``, e.g. 0.25 or 1000:0.31."""
    start, _, price = text.rpartition(":")
    try:
        Decimal(price)
    except ArithmeticError:
        raise ValueError(f"{text!r} is not PRICE or FROM:PRICE, e.g. 0.25 or 1000:0.31") from None
    if start and not start.isdigit():
        raise ValueError(f"{text!r}: FROM must be a whole number of units")
    return int(start or 0), price


CURRENCY = _Parsed("currency", parse_currency)
BLOCK = _Parsed("price", parse_block)


@click.group()
def tariff() -> None:
    """Tariffs (2030.5 Pricing): rate components and time-of-use price intervals."""


@tariff.command("add")
@click.argument("tariff_id")
@program_options
@click.option("--currency", type=CURRENCY, default="0", help="AUD, EUR, USD... or ISO 4217 number.")
@click.option(
    "--price-exponent",
    type=click.IntRange(-9, 9),
    default=-4,
    show_default=True,
    help="Prices count in 10^N of the currency.",
)
@click.option("--rate-code", default="", help="The provider's rate code (20 characters).")
@click.option("--service", type=enum_choice(ServiceKind), default="electricity", show_default=True)
@json_option
@pass_ctx
def tariff_add(
    ctx: CliContext,
    /,
    tariff_id: str,
    groups: tuple[str, ...],
    primacy: int,
    description: str,
    currency: int,
    price_exponent: int,
    rate_code: str,
    service: str,
    as_json: bool,
) -> None:
    """Create tariff TARIFF_ID for the groups."""
    item = Tariff(
        id=tariff_id,
        groups=frozenset(groups),
        description=description,
        primacy=primacy,
        currency=currency,
        price_exponent=price_exponent,
        rate_code=rate_code,
        service_kind=enum_member(ServiceKind, service),
    )
    publish_item(ctx, item, as_json)


@tariff.command("component")
@click.argument("tariff_id")
@click.argument("component_id")
@click.option(
    "--flow",
    type=click.Choice(["import", "export"]),
    default="import",
    show_default=True,
    help="Energy delivered to the site, or received from it.",
)
@click.option("--unit", type=click.Choice(list(UNITS)), default="kWh", show_default=True)
@click.option(
    "--role-flags",
    type=lambda v: int(v, 0),
    default="0x02",
    show_default=True,
    help="RoleFlagsType of the usage point priced.",
)
@click.option("--description", default="", help="Shown to clients (32 characters).")
@json_option
@pass_ctx
def tariff_component(
    ctx: CliContext,
    /,
    tariff_id: str,
    component_id: str,
    flow: str,
    unit: str,
    role_flags: int,
    description: str,
    as_json: bool,
) -> None:
    """Add rate component COMPONENT_ID (what is priced) to TARIFF_ID."""
    component = RateComponent(
        id=component_id,
        description=description,
        flow=FlowDirection.FORWARD if flow == "import" else FlowDirection.REVERSE,
        unit_exponent=UNITS[unit],
        role_flags=role_flags,
    )
    made = run_pub(ctx, lambda p: p.add_rate_component(tariff_id, component, actor=ctx.actor))
    output(made, as_json, lambda: click.echo(f"tariff {tariff_id}: component {component_id}"))


@tariff.command("price")
@click.argument("tariff_id")
@click.argument("component_id")
@click.option(
    "--price",
    "blocks",
    type=BLOCK,
    multiple=True,
    required=True,
    help="PRICE per unit, or FROM:PRICE for a consumption block (repeatable).",
)
@click.option("--tier", type=click.IntRange(0, 15), default=0, help="Time-of-use tier (1 = A).")
@event_options()
@json_option
@pass_ctx
def tariff_price(
    ctx: CliContext,
    /,
    tariff_id: str,
    component_id: str,
    blocks: tuple[tuple[int, str], ...],
    tier: int,
    as_json: bool,
    **options: Any,
) -> None:
    """Price COMPONENT_ID of TARIFF_ID over an interval, e.g. --price 0.25 --price 1000:0.31."""
    timing = event_timing(tariff_id, options)

    async def work(p: PublicationService) -> Event:
        found = await p.publication(PublicationKind.TARIFF, tariff_id)
        assert isinstance(found, Tariff)
        prices = tuple(PriceBlock(start, found.price_units(price)) for start, price in blocks)
        interval = TariffInterval(**timing, component=component_id, tou_tier=tier, blocks=prices)
        return await p.schedule(interval, actor=ctx.actor)

    made = run_pub(ctx, work)
    output(made, as_json, lambda: click.echo(f"event {made.mrid} in {made.program}"))


common_commands(tariff, PublicationKind.TARIFF)
