"""Tariffs: time-of-use and block prices published to groups (IEEE 2030.5 Pricing, §10.5).

A :class:`Tariff` (TariffProfile) has a currency, the power of ten its prices are counted in,
a primacy and a rate code; its :class:`RateComponent` s say what is priced (energy delivered
to or received from the site, in kWh...). A :class:`TariffInterval` (TimeTariffInterval) is an
event: over its window one time-of-use tier applies, priced in consumption blocks
(ConsumptionTariffInterval: from ``start`` units on, ``price`` per unit).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import ClassVar

from derlink.domain.errors import DomainError
from derlink.domain.events import Event, RankedPublication, check_event
from derlink.domain.fleet import check_name

INT32 = 2**31
UINT48 = 2**48
MAX_TIER = 15  # TOUType: 0 not applicable, 1..15 TOU A..O
MAX_BLOCKS = 16  # ConsumptionBlockType 1..16


class ServiceKind(enum.IntEnum):
    """IEEE 2030.5 ServiceKind."""

    ELECTRICITY = 0
    GAS = 1
    WATER = 2
    TIME = 3
    PRESSURE = 4
    HEAT = 5
    COOLING = 6


class FlowDirection(enum.IntEnum):
    """IEEE 2030.5 FlowDirectionType: forward is delivered to the site (import), reverse is
    received from it (export)."""

    FORWARD = 1
    REVERSE = 19


@dataclass(frozen=True, slots=True)
class RateComponent:
    """What one price applies to: a flow, counted in 10^``unit_exponent`` of ``uom``
    (IEEE 2030.5 UomType, 72 = Wh; exponent 3 makes the unit kWh), at a usage point with
    ``role_flags`` (RoleFlagsType; 0x02 premises aggregation point)."""

    id: str
    description: str = ""
    flow: FlowDirection = FlowDirection.FORWARD
    uom: int = 72
    unit_exponent: int = 3
    role_flags: int = 0x02

    def __post_init__(self) -> None:
        check_name("rate component", self.id)
        object.__setattr__(self, "flow", FlowDirection(self.flow))
        if not 0 <= self.uom <= 255 or not -9 <= self.unit_exponent <= 9:
            raise DomainError("unit of measure must be 0..255 and its exponent -9..9")
        if not 0 <= self.role_flags <= 0xFFFF:
            raise DomainError(f"role flags {self.role_flags:#x} must fit 16 bits")


@dataclass(frozen=True, slots=True, kw_only=True)
class Tariff(RankedPublication):
    """A tariff for groups: prices count in 10^``price_exponent`` of ``currency`` (ISO 4217
    numeric, e.g. 36 AUD, 840 USD, 978 EUR)."""

    LABEL: ClassVar[str] = "tariff"

    currency: int = 0
    price_exponent: int = 0
    rate_code: str = ""
    service_kind: ServiceKind = ServiceKind.ELECTRICITY
    components: tuple[RateComponent, ...] = ()

    def __post_init__(self) -> None:
        RankedPublication.__post_init__(self)
        object.__setattr__(self, "service_kind", ServiceKind(self.service_kind))
        if not 0 <= self.currency <= 999:
            raise DomainError(f"currency {self.currency} is not an ISO 4217 numeric code")
        if not -9 <= self.price_exponent <= 9:
            raise DomainError(f"price power of ten {self.price_exponent} must be -9..9")
        if len(self.rate_code) > 20:
            raise DomainError("a rate code has at most 20 characters")
        ids = [c.id for c in self.components]
        if len(set(ids)) != len(ids):
            raise DomainError("two rate components share an id")

    def component(self, component_id: str) -> RateComponent:
        for component in self.components:
            if component.id == component_id:
                return component
        raise DomainError(f"tariff {self.id} has no rate component {component_id!r}")

    def price_units(self, amount: str | Decimal) -> int:
        """``amount`` of currency as a count of 10^price_exponent, refused when inexact."""
        try:
            value = Decimal(amount).scaleb(-self.price_exponent)
        except InvalidOperation:
            raise DomainError(f"{amount!r} is not a price") from None
        if value != value.to_integral_value() or not -INT32 <= value < INT32:
            step = Decimal(1).scaleb(self.price_exponent)
            raise DomainError(
                f"price {amount} is not a whole number of {step} (the tariff's power of ten)"
            )
        return int(value)


@dataclass(frozen=True, slots=True)
class PriceBlock:
    """One consumption block: from ``start`` units (UInt48) on, ``price`` (Int32 count of the
    tariff's price unit) per unit."""

    start: int
    price: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < UINT48:
            raise DomainError(f"block start {self.start} must be 0..2^48-1")
        if not -INT32 <= self.price < INT32:
            raise DomainError(f"price {self.price} does not fit 32 bits")


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffInterval(Event):
    """A time-of-use interval of rate component ``component`` of tariff ``program``.

    Blocks follow ConsumptionTariffInterval.startValue: the first starts at 0 and each next
    one higher (2030.5 Annex B).
    """

    component: str
    blocks: tuple[PriceBlock, ...]
    tou_tier: int = 0

    def __post_init__(self) -> None:
        check_event(self)
        check_name("rate component", self.component)
        if not 0 <= self.tou_tier <= MAX_TIER:
            raise DomainError(f"time-of-use tier {self.tou_tier} must be 0..{MAX_TIER}")
        if not 1 <= len(self.blocks) <= MAX_BLOCKS:
            raise DomainError(f"a price interval has 1 to {MAX_BLOCKS} price blocks")
        starts = [b.start for b in self.blocks]
        if starts[0] != 0 or any(a >= b for a, b in pairwise(starts)):
            raise DomainError("price blocks start at 0 and rise (e.g. 0, 1000, 5000)")
