"""Pricing function set: tariffs, rate components, time-of-use and consumption intervals."""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.common import (
    IdentifiedObject,
    Link,
    List,
    ListLink,
    RandomizableEvent,
    Resource,
    SubscribableList,
    UnitValueType,
)
from derlink.sep2.xml.model import ATTRIBUTE, Sep2Object, sep2_type
from derlink.sep2.xml.simple import (
    ConsumptionBlockType,
    CostKindType,
    CurrencyCode,
    Int32,
    PowerOfTenMultiplierType,
    PrimacyType,
    RoleFlagsType,
    ServiceKind,
    String20,
    TOUType,
    UInt8,
    UInt32,
    UInt48,
)


@sep2_type
class TariffProfile(IdentifiedObject):
    """TariffProfile: a tariff with its rate components."""

    currency: CurrencyCode | None = None
    pricePowerOfTenMultiplier: PowerOfTenMultiplierType | None = None
    primacy: PrimacyType
    rateCode: String20 | None = None
    RateComponentListLink: ListLink | None = None
    serviceCategoryKind: ServiceKind


@sep2_type
class TariffProfileList(SubscribableList):
    """TariffProfileList: the TariffProfiles of an FSA."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    TariffProfile: tuple[TariffProfile, ...] = ()


@sep2_type
class RateComponent(IdentifiedObject):
    """RateComponent: one priced quantity of a tariff."""

    ActiveTimeTariffIntervalListLink: ListLink | None = None
    flowRateEndLimit: UnitValueType | None = None
    flowRateStartLimit: UnitValueType | None = None
    ReadingTypeLink: Link
    roleFlags: RoleFlagsType
    TimeTariffIntervalListLink: ListLink


@sep2_type
class RateComponentList(List):
    """RateComponentList: the RateComponents of a TariffProfile."""

    RateComponent: tuple[RateComponent, ...] = ()


@sep2_type
class TimeTariffInterval(RandomizableEvent):
    """TimeTariffInterval: a time-of-use tier over an interval (an event)."""

    ConsumptionTariffIntervalListLink: ListLink | None = None
    touTier: TOUType


@sep2_type
class TimeTariffIntervalList(SubscribableList):
    """TimeTariffIntervalList: the intervals of a RateComponent."""

    TimeTariffInterval: tuple[TimeTariffInterval, ...] = ()


@sep2_type
class EnvironmentalCost(Sep2Object):
    """EnvironmentalCost: an environmental cost (e.g. carbon) of consumption."""

    amount: UInt32
    costKind: CostKindType
    costLevel: UInt8
    numCostLevels: UInt8


@sep2_type
class ConsumptionTariffInterval(Resource):
    """ConsumptionTariffInterval: the price of one consumption block."""

    consumptionBlock: ConsumptionBlockType
    EnvironmentalCost: tuple[EnvironmentalCost, ...] = ()
    price: Int32 | None = None
    startValue: UInt48


@sep2_type
class ConsumptionTariffIntervalList(List):
    """ConsumptionTariffIntervalList: the blocks of a TimeTariffInterval."""

    ConsumptionTariffInterval: tuple[ConsumptionTariffInterval, ...] = ()
