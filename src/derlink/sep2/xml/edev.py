"""EndDevice function set: EndDevice, Registration, FunctionSetAssignments, and the device
descriptions (DeviceInformation, PowerStatus, DeviceStatus); plus CSIP-AUS's ConnectionPoint.
"""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.common import (
    ActivePower,
    Link,
    ListLink,
    RealEnergy,
    Resource,
    SubscribableList,
    SubscribableResource,
)
from derlink.sep2.xml.model import ATTRIBUTE, CSIPAUS, Sep2Object, csipaus_type, sep2_type
from derlink.sep2.xml.simple import (
    DeviceCategoryType,
    HexBinary32,
    HexBinary64,
    HexBinary160,
    Int16,
    PENType,
    PerCent,
    PINType,
    PowerOfTenMultiplierType,
    PowerSourceType,
    SFDIType,
    String32,
    SubscribableType,
    TimeType,
    UInt8,
    UInt16,
    UInt32,
    VersionType,
    mRIDType,
)


@sep2_type
class FunctionSetAssignmentsBase(Resource):
    """FunctionSetAssignmentsBase: links to the function-set lists a device is assigned."""

    CustomerAccountListLink: ListLink | None = None
    DemandResponseProgramListLink: ListLink | None = None
    DERProgramListLink: ListLink | None = None
    FileListLink: ListLink | None = None
    MessagingProgramListLink: ListLink | None = None
    PrepaymentListLink: ListLink | None = None
    ResponseSetListLink: ListLink | None = None
    TariffProfileListLink: ListLink | None = None
    TimeLink: Link | None = None
    UsagePointListLink: ListLink | None = None


@sep2_type
class FunctionSetAssignments(FunctionSetAssignmentsBase):
    """FunctionSetAssignments (FSA): a group of function-set lists, e.g. one per feeder."""

    subscribable: Annotated[SubscribableType | None, ATTRIBUTE] = None
    mRID: mRIDType
    description: String32 | None = None
    version: VersionType | None = None


@sep2_type
class FunctionSetAssignmentsList(SubscribableList):
    """FunctionSetAssignmentsList: the FSAs of one EndDevice."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    FunctionSetAssignments: tuple[FunctionSetAssignments, ...] = ()


@sep2_type
class AbstractDevice(SubscribableResource):
    """AbstractDevice: what EndDevice and SelfDevice share (lFDI, sFDI, links)."""

    ConfigurationLink: Link | None = None
    DERListLink: ListLink | None = None
    deviceCategory: DeviceCategoryType | None = None
    DeviceInformationLink: Link | None = None
    DeviceStatusLink: Link | None = None
    FileStatusLink: Link | None = None
    IPInterfaceListLink: ListLink | None = None
    lFDI: HexBinary160 | None = None
    LoadShedAvailabilityListLink: ListLink | None = None
    LogEventListLink: ListLink | None = None
    PowerStatusLink: Link | None = None
    sFDI: SFDIType


@sep2_type
class EndDevice(AbstractDevice):
    """EndDevice: a client device as the server knows it.

    CSIP-AUS adds ``ConnectionPointLink`` (csipaus namespace) after ``SubscriptionListLink``.
    """

    changedTime: TimeType
    enabled: bool | None = None
    FlowReservationRequestListLink: ListLink | None = None
    FlowReservationResponseListLink: ListLink | None = None
    FunctionSetAssignmentsListLink: ListLink | None = None
    postRate: UInt32 | None = None
    RegistrationLink: Link | None = None
    SubscriptionListLink: ListLink | None = None
    ConnectionPointLink: Annotated[Link | None, CSIPAUS] = None


@sep2_type
class EndDeviceList(SubscribableList):
    """EndDeviceList: the EndDevices a client may see."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    EndDevice: tuple[EndDevice, ...] = ()


@sep2_type
class Registration(Resource):
    """Registration: when the device was registered and its ``pIN``."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    dateTimeRegistered: TimeType
    pIN: PINType


@sep2_type
class DRLCCapabilities(Sep2Object):
    """DRLCCapabilities: the demand-response abilities of a device."""

    averageEnergy: RealEnergy
    maxDemand: ActivePower
    optionsImplemented: HexBinary32


@sep2_type
class GPSLocationType(Sep2Object):
    """GPSLocationType: latitude and longitude as decimal strings."""

    lat: String32
    lon: String32


@sep2_type
class DeviceInformation(Resource):
    """DeviceInformation: manufacturer, model, versions and power sources of a device."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    DRLCCapabilities: DRLCCapabilities | None = None
    functionsImplemented: HexBinary64 | None = None
    gpsLocation: GPSLocationType | None = None
    lFDI: HexBinary160
    mfDate: TimeType
    mfHwVer: String32
    mfID: PENType
    mfInfo: String32 | None = None
    mfModel: String32
    mfSerNum: String32
    primaryPower: PowerSourceType
    secondaryPower: PowerSourceType
    SupportedLocaleListLink: ListLink | None = None
    swActTime: TimeType
    swVer: String32


@sep2_type
class PEVInfo(Sep2Object):
    """PEVInfo: charging state of a plug-in electric vehicle."""

    chargingPowerNow: ActivePower
    energyRequestNow: RealEnergy
    maxForwardPower: ActivePower
    minimumChargingDuration: UInt32
    targetStateOfCharge: PerCent
    timeChargeIsNeeded: TimeType
    timeChargingStatusPEV: TimeType


@sep2_type
class PowerStatus(Resource):
    """PowerStatus: the current power source and battery state of a device."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    batteryStatus: UInt8
    changedTime: TimeType
    currentPowerSource: PowerSourceType
    estimatedChargeRemaining: PerCent | None = None
    estimatedTimeRemaining: UInt32 | None = None
    PEVInfo: PEVInfo | None = None
    sessionTimeOnBattery: UInt32 | None = None
    totalTimeOnBattery: UInt32 | None = None


@sep2_type
class Temperature(Sep2Object):
    """Temperature: ``value`` × 10^``multiplier`` of the thing ``subject`` names."""

    multiplier: PowerOfTenMultiplierType
    subject: UInt8
    value: Int16


@sep2_type
class DeviceStatus(Resource):
    """DeviceStatus: operational state and counters of a device."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    changedTime: TimeType
    onCount: UInt16 | None = None
    opState: UInt8 | None = None
    opTime: UInt32 | None = None
    Temperature: tuple[Temperature, ...] = ()
    TimeLink: Link | None = None


@csipaus_type("ConnectionPointType")
class ConnectionPoint(Resource):
    """ConnectionPoint (csipaus-ext.xsd ConnectionPointType): where the device connects
    to the network; ``connectionPointId`` is typically the NMI.

    The element and its child live in the CSIP-AUS namespace.
    """

    connectionPointId: Annotated[String32, CSIPAUS]
