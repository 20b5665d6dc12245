"""Devices, sites and groups: who is in the fleet and how it is organised.

A *device* is one certificate identity (LFDI) that talks to derlink: a DER (an inverter, a
battery, a charger, a site gateway) or an aggregator acting for many. A *site* is a connection
point to the grid (CSIP-AUS ConnectionPoint, often the NMI). A *group* gathers sites by feeder,
zone, size or type; programs and tariffs are attached to groups.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from derlink.domain.errors import DomainError

LFDI_RE = re.compile(r"^[0-9A-F]{40}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def check_name(kind: str, value: str) -> str:
    """Identifiers an operator types: letters, digits and ``._:-``, up to 64 characters."""
    if not NAME_RE.match(value):
        raise DomainError(
            f"{kind} id {value!r} must be 1-64 letters, digits or . _ : - (starting alphanumeric)"
        )
    return value


def check_lfdi(value: str) -> str:
    """An LFDI as stored: 40 upper-case hex digits (IEEE 2030.5 6.3.4)."""
    normal = value.strip().upper()
    if not LFDI_RE.match(normal):
        raise DomainError(f"LFDI {value!r} is not 40 hexadecimal digits")
    return normal


class DeviceKind(enum.Enum):
    DEVICE = "device"
    AGGREGATOR = "aggregator"


@dataclass(frozen=True, slots=True)
class Device:
    """A registered client identity.

    ``aggregator`` names the aggregator's LFDI for a device it manages (the device itself may
    never connect); ``pin`` is the registration PIN (IEEE 2030.5 Registration, 6 digits with
    a check digit or any 0..999999 value); ``device_category`` is the 2030.5 DeviceCategoryType
    bitmap.
    """

    lfdi: str
    sfdi: int
    kind: DeviceKind = DeviceKind.DEVICE
    site: str | None = None
    aggregator: str | None = None
    pin: int | None = None
    device_category: int = 0
    enabled: bool = True
    changed_time: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "lfdi", check_lfdi(self.lfdi))
        if not 0 <= self.sfdi < 10**12:
            raise DomainError(f"SFDI {self.sfdi} is out of range")
        if self.aggregator is not None:
            object.__setattr__(self, "aggregator", check_lfdi(self.aggregator))
        if self.pin is not None and not 0 <= self.pin <= 999_999:
            raise DomainError(f"PIN {self.pin} must be 0..999999")
        if self.site is not None:
            check_name("site", self.site)


@dataclass(frozen=True, slots=True)
class Site:
    """A connection point. ``connection_point_id`` is the CSIP-AUS id (NMI)."""

    id: str
    name: str = ""
    connection_point_id: str | None = None
    groups: frozenset[str] = field(default_factory=frozenset)
    latitude: float | None = None
    longitude: float | None = None
    capacity_w: float | None = None
    lock_connection_point: bool = False

    def __post_init__(self) -> None:
        check_name("site", self.id)
        for group in self.groups:
            check_name("group", group)
        if self.connection_point_id is not None and not 1 <= len(self.connection_point_id) <= 32:
            raise DomainError("connection point id must be 1-32 characters")


@dataclass(frozen=True, slots=True)
class Group:
    """A named set of sites (feeder, zone, size band, device type...)."""

    id: str
    name: str = ""
    kind: str = "feeder"

    def __post_init__(self) -> None:
        check_name("group", self.id)
