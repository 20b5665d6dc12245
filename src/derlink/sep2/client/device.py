"""The device side of the client: what a DER is, and how the client drives it.

A vendor's driver (or the simulator) implements :class:`DerDevice`; the client calls
:meth:`DerDevice.set_envelope` with the envelope in force whenever it changes (every field None
means "no constraint from the utility": the device follows its own settings), and reads
:meth:`DerDevice.state` when it reports DERStatus and DERAvailability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from derlink.domain import ControlBase

# The control modes a plain PV inverter with CSIP-AUS limits supports.
DEFAULT_MODES = frozenset(
    {
        "connect",
        "energize",
        "export_limit_w",
        "import_limit_w",
        "generation_limit_w",
        "load_limit_w",
        "max_limit_pct",
    }
)


@dataclass(frozen=True, slots=True)
class Nameplate:
    """Ratings and identity a DER reports (DERCapability, DERSettings, DeviceInformation).

    ``der_type`` is the 2030.5 DERType (4 PV, 81 other storage, 84 combined PV and storage);
    ``modes`` names the :class:`~derlink.domain.ControlBase` fields the device honours;
    ``mf_id`` is the manufacturer's IANA Private Enterprise Number.
    """

    rated_w: float
    serial: str
    rated_va: float | None = None
    rated_var: float | None = None
    der_type: int = 4
    storage_wh: float | None = None
    max_charge_w: float | None = None
    max_discharge_w: float | None = None
    v_nom: float = 230.0
    modes: frozenset[str] = DEFAULT_MODES
    mf_id: int = 0
    model: str = "derlink DER"
    hw_version: str = "1"
    sw_version: str = "0.1.0"
    mf_date: int = 0

    @property
    def storage(self) -> bool:
        return bool(self.storage_wh)


@dataclass(frozen=True, slots=True)
class DerState:
    """What the DER is doing now (DERStatus / DERAvailability)."""

    connected: bool
    available_w: float
    available_var: float = 0.0
    soc_pct: float | None = None
    operating: bool = True


class DerDevice(Protocol):
    """A DER the client controls."""

    def nameplate(self) -> Nameplate: ...

    async def set_envelope(self, envelope: ControlBase) -> None:
        """Apply the operating envelope in force (raise to report that it could not)."""
        ...

    def state(self, now: float) -> DerState: ...
