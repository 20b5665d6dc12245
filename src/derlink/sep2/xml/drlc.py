"""Demand Response and Load Control function set: programs and EndDeviceControl events with
their load-control parameters.
"""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.common import (
    ActivePower,
    IdentifiedObject,
    ListLink,
    RandomizableEvent,
    SubscribableList,
)
from derlink.sep2.xml.model import ATTRIBUTE, Sep2Object, sep2_type
from derlink.sep2.xml.simple import (
    ApplianceLoadReductionType,
    DeviceCategoryType,
    Int16,
    PerCent,
    PrimacyType,
    UInt8,
    UInt16,
    UInt32,
    UnitType,
)


@sep2_type
class ApplianceLoadReduction(Sep2Object):
    """ApplianceLoadReduction: a load-reduction type for smart appliances."""

    type: ApplianceLoadReductionType


@sep2_type
class DutyCycle(Sep2Object):
    """DutyCycle: the normal duty cycle (percent of time on)."""

    normalValue: UInt8


@sep2_type
class Offset(Sep2Object):
    """Offset: temperature and load offsets to apply."""

    coolingOffset: UInt8 | None = None
    heatingOffset: UInt8 | None = None
    loadAdjustmentPercentageOffset: PerCent | None = None


@sep2_type
class SetPoint(Sep2Object):
    """SetPoint: heating and cooling set points."""

    coolingSetpoint: Int16 | None = None
    heatingSetpoint: Int16 | None = None


@sep2_type
class TargetReduction(Sep2Object):
    """TargetReduction: a target reduction in ``type`` units."""

    type: UnitType
    value: UInt16


@sep2_type
class DemandResponseProgram(IdentifiedObject):
    """DemandResponseProgram: a program of EndDeviceControls."""

    ActiveEndDeviceControlListLink: ListLink | None = None
    availabilityUpdatePercentChangeThreshold: PerCent | None = None
    availabilityUpdatePowerChangeThreshold: ActivePower | None = None
    EndDeviceControlListLink: ListLink | None = None
    primacy: PrimacyType


@sep2_type
class DemandResponseProgramList(SubscribableList):
    """DemandResponseProgramList: the DemandResponsePrograms of an FSA."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    DemandResponseProgram: tuple[DemandResponseProgram, ...] = ()


@sep2_type
class EndDeviceControl(RandomizableEvent):
    """EndDeviceControl: a load-control event for the devices in ``deviceCategory``."""

    ApplianceLoadReduction: ApplianceLoadReduction | None = None
    deviceCategory: DeviceCategoryType
    drProgramMandatory: bool
    DutyCycle: DutyCycle | None = None
    loadShiftForward: bool
    Offset: Offset | None = None
    overrideDuration: UInt16 | None = None
    SetPoint: SetPoint | None = None
    TargetReduction: TargetReduction | None = None


@sep2_type
class EndDeviceControlList(SubscribableList):
    """EndDeviceControlList: the EndDeviceControls of a program."""

    EndDeviceControl: tuple[EndDeviceControl, ...] = ()
