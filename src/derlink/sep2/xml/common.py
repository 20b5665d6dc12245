"""Types every function set uses: the Resource and List bases, the Event hierarchy, Link and
ListLink, and the unit-valued types (sep.xsd, IEEE 2030.5-2018 Annex B "Common" and
"Identification" packages).

Every ``...Link``/``...ListLink`` element of sep.xsd is typed here as :class:`Link` or
:class:`ListLink`: the named link types (``TimeLink``, ``DERListLink``, ...) add nothing to them.
"""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.model import ATTRIBUTE, Sep2Object, sep2_type
from derlink.sep2.xml.simple import (
    AnyURI,
    DERUnitRefType,
    HexBinary8,
    Int16,
    Int32,
    Int48,
    OneHourRangeType,
    PowerOfTenMultiplierType,
    SignedPerCent,
    String32,
    String192,
    SubscribableType,
    TimeType,
    UInt8,
    UInt16,
    UInt32,
    UInt48,
    UomType,
    VersionType,
    mRIDType,
)


@sep2_type
class Resource(Sep2Object):
    """Resource: anything addressable by ``href``; the base of every 2030.5 resource."""

    href: Annotated[AnyURI | None, ATTRIBUTE] = None


@sep2_type
class Link(Sep2Object):
    """Link: a reference to a resource by ``href`` (every ``...Link`` element is one)."""

    href: Annotated[AnyURI, ATTRIBUTE]


@sep2_type
class ListLink(Link):
    """ListLink: a Link to a list resource, with ``all`` (the list's size) when known."""

    all: Annotated[UInt32 | None, ATTRIBUTE] = None


@sep2_type
class List(Resource):
    """List: the base of list resources; ``all`` counts the list, ``results`` this page."""

    all: Annotated[UInt32, ATTRIBUTE]
    results: Annotated[UInt32, ATTRIBUTE]


@sep2_type
class SubscribableResource(Resource):
    """SubscribableResource: a Resource a client may subscribe to."""

    subscribable: Annotated[SubscribableType | None, ATTRIBUTE] = None


@sep2_type
class SubscribableList(SubscribableResource):
    """SubscribableList: a List a client may subscribe to."""

    all: Annotated[UInt32, ATTRIBUTE]
    results: Annotated[UInt32, ATTRIBUTE]


@sep2_type
class IdentifiedObject(Resource):
    """IdentifiedObject: a Resource with a global ``mRID`` (HexBinary128)."""

    mRID: mRIDType
    description: String32 | None = None
    version: VersionType | None = None


@sep2_type
class SubscribableIdentifiedObject(SubscribableResource):
    """SubscribableIdentifiedObject: an IdentifiedObject that is subscribable."""

    mRID: mRIDType
    description: String32 | None = None
    version: VersionType | None = None


@sep2_type
class RespondableResource(Resource):
    """RespondableResource: a Resource that asks for Responses (``replyTo``,
    ``responseRequired`` bitmap).
    """

    replyTo: Annotated[AnyURI | None, ATTRIBUTE] = None
    responseRequired: Annotated[HexBinary8 | None, ATTRIBUTE] = None


@sep2_type
class RespondableSubscribableIdentifiedObject(RespondableResource):
    """RespondableSubscribableIdentifiedObject: the base of events."""

    subscribable: Annotated[SubscribableType | None, ATTRIBUTE] = None
    mRID: mRIDType
    description: String32 | None = None
    version: VersionType | None = None


@sep2_type
class DateTimeInterval(Sep2Object):
    """DateTimeInterval: ``start`` (TimeType, seconds since 1970 UTC) and ``duration`` (s)."""

    duration: UInt32
    start: TimeType


@sep2_type
class EventStatus(Sep2Object):
    """EventStatus: ``currentStatus`` 0 scheduled, 1 active, 2 cancelled, 3 cancelled with
    randomization, 4 superseded; ``potentiallySuperseded`` is mandatory.
    """

    currentStatus: UInt8
    dateTime: TimeType
    potentiallySuperseded: bool
    potentiallySupersededTime: TimeType | None = None
    reason: String192 | None = None


@sep2_type
class Event(RespondableSubscribableIdentifiedObject):
    """Event: a scheduled action with an ``interval`` and an EventStatus."""

    creationTime: TimeType
    EventStatus: EventStatus
    interval: DateTimeInterval


@sep2_type
class RandomizableEvent(Event):
    """RandomizableEvent: an Event whose start and duration may be randomised."""

    randomizeDuration: OneHourRangeType | None = None
    randomizeStart: OneHourRangeType | None = None


@sep2_type
class ActivePower(Sep2Object):
    """ActivePower: ``value`` × 10^``multiplier`` W."""

    multiplier: PowerOfTenMultiplierType
    value: Int16


@sep2_type
class ReactivePower(Sep2Object):
    """ReactivePower: ``value`` × 10^``multiplier`` var."""

    multiplier: PowerOfTenMultiplierType
    value: Int16


@sep2_type
class ApparentPower(Sep2Object):
    """ApparentPower: ``value`` × 10^``multiplier`` VA."""

    multiplier: PowerOfTenMultiplierType
    value: UInt16


@sep2_type
class AmpereHour(Sep2Object):
    """AmpereHour: ``value`` × 10^``multiplier`` Ah."""

    multiplier: PowerOfTenMultiplierType
    value: UInt16


@sep2_type
class WattHour(Sep2Object):
    """WattHour: ``value`` × 10^``multiplier`` Wh."""

    multiplier: PowerOfTenMultiplierType
    value: UInt16


@sep2_type
class VoltageRMS(Sep2Object):
    """VoltageRMS: ``value`` × 10^``multiplier`` V."""

    multiplier: PowerOfTenMultiplierType
    value: UInt16


@sep2_type
class CurrentRMS(Sep2Object):
    """CurrentRMS: ``value`` × 10^``multiplier`` A."""

    multiplier: PowerOfTenMultiplierType
    value: UInt16


@sep2_type
class PowerFactor(Sep2Object):
    """PowerFactor: ``displacement`` × 10^``multiplier``."""

    displacement: UInt16
    multiplier: PowerOfTenMultiplierType


@sep2_type
class PowerFactorWithExcitation(Sep2Object):
    """PowerFactorWithExcitation: a power factor and whether it is over-excited."""

    displacement: UInt16
    excitation: bool
    multiplier: PowerOfTenMultiplierType


@sep2_type
class FixedVar(Sep2Object):
    """FixedVar: reactive power as a SignedPerCent of the reference ``refType``."""

    refType: DERUnitRefType
    value: SignedPerCent


@sep2_type
class FixedPointType(Sep2Object):
    """FixedPointType: ``value`` × 10^``multiplier``."""

    multiplier: PowerOfTenMultiplierType
    value: Int16


@sep2_type
class RealEnergy(Sep2Object):
    """RealEnergy: ``value`` (UInt48) × 10^``multiplier`` Wh."""

    multiplier: PowerOfTenMultiplierType
    value: UInt48


@sep2_type
class UnitValueType(Sep2Object):
    """UnitValueType: ``value`` × 10^``multiplier`` in ``unit`` (UomType)."""

    multiplier: PowerOfTenMultiplierType
    unit: UomType
    value: Int32


@sep2_type
class SignedRealEnergy(Sep2Object):
    """SignedRealEnergy: ``value`` (Int48) × 10^``multiplier`` Wh."""

    multiplier: PowerOfTenMultiplierType
    value: Int48


@sep2_type
class ReactiveSusceptance(Sep2Object):
    """ReactiveSusceptance: ``value`` × 10^``multiplier`` siemens."""

    multiplier: PowerOfTenMultiplierType
    value: UInt16


@sep2_type
class Error(Sep2Object):
    """Error: the body of an error response; ``reasonCode`` from the standard's table."""

    maxRetryDuration: UInt16 | None = None
    reasonCode: UInt16
