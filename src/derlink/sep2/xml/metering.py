"""Metering and Metering Mirror function sets: UsagePoint/MeterReading/ReadingSet/Reading on
the server, and the MirrorUsagePoint/MirrorMeterReading a client posts its readings into.
"""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.common import (
    DateTimeInterval,
    IdentifiedObject,
    Link,
    List,
    ListLink,
    Resource,
    SubscribableList,
    UnitValueType,
)
from derlink.sep2.xml.model import ATTRIBUTE, sep2_type
from derlink.sep2.xml.simple import (
    AccumulationBehaviourType,
    CommodityType,
    ConsumptionBlockType,
    DataQualifierType,
    FlowDirectionType,
    HexBinary16,
    HexBinary160,
    Int48,
    KindType,
    PhaseCode,
    PowerOfTenMultiplierType,
    RoleFlagsType,
    ServiceKind,
    SubscribableType,
    TimeType,
    TOUType,
    UInt8,
    UInt32,
    UInt48,
    UomType,
)


@sep2_type
class ReadingType(Resource):
    """ReadingType: what readings mean (uom, kind, multiplier, intervals, ...)."""

    accumulationBehaviour: AccumulationBehaviourType | None = None
    calorificValue: UnitValueType | None = None
    commodity: CommodityType | None = None
    conversionFactor: UnitValueType | None = None
    dataQualifier: DataQualifierType | None = None
    flowDirection: FlowDirectionType | None = None
    intervalLength: UInt32 | None = None
    kind: KindType | None = None
    maxNumberOfIntervals: UInt8 | None = None
    numberOfConsumptionBlocks: UInt8 | None = None
    numberOfTouTiers: UInt8 | None = None
    phase: PhaseCode | None = None
    powerOfTenMultiplier: PowerOfTenMultiplierType | None = None
    subIntervalLength: UInt32 | None = None
    supplyLimit: UInt48 | None = None
    tieredConsumptionBlocks: bool | None = None
    uom: UomType | None = None


@sep2_type
class ReadingBase(Resource):
    """ReadingBase: a value with its time period, quality and tier."""

    consumptionBlock: ConsumptionBlockType | None = None
    qualityFlags: HexBinary16 | None = None
    timePeriod: DateTimeInterval | None = None
    touTier: TOUType | None = None
    value: Int48 | None = None


@sep2_type
class Reading(ReadingBase):
    """Reading: one meter reading."""

    subscribable: Annotated[SubscribableType | None, ATTRIBUTE] = None
    localID: HexBinary16 | None = None


@sep2_type
class ReadingList(SubscribableList):
    """ReadingList: the Readings of a ReadingSet."""

    Reading: tuple[Reading, ...] = ()


@sep2_type
class ReadingSetBase(IdentifiedObject):
    """ReadingSetBase: a set of readings over ``timePeriod``."""

    timePeriod: DateTimeInterval


@sep2_type
class ReadingSet(ReadingSetBase):
    """ReadingSet: a set of readings on the server."""

    ReadingListLink: ListLink | None = None


@sep2_type
class ReadingSetList(SubscribableList):
    """ReadingSetList: the ReadingSets of a MeterReading."""

    ReadingSet: tuple[ReadingSet, ...] = ()


@sep2_type
class MeterReadingBase(IdentifiedObject):
    """MeterReadingBase: the identity of a MeterReading."""


@sep2_type
class MeterReading(MeterReadingBase):
    """MeterReading: one measured quantity of a UsagePoint."""

    RateComponentListLink: ListLink | None = None
    ReadingLink: Link | None = None
    ReadingSetListLink: ListLink | None = None
    ReadingTypeLink: Link


@sep2_type
class MeterReadingList(SubscribableList):
    """MeterReadingList: the MeterReadings of a UsagePoint."""

    MeterReading: tuple[MeterReading, ...] = ()


@sep2_type
class UsagePointBase(IdentifiedObject):
    """UsagePointBase: ``roleFlags``, ``serviceCategoryKind`` and ``status`` of a usage point."""

    roleFlags: RoleFlagsType
    serviceCategoryKind: ServiceKind
    status: UInt8


@sep2_type
class UsagePoint(UsagePointBase):
    """UsagePoint: a point where a commodity is measured."""

    deviceLFDI: HexBinary160 | None = None
    MeterReadingListLink: ListLink | None = None


@sep2_type
class UsagePointList(SubscribableList):
    """UsagePointList: the UsagePoints a server publishes."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    UsagePoint: tuple[UsagePoint, ...] = ()


@sep2_type
class MirrorReadingSet(ReadingSetBase):
    """MirrorReadingSet: readings a client posts into a mirror."""

    Reading: tuple[Reading, ...] = ()


@sep2_type
class MirrorMeterReading(MeterReadingBase):
    """MirrorMeterReading: one quantity a client mirrors (with its ReadingType)."""

    lastUpdateTime: TimeType | None = None
    MirrorReadingSet: tuple[MirrorReadingSet, ...] = ()
    nextUpdateTime: TimeType | None = None
    Reading: Reading | None = None
    ReadingType: ReadingType | None = None


@sep2_type
class MirrorMeterReadingList(List):
    """MirrorMeterReadingList: MirrorMeterReadings posted together."""

    MirrorMeterReading: tuple[MirrorMeterReading, ...] = ()


@sep2_type
class MirrorUsagePoint(UsagePointBase):
    """MirrorUsagePoint: a usage point a client mirrors to the server."""

    deviceLFDI: HexBinary160
    MirrorMeterReading: tuple[MirrorMeterReading, ...] = ()
    postRate: UInt32 | None = None


@sep2_type
class MirrorUsagePointList(List):
    """MirrorUsagePointList: the MirrorUsagePoints on a server."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    MirrorUsagePoint: tuple[MirrorUsagePoint, ...] = ()
