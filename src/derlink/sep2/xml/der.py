"""Distributed Energy Resources function set (IEEE 2030.5-2018 §10.10): programs, controls,
curves, and a DER's capability, settings, status and availability; with the CSIP-AUS
extension elements.
"""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.common import (
    ActivePower,
    AmpereHour,
    ApparentPower,
    CurrentRMS,
    FixedVar,
    IdentifiedObject,
    Link,
    List,
    ListLink,
    PowerFactor,
    PowerFactorWithExcitation,
    RandomizableEvent,
    ReactivePower,
    ReactiveSusceptance,
    Resource,
    SubscribableIdentifiedObject,
    SubscribableList,
    SubscribableResource,
    VoltageRMS,
    WattHour,
)
from derlink.sep2.xml.model import ATTRIBUTE, CSIPAUS, CSIPAUS_V13, Occurs, Sep2Object, sep2_type
from derlink.sep2.xml.simple import (
    DERControlType,
    DERCurveType,
    DERType,
    DERUnitRefType,
    DeviceCategoryType,
    DOEControlType,
    HexBinary8,
    HexBinary32,
    Int16,
    Int32,
    PerCent,
    PowerOfTenMultiplierType,
    PrimacyType,
    SignedPerCent,
    String6,
    TimeType,
    UInt8,
    UInt16,
    UInt32,
    VPPControlType,
)


@sep2_type
class DERProgram(SubscribableIdentifiedObject):
    """DERProgram: a program of DER controls with a ``primacy`` (lower wins)."""

    ActiveDERControlListLink: ListLink | None = None
    DefaultDERControlLink: Link | None = None
    DERControlListLink: ListLink | None = None
    DERCurveListLink: ListLink | None = None
    primacy: PrimacyType


@sep2_type
class DERProgramList(SubscribableList):
    """DERProgramList: the DERPrograms of a FunctionSetAssignments."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    DERProgram: tuple[DERProgram, ...] = ()


@sep2_type
class FreqDroopType(Sep2Object):
    """FreqDroopType: frequency-droop parameters (dead bands, gains, open-loop time)."""

    dBOF: UInt32
    dBUF: UInt32
    kOF: UInt16
    kUF: UInt16
    openLoopTms: UInt16


@sep2_type
class DERControlBase(Sep2Object):
    """DERControlBase: the operating modes one control sets.

    CSIP-AUS appends, after ``rampTms`` and in the csipaus namespace, the dynamic operating
    envelope limits ``opModImpLimW``, ``opModExpLimW``, ``opModGenLimW``, ``opModLoadLimW``, and
    from v1.3 ``opModStorageTargetW``.
    """

    opModConnect: bool | None = None
    opModEnergize: bool | None = None
    opModFixedPFAbsorbW: PowerFactorWithExcitation | None = None
    opModFixedPFInjectW: PowerFactorWithExcitation | None = None
    opModFixedVar: FixedVar | None = None
    opModFixedW: SignedPerCent | None = None
    opModFreqDroop: FreqDroopType | None = None
    opModFreqWatt: Link | None = None
    opModHFRTMayTrip: Link | None = None
    opModHFRTMustTrip: Link | None = None
    opModHVRTMayTrip: Link | None = None
    opModHVRTMomentaryCessation: Link | None = None
    opModHVRTMustTrip: Link | None = None
    opModLFRTMayTrip: Link | None = None
    opModLFRTMustTrip: Link | None = None
    opModLVRTMayTrip: Link | None = None
    opModLVRTMomentaryCessation: Link | None = None
    opModLVRTMustTrip: Link | None = None
    opModMaxLimW: PerCent | None = None
    opModTargetVar: ReactivePower | None = None
    opModTargetW: ActivePower | None = None
    opModVoltVar: Link | None = None
    opModVoltWatt: Link | None = None
    opModWattPF: Link | None = None
    opModWattVar: Link | None = None
    rampTms: UInt16 | None = None
    opModImpLimW: Annotated[ActivePower | None, CSIPAUS] = None
    opModExpLimW: Annotated[ActivePower | None, CSIPAUS] = None
    opModGenLimW: Annotated[ActivePower | None, CSIPAUS] = None
    opModLoadLimW: Annotated[ActivePower | None, CSIPAUS] = None
    opModStorageTargetW: Annotated[ActivePower | None, CSIPAUS_V13] = None


@sep2_type
class DERControl(RandomizableEvent):
    """DERControl: a scheduled DER control event (IEEE 2030.5-2018 §10.10)."""

    DERControlBase: DERControlBase
    deviceCategory: DeviceCategoryType | None = None


@sep2_type
class DERControlList(SubscribableList):
    """DERControlList: the DERControls of a DERProgram."""

    DERControl: tuple[DERControl, ...] = ()


@sep2_type
class DefaultDERControl(SubscribableIdentifiedObject):
    """DefaultDERControl: the modes in force when no DERControl is active."""

    DERControlBase: DERControlBase
    setESDelay: UInt32 | None = None
    setESHighFreq: UInt16 | None = None
    setESHighVolt: Int16 | None = None
    setESLowFreq: UInt16 | None = None
    setESLowVolt: Int16 | None = None
    setESRampTms: UInt32 | None = None
    setESRandomDelay: UInt32 | None = None
    setGradW: UInt16 | None = None
    setSoftGradW: UInt16 | None = None


@sep2_type
class CurveData(Sep2Object):
    """CurveData: one (x, y) point of a DERCurve."""

    excitation: bool | None = None
    xvalue: Int32
    yvalue: Int32


@sep2_type
class DERCurve(IdentifiedObject):
    """DERCurve: a curve (volt-var, volt-watt, ...) of 1 to 10 points."""

    autonomousVRefEnable: bool | None = None
    autonomousVRefTimeConstant: UInt32 | None = None
    creationTime: TimeType
    CurveData: Annotated[tuple[CurveData, ...], Occurs(1, 10)] = ()
    curveType: DERCurveType
    openLoopTms: UInt16 | None = None
    rampDecTms: UInt16 | None = None
    rampIncTms: UInt16 | None = None
    rampPT1Tms: UInt16 | None = None
    vRef: PerCent | None = None
    xMultiplier: PowerOfTenMultiplierType
    yMultiplier: PowerOfTenMultiplierType
    yRefType: DERUnitRefType


@sep2_type
class DERCurveList(List):
    """DERCurveList: the DERCurves of a DERProgram."""

    DERCurve: tuple[DERCurve, ...] = ()


@sep2_type
class DER(SubscribableResource):
    """DER: one distributed energy resource of an EndDevice, linking its four descriptions."""

    AssociatedDERProgramListLink: ListLink | None = None
    AssociatedUsagePointLink: Link | None = None
    CurrentDERProgramLink: Link | None = None
    DERAvailabilityLink: Link | None = None
    DERCapabilityLink: Link | None = None
    DERSettingsLink: Link | None = None
    DERStatusLink: Link | None = None


@sep2_type
class DERList(List):
    """DERList: the DERs of an EndDevice."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    DER: tuple[DER, ...] = ()


@sep2_type
class DERCapability(Resource):
    """DERCapability: nameplate ratings and supported modes.

    CSIP-AUS appends ``doeModesSupported`` (and from v1.3 ``vppModesSupported``) in the csipaus
    namespace. csipaus-core.xsd makes ``doeModesSupported`` mandatory; it is optional here so
    plain 2030.5 clients decode too (see the package notes).
    """

    modesSupported: DERControlType
    rtgAbnormalCategory: UInt8 | None = None
    rtgMaxA: CurrentRMS | None = None
    rtgMaxAh: AmpereHour | None = None
    rtgMaxChargeRateVA: ApparentPower | None = None
    rtgMaxChargeRateW: ActivePower | None = None
    rtgMaxDischargeRateVA: ApparentPower | None = None
    rtgMaxDischargeRateW: ActivePower | None = None
    rtgMaxV: VoltageRMS | None = None
    rtgMaxVA: ApparentPower | None = None
    rtgMaxVar: ReactivePower | None = None
    rtgMaxVarNeg: ReactivePower | None = None
    rtgMaxW: ActivePower
    rtgMaxWh: WattHour | None = None
    rtgMinPFOverExcited: PowerFactor | None = None
    rtgMinPFUnderExcited: PowerFactor | None = None
    rtgMinV: VoltageRMS | None = None
    rtgNormalCategory: UInt8 | None = None
    rtgOverExcitedPF: PowerFactor | None = None
    rtgOverExcitedW: ActivePower | None = None
    rtgReactiveSusceptance: ReactiveSusceptance | None = None
    rtgUnderExcitedPF: PowerFactor | None = None
    rtgUnderExcitedW: ActivePower | None = None
    rtgVNom: VoltageRMS | None = None
    type: DERType
    doeModesSupported: Annotated[DOEControlType | None, CSIPAUS] = None
    vppModesSupported: Annotated[VPPControlType | None, CSIPAUS_V13] = None


@sep2_type
class DERSettings(SubscribableResource):
    """DERSettings: the settings a DER is actually using.

    CSIP-AUS appends ``doeModesEnabled`` (and from v1.3 ``vppModesEnabled``, ``setMinWh``).
    """

    modesEnabled: DERControlType | None = None
    setESDelay: UInt32 | None = None
    setESHighFreq: UInt16 | None = None
    setESHighVolt: Int16 | None = None
    setESLowFreq: UInt16 | None = None
    setESLowVolt: Int16 | None = None
    setESRampTms: UInt32 | None = None
    setESRandomDelay: UInt32 | None = None
    setGradW: UInt16
    setMaxA: CurrentRMS | None = None
    setMaxAh: AmpereHour | None = None
    setMaxChargeRateVA: ApparentPower | None = None
    setMaxChargeRateW: ActivePower | None = None
    setMaxDischargeRateVA: ApparentPower | None = None
    setMaxDischargeRateW: ActivePower | None = None
    setMaxV: VoltageRMS | None = None
    setMaxVA: ApparentPower | None = None
    setMaxVar: ReactivePower | None = None
    setMaxVarNeg: ReactivePower | None = None
    setMaxW: ActivePower
    setMaxWh: WattHour | None = None
    setMinPFOverExcited: PowerFactor | None = None
    setMinPFUnderExcited: PowerFactor | None = None
    setMinV: VoltageRMS | None = None
    setSoftGradW: UInt16 | None = None
    setVNom: VoltageRMS | None = None
    setVRef: VoltageRMS | None = None
    setVRefOfs: VoltageRMS | None = None
    updatedTime: TimeType
    doeModesEnabled: Annotated[DOEControlType | None, CSIPAUS] = None
    vppModesEnabled: Annotated[VPPControlType | None, CSIPAUS_V13] = None
    setMinWh: Annotated[WattHour | None, CSIPAUS_V13] = None


@sep2_type
class ConnectStatusType(Sep2Object):
    """ConnectStatusType: connection status bitmap and when it was read."""

    dateTime: TimeType
    value: HexBinary8


@sep2_type
class InverterStatusType(Sep2Object):
    """InverterStatusType: inverter status code and when it was read."""

    dateTime: TimeType
    value: UInt8


@sep2_type
class LocalControlModeStatusType(Sep2Object):
    """LocalControlModeStatusType: local/remote control mode and when it was read."""

    dateTime: TimeType
    value: UInt8


@sep2_type
class ManufacturerStatusType(Sep2Object):
    """ManufacturerStatusType: a short manufacturer status string and its time."""

    dateTime: TimeType
    value: String6


@sep2_type
class OperationalModeStatusType(Sep2Object):
    """OperationalModeStatusType: operational mode code and when it was read."""

    dateTime: TimeType
    value: UInt8


@sep2_type
class StateOfChargeStatusType(Sep2Object):
    """StateOfChargeStatusType: state of charge (PerCent) and when it was read."""

    dateTime: TimeType
    value: PerCent


@sep2_type
class StorageModeStatusType(Sep2Object):
    """StorageModeStatusType: storage mode code and when it was read."""

    dateTime: TimeType
    value: UInt8


@sep2_type
class DERStatus(SubscribableResource):
    """DERStatus: the DER's current status, each part with its own time."""

    alarmStatus: HexBinary32 | None = None
    genConnectStatus: ConnectStatusType | None = None
    inverterStatus: InverterStatusType | None = None
    localControlModeStatus: LocalControlModeStatusType | None = None
    manufacturerStatus: ManufacturerStatusType | None = None
    operationalModeStatus: OperationalModeStatusType | None = None
    readingTime: TimeType
    stateOfChargeStatus: StateOfChargeStatusType | None = None
    storageModeStatus: StorageModeStatusType | None = None
    storConnectStatus: ConnectStatusType | None = None


@sep2_type
class DERAvailability(SubscribableResource):
    """DERAvailability: what the DER can deliver now (reserves, available W/var)."""

    availabilityDuration: UInt32 | None = None
    maxChargeDuration: UInt32 | None = None
    readingTime: TimeType
    reserveChargePercent: PerCent | None = None
    reservePercent: PerCent | None = None
    statVarAvail: ReactivePower | None = None
    statWAvail: ActivePower | None = None
