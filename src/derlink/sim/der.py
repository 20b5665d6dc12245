"""A simulated DER: a :class:`~derlink.sim.physics.Household` behind the client's
:class:`~derlink.sep2.client.device.DerDevice` and
:class:`~derlink.sep2.client.telemetry.Telemetry` protocols."""

from __future__ import annotations

from derlink.domain import ControlBase
from derlink.sep2.client.device import DEFAULT_MODES, DerState, Nameplate
from derlink.sep2.client.telemetry import Sample
from derlink.sim.physics import Flows, Household, SiteSpec

SIM_MODES = DEFAULT_MODES | {"storage_target_w", "target_w", "fixed_w_pct", "target_var"}
PV, STORAGE, PV_AND_STORAGE = 4, 81, 84


def nameplate_of(spec: SiteSpec, serial: str) -> Nameplate:
    der_type = PV_AND_STORAGE if spec.battery_wh and spec.pv_w else PV if spec.pv_w else STORAGE
    return Nameplate(
        rated_w=spec.inverter_w,
        serial=serial,
        rated_va=spec.inverter_w,
        rated_var=spec.inverter_w * 0.6,
        der_type=der_type,
        storage_wh=spec.battery_wh or None,
        max_charge_w=spec.battery_w or None,
        max_discharge_w=spec.battery_w or None,
        modes=SIM_MODES if spec.battery_wh else DEFAULT_MODES,
        model="derlink simulated DER",
    )


class SimulatedDer:
    """Physics plus the last envelope and sample, for the fleet's summary."""

    __slots__ = ("applied", "household", "last", "plate")

    def __init__(self, household: Household, plate: Nameplate) -> None:
        self.household = household
        self.plate = plate
        self.applied = 0
        self.last: Flows | None = None

    def nameplate(self) -> Nameplate:
        return self.plate

    async def set_envelope(self, envelope: ControlBase) -> None:
        self.household.envelope = envelope
        self.applied += 1

    @property
    def envelope(self) -> ControlBase:
        return self.household.envelope

    def flows(self, now: float) -> Flows:
        self.last = self.household.at(now)
        return self.last

    def state(self, now: float) -> DerState:
        flows = self.flows(now)
        env = self.household.envelope
        connected = env.connect is not False and env.energize is not False
        spec = self.household.spec
        available = spec.pv_w and self.household.pv_available(now)
        _, discharge = self.household.battery_bounds()
        return DerState(
            connected=connected,
            available_w=min(spec.inverter_w, available + discharge),
            available_var=spec.inverter_w * 0.6,
            soc_pct=flows.soc_pct,
        )

    def sample(self, now: float) -> Sample:
        f = self.flows(now)
        return Sample(f.site_w, f.site_var, f.der_w, f.der_var, f.hz, f.volts, f.soc_pct)
