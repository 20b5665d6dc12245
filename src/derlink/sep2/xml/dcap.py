"""DeviceCapability and Time function sets, and SelfDevice: what a client reads first."""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.common import Link, ListLink, Resource
from derlink.sep2.xml.edev import AbstractDevice, FunctionSetAssignmentsBase
from derlink.sep2.xml.model import ATTRIBUTE, sep2_type
from derlink.sep2.xml.simple import TimeOffsetType, TimeType, UInt8, UInt32


@sep2_type
class DeviceCapability(FunctionSetAssignmentsBase):
    """DeviceCapability: the entry point; links to what the server implements."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    EndDeviceListLink: ListLink | None = None
    MirrorUsagePointListLink: ListLink | None = None
    SelfDeviceLink: Link | None = None


@sep2_type
class SelfDevice(AbstractDevice):
    """SelfDevice: the server describing itself as a device."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None


@sep2_type
class Time(Resource):
    """Time: the server's clock and time zone; events are scheduled against it."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    currentTime: TimeType
    dstEndTime: TimeType
    dstOffset: TimeOffsetType
    dstStartTime: TimeType
    localTime: TimeType | None = None
    quality: UInt8
    tzOffset: TimeOffsetType
