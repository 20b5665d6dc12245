"""LogEvent function set."""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.common import Resource, SubscribableList
from derlink.sep2.xml.model import ATTRIBUTE, sep2_type
from derlink.sep2.xml.simple import PENType, String32, TimeType, UInt8, UInt16, UInt32


@sep2_type
class LogEvent(Resource):
    """LogEvent: an event a device logged (code, function set, PEN, time)."""

    createdDateTime: TimeType
    details: String32 | None = None
    extendedData: UInt32 | None = None
    functionSet: UInt8
    logEventCode: UInt8
    logEventID: UInt16
    logEventPEN: PENType
    profileID: UInt8


@sep2_type
class LogEventList(SubscribableList):
    """LogEventList: the LogEvents of an EndDevice."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    LogEvent: tuple[LogEvent, ...] = ()
