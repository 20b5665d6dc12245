"""derlink.domain: the protocol-neutral model of the fleet.

Frozen dataclasses with validating constructors. Times are Unix seconds (int, UTC), as in
IEEE 2030.5 and IEC 61850 timestamps; power in watts, reactive power in var, in SI units, so
that each protocol adapter converts once at its edge. Nothing here imports the rest of derlink.
"""

from derlink.domain.controls import Control, ControlBase, ControlStatus, Curve, CurveKind, Program
from derlink.domain.demand import (
    ApplianceReduction,
    DemandProgram,
    LoadControl,
    LoadModes,
    ReductionUnit,
)
from derlink.domain.errors import DomainError
from derlink.domain.events import Event, Publication, PublicationKind
from derlink.domain.firmware import FileType, Firmware
from derlink.domain.fleet import Device, DeviceKind, Group, Site
from derlink.domain.messages import Message, MessagePriority, MessageProgram
from derlink.domain.priority import Priority
from derlink.domain.responses import Response, ResponseStatus
from derlink.domain.tariffs import (
    FlowDirection,
    PriceBlock,
    RateComponent,
    ServiceKind,
    Tariff,
    TariffInterval,
)

__all__ = [
    "ApplianceReduction",
    "Control",
    "ControlBase",
    "ControlStatus",
    "Curve",
    "CurveKind",
    "DemandProgram",
    "Device",
    "DeviceKind",
    "DomainError",
    "Event",
    "FileType",
    "Firmware",
    "FlowDirection",
    "Group",
    "LoadControl",
    "LoadModes",
    "Message",
    "MessagePriority",
    "MessageProgram",
    "PriceBlock",
    "Priority",
    "Program",
    "Publication",
    "PublicationKind",
    "RateComponent",
    "ReductionUnit",
    "Response",
    "ResponseStatus",
    "ServiceKind",
    "Site",
    "Tariff",
    "TariffInterval",
]
