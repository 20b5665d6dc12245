"""File Download function set (software download): Files and a device's FileStatus."""

from __future__ import annotations

from typing import Annotated

from derlink.sep2.xml.common import Link, List, Resource
from derlink.sep2.xml.model import ATTRIBUTE, sep2_type
from derlink.sep2.xml.simple import (
    AnyURI,
    HexBinary16,
    HexBinary160,
    PENType,
    String16,
    String32,
    TimeType,
    UInt8,
    UInt16,
    UInt32,
)


@sep2_type
class File(Resource):
    """File: a firmware or other file a device may download from ``fileURI``."""

    activateTime: TimeType | None = None
    fileURI: AnyURI
    lFDI: HexBinary160 | None = None
    mfHwVer: String32 | None = None
    mfID: PENType
    mfModel: String32
    mfSerNum: String32 | None = None
    mfVer: String16
    size: UInt32
    type: HexBinary16


@sep2_type
class FileList(List):
    """FileList: the Files a server offers."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    File: tuple[File, ...] = ()


@sep2_type
class FileStatus(Resource):
    """FileStatus: the progress of a device's file download and activation."""

    pollRate: Annotated[UInt32 | None, ATTRIBUTE] = None
    activateTime: TimeType | None = None
    FileLink: Link | None = None
    loadPercent: UInt8
    nextRequestAttempt: TimeType
    request503Count: UInt16
    requestFailCount: UInt16
    status: UInt8
    statusTime: TimeType
