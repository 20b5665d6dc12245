"""Files for devices to download, firmware above all (IEEE 2030.5 File Download).

A :class:`Firmware` is published to groups: a device of a targeted group whose model (and
hardware version, and serial number when given) matches downloads it, checks it, and
activates it at ``activate_time``, reporting progress in its FileStatus.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import ClassVar

from derlink.domain.errors import DomainError
from derlink.domain.events import Publication, check_publication

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class FileType(enum.IntEnum):
    """IEEE 2030.5 File.type."""

    SOFTWARE = 0
    CREDENTIAL = 1
    CONFIGURATION = 2
    LOG = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Firmware(Publication):
    """A file for groups. ``manufacturer`` is the IANA Private Enterprise Number (mfID);
    ``size`` and ``sha256`` describe the content, which the store keeps."""

    LABEL: ClassVar[str] = "file"

    model: str
    version: str
    size: int
    sha256: str
    manufacturer: int = 0
    hardware_version: str | None = None
    serial: str | None = None
    activate_time: int | None = None
    file_type: FileType = FileType.SOFTWARE
    created: int = 0

    def __post_init__(self) -> None:
        check_publication(self)
        object.__setattr__(self, "file_type", FileType(self.file_type))
        for name, value, most in (
            ("model", self.model, 32),
            ("version", self.version, 16),
            ("hardware version", self.hardware_version, 32),
            ("serial number", self.serial, 32),
        ):
            if value is not None and not 1 <= len(value) <= most:
                raise DomainError(f"a {name} has 1 to {most} characters")
        if not 0 <= self.manufacturer < 2**32:
            raise DomainError(f"manufacturer PEN {self.manufacturer} must fit 32 bits")
        if not 0 < self.size < 2**32:
            raise DomainError("a file has 1 byte to 4 GiB of content")
        if not SHA256_RE.match(self.sha256):
            raise DomainError("sha256 must be 64 lower-case hex digits")
        if self.activate_time is not None and self.activate_time < 0:
            raise DomainError("activation time must be Unix seconds (>= 0)")
