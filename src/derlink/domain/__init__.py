"""derlink.domain: the protocol-neutral model of the fleet.

Frozen dataclasses with validating constructors. Times are Unix seconds (int, UTC), as in
IEEE 2030.5 and IEC 61850 timestamps; power in watts, reactive power in var, in SI units, so
that each protocol adapter converts once at its edge. Nothing here imports the rest of derlink.
"""

from derlink.domain.controls import Control, ControlBase, ControlStatus, Curve, CurveKind, Program
from derlink.domain.errors import DomainError
from derlink.domain.fleet import Device, DeviceKind, Group, Site
from derlink.domain.priority import Priority
from derlink.domain.responses import Response, ResponseStatus

__all__ = [
    "Control",
    "ControlBase",
    "ControlStatus",
    "Curve",
    "CurveKind",
    "Device",
    "DeviceKind",
    "DomainError",
    "Group",
    "Priority",
    "Program",
    "Response",
    "ResponseStatus",
    "Site",
]
