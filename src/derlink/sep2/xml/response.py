"""Response function set: ResponseSets and the Responses clients post about events."""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.common import IdentifiedObject, List, ListLink, Resource
from derlink.sep2.xml.drlc import ApplianceLoadReduction, DutyCycle, Offset, SetPoint
from derlink.sep2.xml.model import ATTRIBUTE, XSI_TYPE, Sep2Object, sep2_type
from derlink.sep2.xml.simple import (
    HexBinary160,
    TimeType,
    UInt8,
    UInt16,
    UInt32,
    UnitType,
    mRIDType,
)


@sep2_type
class Response(Resource):
    """Response: a client's answer to an event; ``status`` from the standard's Table 27."""

    createdDateTime: TimeType | None = None
    endDeviceLFDI: HexBinary160
    status: UInt8 | None = None
    subject: mRIDType


@sep2_type
class ResponseList(List):
    """ResponseList: Responses received for one event.

    Items may be any Response type; derived types are written with ``xsi:type``.
    """

    Response: Annotated[tuple[Response, ...], XSI_TYPE] = ()


@sep2_type
class ResponseSet(IdentifiedObject):
    """ResponseSet: where Responses for one function set are posted."""

    ResponseListLink: ListLink | None = None


@sep2_type
class ResponseSetList(List):
    """ResponseSetList: the ResponseSets of a server."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    ResponseSet: tuple[ResponseSet, ...] = ()


@sep2_type
class DERControlResponse(Response):
    """DERControlResponse: a Response to a DERControl."""


@sep2_type
class PriceResponse(Response):
    """PriceResponse: a Response to a TimeTariffInterval."""


@sep2_type
class TextResponse(Response):
    """TextResponse: a Response to a TextMessage."""


@sep2_type
class AppliedTargetReduction(Sep2Object):
    """AppliedTargetReduction: the reduction a device applied."""

    type: UnitType
    value: UInt16


@sep2_type
class DrResponse(Response):
    """DrResponse: a Response to an EndDeviceControl, with what the device did."""

    ApplianceLoadReduction: ApplianceLoadReduction | None = None
    AppliedTargetReduction: AppliedTargetReduction | None = None
    DutyCycle: DutyCycle | None = None
    Offset: Offset | None = None
    overrideDuration: UInt16 | None = None
    SetPoint: SetPoint | None = None
