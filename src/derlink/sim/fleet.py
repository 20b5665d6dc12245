"""The simulated fleet's records: certificates, sites, groups, enrolment with PINs.

``enrol_fleet`` is idempotent: the certificates live in ``<home>/sim/SIM-nnnnn.pem/.key``, the
sites are ``sim-nnnnn`` in groups ``feeder-1..N`` (round robin), and what exists already is kept,
so a second ``derlink sim`` run reuses the fleet. Every change goes through the fleet service,
audited like an operator's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from derlink.control.service import FleetService
from derlink.domain import Device, Group, Site
from derlink.home import Home
from derlink.pki import Pki, lfdi_of_certificate, load_certificate, sfdi_from_lfdi
from derlink.sim.physics import SiteSpec, noise

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class SimRecord:
    index: int
    serial: str
    lfdi: str
    sfdi: int
    pin: int
    site: str
    group: str
    prefix: Path


def sim_dir(home: Home) -> Path:
    return home.root / "sim"


def pin_of(lfdi: str) -> int:
    """The simulated device's registration PIN (derived: a simulator has no installer)."""
    return int(hashlib.sha256(f"derlink-sim-pin:{lfdi}".encode()).hexdigest(), 16) % 1_000_000


def site_spec(index: int, tz_hours: float = 10.0) -> SiteSpec:
    """A plausible household: 3-10 kW of PV on a 5 kW (or PV-sized) inverter, a battery at
    four sites in ten, a 300-900 W base load."""
    seed = 0xD3A1 + index
    pv = 3000.0 + 7000.0 * noise(seed, 1)
    battery = noise(seed, 2) < 0.4
    return SiteSpec(
        pv_w=round(pv, -2),
        inverter_w=5000.0 if pv > 5000 else round(pv, -2),
        battery_wh=round(10000.0 + 3500.0 * noise(seed, 3), -2) if battery else 0.0,
        battery_w=5000.0 if battery else 0.0,
        base_load_w=round(300.0 + 600.0 * noise(seed, 4), -1),
        seed=seed,
        tz_hours=tz_hours,
    )


def _certificate(pki: Pki, prefix: Path, serial: str, now: datetime) -> str:
    if prefix.with_suffix(".pem").exists():
        return lfdi_of_certificate(load_certificate(prefix.with_suffix(".pem")))
    issued = pki.issue_device(serial, now=now)
    issued.write(prefix)
    return issued.lfdi


class Enrolment(NamedTuple):
    """Where a simulated fleet's credentials go, and what the fleet already holds."""

    directory: Path
    pki: Pki
    sites: set[str]
    enrolled: set[str]


async def begin_enrolment(
    home: Home, fleet: FleetService, groups: int, *, actor: str, passphrase: bytes | None
) -> Enrolment:
    """Make the simulators' directory, open the PKI, add the missing ``feeder-N`` groups, and
    return the sites and devices already known (enrolment keeps what exists)."""
    directory = sim_dir(home)
    directory.mkdir(mode=0o700, exist_ok=True)
    pki = Pki.open(home.pki_dir, passphrase=passphrase)
    known_groups = {g.id for g in await fleet.groups()}
    for n in range(1, groups + 1):
        if f"feeder-{n}" not in known_groups:
            await fleet.add_group(Group(f"feeder-{n}", kind="feeder"), actor=actor)
    sites = {s.id for s in await fleet.sites()}
    enrolled = {d.lfdi for d in await fleet.devices()}
    return Enrolment(directory, pki, sites, enrolled)


async def enrol_fleet(
    home: Home,
    fleet: FleetService,
    devices: int,
    groups: int,
    *,
    actor: str,
    now: datetime,
    passphrase: bytes | None = None,
    progress: Progress | None = None,
) -> list[SimRecord]:
    """Issue, site, group and enrol ``devices`` simulated DERs (keeping what exists)."""
    directory, pki, sites, enrolled = await begin_enrolment(
        home, fleet, groups, actor=actor, passphrase=passphrase
    )
    records = []
    for index in range(devices):
        serial = f"SIM-{index:05d}"
        prefix = directory / serial
        lfdi = _certificate(pki, prefix, serial, now)
        site, group = f"sim-{index:05d}", f"feeder-{index % groups + 1}"
        if site not in sites:
            spec = site_spec(index)
            await fleet.add_site(
                Site(
                    site,
                    groups=frozenset({group}),
                    connection_point_id=f"SIM{index:07d}",
                    capacity_w=spec.inverter_w,
                ),
                actor=actor,
            )
        pin = pin_of(lfdi)
        if lfdi not in enrolled:
            await fleet.enrol(Device(lfdi, sfdi_from_lfdi(lfdi), site=site, pin=pin), actor=actor)
        records.append(
            SimRecord(index, serial, lfdi, sfdi_from_lfdi(lfdi), pin, site, group, prefix)
        )
        if progress is not None:
            progress(index + 1)
    return records
