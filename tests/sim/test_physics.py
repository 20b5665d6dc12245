"""Physics sanity of the simulated household: time passed in, no I/O."""

from __future__ import annotations

import pytest

from derlink.domain import ControlBase
from derlink.sim.fleet import site_spec
from derlink.sim.physics import Household, SiteSpec, clear_sky, noise

DAY = 1_800_000_000 - 1_800_000_000 % 86400  # a UTC midnight
NOON, MIDNIGHT = DAY + 12 * 3600, DAY
BIG = SiteSpec(pv_w=10000, inverter_w=10000, base_load_w=400, seed=7, tz_hours=0)
WITH_BATTERY = SiteSpec(
    pv_w=8000,
    inverter_w=8000,
    battery_wh=10000,
    battery_w=5000,
    base_load_w=500,
    seed=3,
    tz_hours=0,
)


def test_pv_is_zero_at_night_and_peaks_around_noon() -> None:
    house = Household(BIG, now=DAY)
    assert house.pv_available(MIDNIGHT) == 0.0
    assert house.pv_available(DAY + 5 * 3600) == 0.0 and house.pv_available(DAY + 19 * 3600) == 0.0
    assert 0.85 * 10000 <= house.pv_available(NOON) <= 10000
    assert house.pv_available(DAY + 8 * 3600) < house.pv_available(NOON)
    assert clear_sky(12.0) == pytest.approx(1.0)
    night = house.at(MIDNIGHT)
    assert night.pv_w == 0.0 and night.site_w > 0  # imports its load


def test_export_drops_under_a_5_kw_export_limit() -> None:
    house = Household(BIG, now=NOON)
    free = house.at(NOON)
    assert -free.site_w > 5000  # about 9 kW of PV against a 0.4 kW load
    house.envelope = ControlBase(export_limit_w=5000)
    limited = house.at(NOON)
    assert -limited.site_w == pytest.approx(5000, abs=1e-6)
    assert limited.pv_w < free.pv_w  # curtailed
    house.envelope = ControlBase(connect=False)
    off = house.at(NOON)
    assert off.der_w == 0.0 and off.site_w == pytest.approx(off.load_w)


def test_a_battery_soaks_up_surplus_before_pv_is_curtailed() -> None:
    house = Household(WITH_BATTERY, soc_pct=50, now=NOON)
    house.envelope = ControlBase(export_limit_w=0)
    flows = house.at(NOON)
    assert flows.battery_w == pytest.approx(-5000)  # charging at full rate
    assert flows.site_w == pytest.approx(0.0, abs=1e-6)


def test_state_of_charge_stays_within_bounds() -> None:
    house = Household(WITH_BATTERY, soc_pct=50, now=DAY)
    t = DAY
    socs = []
    for target in (5000.0, -5000.0):  # charge for a day, then discharge for a day
        house.envelope = ControlBase(storage_target_w=target)
        for _ in range(24 * 12):
            t += 300
            flows = house.at(t)
            assert flows.soc_pct is not None
            socs.append(flows.soc_pct)
    assert min(socs) >= 10.0 - 1e-9 and max(socs) <= 100.0 + 1e-9
    assert max(socs) == pytest.approx(100.0) and min(socs) == pytest.approx(10.0)
    assert house.at(t + 300).battery_w == 0.0  # empty: no more discharge


def test_limits_on_generation_and_charging_are_honoured() -> None:
    house = Household(WITH_BATTERY, soc_pct=50, now=NOON)
    house.envelope = ControlBase(generation_limit_w=2000)
    assert house.at(NOON).der_w <= 2000 + 1e-6
    house.envelope = ControlBase(max_limit_pct=25)
    assert house.at(NOON).der_w <= 2000 + 1e-6
    house.envelope = ControlBase(storage_target_w=5000, load_limit_w=1000)
    assert house.at(NOON).battery_w >= -1000 - 1e-6


def test_the_fleet_is_varied_and_reproducible() -> None:
    specs = [site_spec(n) for n in range(200)]
    assert specs == [site_spec(n) for n in range(200)]
    assert len({s.pv_w for s in specs}) > 20
    assert 0.25 < sum(1 for s in specs if s.battery_wh) / len(specs) < 0.55
    assert all(0 <= noise(n, 3) < 1 for n in range(1000))


def test_a_household_is_small() -> None:
    import sys

    house = Household(site_spec(1))
    assert sys.getsizeof(house) < 100  # four slots; the spec is shared
