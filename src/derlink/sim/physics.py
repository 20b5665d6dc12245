"""Believable, simple physics of one household with PV, a battery and a load: sans-IO.

Time is passed in (Unix seconds); nothing here keeps more than a handful of floats, so a
thousand households fit in a few hundred kilobytes. Noise is a hash of (seed, time bucket), not
a random generator's state (a ``random.Random`` is 2.5 KiB).

- PV: a clear-sky bell between 06:00 and 18:00 local solar time (``sin^1.3`` of the day
  fraction), scaled by the array's peak, times a cloud factor of 0.85-1.
- Load: a base with a morning and an evening peak, ±10 % noise.
- Battery: state of charge integrated between calls, kept within [min, max] SoC, charge and
  discharge limited by the battery's rate; 95 % charge efficiency. Without instructions it
  does self-consumption: stores the PV surplus, covers the deficit.
- The envelope in force is honoured at every instant: disconnect (opModConnect/Energize false:
  no PV, no battery), inverter limits (opModMaxLimW, opModGenLimW), site export and import limits
  (CSIP-AUS opModExpLimW/ImpLimW, met by steering the battery first, then curtailing PV),
  a charging limit (opModLoadLimW), a storage target (opModStorageTargetW, + charges) and an
  active power target (opModTargetW / opModFixedW).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from derlink.domain import ControlBase

SUNRISE, SUNSET = 6.0, 18.0
NO_LIMITS = ControlBase()
MASK64 = (1 << 64) - 1


def noise(seed: int, bucket: int) -> float:
    """A uniform value in [0, 1) from (seed, bucket): splitmix64, stateless."""
    z = (seed * 0x9E3779B97F4A7C15 + bucket * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return ((z ^ (z >> 31)) & MASK64) / 2.0**64


def solar_hour(t: float, tz_hours: float) -> float:
    return ((t / 3600.0) + tz_hours) % 24.0


def clear_sky(hour: float) -> float:
    """0 at night, 1 at solar noon."""
    if not SUNRISE < hour < SUNSET:
        return 0.0
    return float(math.sin(math.pi * (hour - SUNRISE) / (SUNSET - SUNRISE)) ** 1.3)


def load_shape(hour: float) -> float:
    morning = math.exp(-(((hour - 7.5) / 1.0) ** 2))
    evening = math.exp(-(((hour - 19.0) / 1.5) ** 2))
    return 0.6 + 0.5 * morning + 0.9 * evening


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """A household: PV peak, inverter rating, battery (0 Wh: none), base load."""

    pv_w: float
    inverter_w: float
    battery_wh: float = 0.0
    battery_w: float = 0.0
    base_load_w: float = 500.0
    seed: int = 0
    tz_hours: float = 10.0
    min_soc: float = 0.10
    max_soc: float = 1.0


@dataclass(frozen=True, slots=True)
class Flows:
    """Power flows at one instant, W. ``battery_w`` > 0 discharges; ``site_w`` > 0 imports;
    ``der_w`` is the inverter's AC output (PV plus battery)."""

    pv_w: float
    battery_w: float
    load_w: float
    der_w: float
    site_w: float
    der_var: float
    site_var: float
    hz: float
    volts: float
    soc_pct: float | None


class Household:
    """One site's physics. :meth:`at` integrates the battery up to ``t`` and returns the flows
    under the envelope in force."""

    __slots__ = ("envelope", "last_battery_w", "last_t", "soc_wh", "spec")

    def __init__(self, spec: SiteSpec, *, soc_pct: float = 50.0, now: float = 0.0) -> None:
        self.spec = spec
        self.soc_wh = spec.battery_wh * soc_pct / 100.0
        self.envelope = NO_LIMITS
        self.last_t = now
        self.last_battery_w = 0.0

    @property
    def soc_pct(self) -> float | None:
        if not self.spec.battery_wh:
            return None
        return 100.0 * self.soc_wh / self.spec.battery_wh

    def pv_available(self, t: float) -> float:
        spec = self.spec
        cloud = 0.85 + 0.15 * noise(spec.seed, int(t // 60))
        return spec.pv_w * clear_sky(solar_hour(t, spec.tz_hours)) * cloud

    def load(self, t: float) -> float:
        spec = self.spec
        jitter = 0.9 + 0.2 * noise(spec.seed + 1, int(t // 5))
        return spec.base_load_w * load_shape(solar_hour(t, spec.tz_hours)) * jitter

    def at(self, t: float) -> Flows:
        self._integrate(t)
        flows = self.flows(t)
        self.last_battery_w = flows.battery_w
        return flows

    def _integrate(self, t: float) -> None:
        dt = t - self.last_t
        if dt <= 0:
            return
        self.last_t = t
        spec = self.spec
        if not spec.battery_wh:
            return
        power = self.last_battery_w
        energy = power * dt / 3600.0
        self.soc_wh -= energy if power > 0 else energy * 0.95
        low, high = spec.battery_wh * spec.min_soc, spec.battery_wh * spec.max_soc
        self.soc_wh = min(high, max(low, self.soc_wh))

    def battery_bounds(self) -> tuple[float, float]:
        """(most charging as a negative W, most discharging W) the battery allows now."""
        spec = self.spec
        if not spec.battery_wh:
            return 0.0, 0.0
        room = spec.battery_wh * spec.max_soc - self.soc_wh
        stored = self.soc_wh - spec.battery_wh * spec.min_soc
        charge = spec.battery_w if room > spec.battery_wh * 0.001 else 0.0
        discharge = spec.battery_w if stored > spec.battery_wh * 0.001 else 0.0
        return -charge, discharge

    def flows(self, t: float) -> Flows:
        spec, env = self.spec, self.envelope
        load = self.load(t)
        pv = self.pv_available(t)
        low, high = self.battery_bounds()
        if env.load_limit_w is not None:
            low = max(low, -env.load_limit_w)
        if env.connect is False or env.energize is False:
            return self._flows(t, 0.0, 0.0, load, 0.0)
        cap = spec.inverter_w
        if env.max_limit_pct is not None:
            cap = min(cap, spec.inverter_w * env.max_limit_pct / 100.0)
        if env.generation_limit_w is not None:
            cap = min(cap, env.generation_limit_w)
        if env.storage_target_w is not None:
            battery = _clamp(-env.storage_target_w, low, high)
        else:
            battery = _clamp(load - pv, low, high)  # self-consumption
        target = env.target_w
        if env.fixed_w_pct is not None:
            target = spec.inverter_w * env.fixed_w_pct / 100.0
        if target is not None:
            battery = _clamp(target - pv, low, high)
            pv = min(pv, max(0.0, target - battery))
        # inverter limit: less discharge first, then curtail PV
        excess = pv + battery - cap
        if excess > 0:
            battery, pv = _shed(battery, pv, excess, low)
        if env.import_limit_w is not None:
            shortfall = load - (pv + battery) - env.import_limit_w
            if shortfall > 0:
                battery = min(high, battery + shortfall, cap - pv)
        if env.export_limit_w is not None:
            excess = (pv + battery) - load - env.export_limit_w
            if excess > 0:
                battery, pv = _shed(battery, pv, excess, low)
        return self._flows(t, pv, battery, load, _var(env, spec))

    def _flows(self, t: float, pv: float, battery: float, load: float, der_var: float) -> Flows:
        der = pv + battery
        site = load - der
        seed = self.spec.seed
        site_var = 0.2 * load - der_var
        volts = 230.0 - 0.0015 * site + 2.0 * (noise(seed + 2, int(t // 5)) - 0.5)
        hz = 50.0 + 0.04 * (noise(seed + 3, int(t // 5)) - 0.5)
        return Flows(pv, battery, load, der, site, der_var, site_var, hz, volts, self.soc_pct)


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _shed(battery: float, pv: float, excess: float, low: float) -> tuple[float, float]:
    """Take ``excess`` W off the inverter's output: the battery first (down to its most
    charging), then PV."""
    take = min(excess, battery - low)
    battery -= take
    excess -= take
    if excess > 0:
        pv = max(0.0, pv - excess)
    return battery, pv


def _var(env: ControlBase, spec: SiteSpec) -> float:
    if env.target_var is not None:
        return env.target_var
    if env.fixed_var_pct is not None:
        return spec.inverter_w * env.fixed_var_pct / 100.0
    return 0.0
