"""N simulated IEC 61850 DER IEDs in one process, each a household behind an IED runtime.

Each simulated IED is an :class:`~derlink.iec61850.ied.IedRuntime` on its own XMPP endpoint
(its own certificate and session: the XMPP server sees N devices), serving the shipped 7-420
model with the :class:`~derlink.sim.physics.Household` physics of :mod:`derlink.sim.physics`
behind the runtime's :class:`~derlink.iec61850.ied.DerDriver` protocol.

Lean by sharing what never differs between IEDs: the parsed SCL model (one
:class:`ServerModel`, every simulated IED carries the shipped IED name ``DERIED`` — MMS domains
are per server, and the JID tells IEDs apart), the reference tables of the value store (a store
is a copy of a template's values; attribute definitions and timestamp tables are shared), the
measurement references, one TLS context per certificate only. What remains per IED is the
slixmpp client object, the value dict and the ACSI server's report blocks.

:func:`enrol_ieds` issues the XMPP certificates (``ied-nnnnn@<domain>``), sites ``ied-nnnnn``
in groups ``feeder-1..N`` and enrols them through the fleet service as IEDs (the JID taken from
the certificate); it is idempotent like :func:`derlink.sim.fleet.enrol_fleet`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from derlink.control.service import FleetService
from derlink.domain import ControlBase, Site
from derlink.home import Home
from derlink.iec61850.acsi.server import IedServer
from derlink.iec61850.ied import IedRuntime
from derlink.iec61850.model.der import DER_LD_INST, load_der_ied
from derlink.iec61850.model.nodes import ServerModel
from derlink.iec61850.model.refs import FC, FCDA, ObjectReference
from derlink.iec61850.model.store import ValueStore
from derlink.iec61850.registry import DEFAULT_IED_NAME, enrol_ied
from derlink.iec61850.xmpp.endpoint import Endpoint, EndpointConfig
from derlink.pki import lfdi_of_certificate, load_certificate
from derlink.sim.fleet import begin_enrolment, site_spec
from derlink.sim.physics import Flows, Household, SiteSpec

log = logging.getLogger("derlink.sim.ieds")

NO_LIMIT = 1.0e9
"""What a simulated IED holds in a limit or set point nobody constrains (FLOAT32-exact)."""
IED_RESOURCE = "derlink"
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class IedRecord:
    """One simulated IED: index, JID, LFDI, site, group and its certificate files."""

    index: int
    jid: str
    lfdi: str
    site: str
    group: str
    prefix: Path

    @property
    def cert(self) -> Path:
        return self.prefix.with_suffix(".pem")

    @property
    def key(self) -> Path:
        return self.prefix.with_suffix(".key")


# -- the shared model ----------------------------------------------------------------------------


class SharedModel:
    """The parsed model and a value-store template, made once for all simulated IEDs."""

    def __init__(self, ied_name: str = DEFAULT_IED_NAME) -> None:
        self.model: ServerModel = load_der_ied(ied_name)
        self.template = ValueStore(self.model)
        self.ld = f"{ied_name}{DER_LD_INST}"
        for path, value in _UNCONSTRAINED.items():
            self.template.set(self.fcda(path, FC.SP if ".setMag" in path else FC.MX), value)
        self.measured = {name: self.fcda(path, FC.MX) for name, path in _MEASUREMENTS.items()}

    def fcda(self, path: str, fc: FC) -> FCDA:
        return FCDA(ObjectReference.parse(f"{self.ld}/{path}"), fc)

    def store(self) -> ValueStore:
        """A new value store holding the template's values (references shared, not copied)."""
        return clone_store(self.template)


def clone_store(template: ValueStore) -> ValueStore:
    """A value store with the template's current values and no listeners
    (:meth:`ValueStore.copy`: the model and its tables shared, the values one new dict)."""
    return template.copy()


_UNCONSTRAINED: dict[str, float] = {
    "DECP1.WExpLim.setMag.f": NO_LIMIT,
    "DECP1.WImpLim.setMag.f": NO_LIMIT,
    "DGEN1.WMax.setMag.f": NO_LIMIT,
    "DWMX1.WMaxSptPct.mxVal.f": 100.0,
    "DGEN1.WSpt.mxVal.f": NO_LIMIT,
    "DGEN1.VArSpt.mxVal.f": NO_LIMIT,
    "DVAR1.VArTgtSptPct.mxVal.f": NO_LIMIT,
    "DFPF1.PFTgtSpt.setMag.f": 1.0,
}
_MEASUREMENTS: dict[str, str] = {
    "der_w": "MMXU1.TotW.mag.f",
    "der_var": "MMXU1.TotVAr.mag.f",
    "hz": "MMXU1.Hz.mag.f",
    "volts": "MMXU1.PhV.phsA.cVal.mag.f",
    "soc_pct": "DSTO1.UseSocPct.mag.f",
}


# -- the driver: household physics behind the IED ------------------------------------------------


def _number(value: Any) -> float | None:
    """A ctlVal / setMag as a float: plain, or an AnalogueValue ``{"f": x}`` / ``{"i": n}``."""
    if isinstance(value, Mapping):
        value = value.get("f", value.get("i"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _limit(value: Any) -> float | None:
    number = _number(value)
    if number is None or not math.isfinite(number) or abs(number) >= NO_LIMIT / 10:
        return None
    return number


def _pct(value: Any) -> float | None:
    number = _number(value)
    return None if number is None or number >= 100.0 else max(0.0, number)


def _pf(value: Any) -> float | None:
    number = _number(value)
    return None if number is None or not 0.0 < number < 1.0 else number


def _connect(value: Any) -> bool | None:
    number = _number(value)
    return False if number == 5.0 else None  # DEROpStKind 5 = disconnected


_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "DECP1.WExpLim": ("export_limit_w", _limit),
    "DECP1.WImpLim": ("import_limit_w", _limit),
    "DGEN1.WMax": ("generation_limit_w", _limit),
    "DWMX1.WMaxSptPct": ("max_limit_pct", _pct),
    "DGEN1.WSpt": ("target_w", _limit),
    "DGEN1.VArSpt": ("target_var", _limit),
    "DVAR1.VArTgtSptPct": ("fixed_var_pct", _limit),
    "DFPF1.PFTgtSpt": ("fixed_pf_inject", _pf),
    "DGEN1.DEROpStCtl": ("connect", _connect),
}


class HouseholdDriver:
    """A :class:`~derlink.sim.physics.Household` behind the IED runtime's driver protocol.

    ``apply`` turns accepted settings and operates into the envelope the physics honours;
    ``measurements`` samples the physics into MMXU (DER output W / var, Hz, V) and DSTO."""

    __slots__ = ("applied", "clock", "household", "last", "measured")

    def __init__(
        self,
        household: Household,
        measured: Mapping[str, FCDA],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.household = household
        self.measured = measured
        self.clock = clock
        self.applied = 0
        self.last: Flows | None = None

    @property
    def envelope(self) -> ControlBase:
        return self.household.envelope

    def apply(self, setpoints: Mapping[str, Any]) -> None:
        changes: dict[str, Any] = {}
        for reference, value in setpoints.items():
            _, _, path = reference.partition("/")
            key = path if path in _FIELDS else ".".join(path.split(".")[:2])
            found = _FIELDS.get(key)
            if found is None:
                continue
            name, convert = found
            changes[name] = convert(value)
        if changes:
            self.household.envelope = replace(self.household.envelope, **changes)
            self.applied += 1

    def sample(self) -> Flows:
        self.last = self.household.at(self.clock())
        return self.last

    def measurements(self) -> Mapping[FCDA, Any]:
        flows = self.sample()
        out: dict[FCDA, Any] = {}
        for name, fcda in self.measured.items():
            value = getattr(flows, name)
            if value is not None:
                out[fcda] = float(value)
        return out


# -- enrolment -----------------------------------------------------------------------------------


def ied_spec(index: int, tz_hours: float = 10.0) -> SiteSpec:
    """The household of simulated IED ``index`` (a different series from the 2030.5 fleet)."""
    return site_spec(50_000 + index, tz_hours)


async def enrol_ieds(
    home: Home,
    fleet: FleetService,
    count: int,
    groups: int,
    *,
    domain: str,
    actor: str,
    now: datetime,
    passphrase: bytes | None = None,
    progress: Progress | None = None,
) -> list[IedRecord]:
    """Issue, site, group and enrol ``count`` simulated IEDs (keeping what exists)."""
    directory, pki, sites, enrolled = await begin_enrolment(
        home, fleet, groups, actor=actor, passphrase=passphrase
    )
    records = []
    for index in range(count):
        name = f"ied-{index:05d}"
        jid = f"{name}@{domain}"
        prefix = directory / f"IED-{index:05d}"
        if not prefix.with_suffix(".pem").exists():
            pki.issue_xmpp_client(jid, now=now).write(prefix)
        cert = load_certificate(prefix.with_suffix(".pem"))
        lfdi = lfdi_of_certificate(cert)
        site, group = name, f"feeder-{index % groups + 1}"
        if site not in sites:
            spec = ied_spec(index)
            await fleet.add_site(
                Site(site, groups=frozenset({group}), capacity_w=spec.inverter_w), actor=actor
            )
        if lfdi not in enrolled:
            await enrol_ied(fleet, cert, actor=actor, site=site)
        records.append(IedRecord(index, jid, lfdi, site, group, prefix))
        if progress is not None:
            progress(index + 1)
    return records


# -- the fleet -----------------------------------------------------------------------------------

LEAN_TLS_READ = 32 * 1024
"""Bytes asyncio's TLS protocol reads from the socket at a time in this process.

asyncio's ``SSLProtocol`` keeps a zero-filled 256 KiB read buffer per connection (``max_size``),
half the memory of an idle simulated IED once logged in (481 KiB -> 257 KiB per IED measured
with 200 IEDs on ejabberd). 32 KiB still holds two whole TLS records (16 KiB plaintext each);
a burst larger than that is read in more calls, which costs nothing measurable for stanzas of a
few hundred bytes."""


def lean_tls_buffers(size: int = LEAN_TLS_READ) -> None:
    """Make asyncio's TLS read buffer ``size`` bytes for connections opened from now on."""
    import asyncio.sslproto

    asyncio.sslproto.SSLProtocol.max_size = min(asyncio.sslproto.SSLProtocol.max_size, size)


@dataclass
class SimIed:
    """One running simulated IED."""

    record: IedRecord
    runtime: IedRuntime
    driver: HouseholdDriver


class IedFleet:
    """N simulated IEDs on one XMPP server, in one process (see the module docstring)."""

    def __init__(
        self,
        records: Sequence[IedRecord],
        *,
        host: str,
        port: int,
        cafile: Path,
        centres: Sequence[str],
        tz_hours: float = 10.0,
        measurement_interval: float = 5.0,
        shared: SharedModel | None = None,
        clock: Callable[[], float] = time.time,
        lean_tls: bool = True,
    ) -> None:
        if lean_tls:
            lean_tls_buffers()
        self.records = list(records)
        self.shared = shared or SharedModel()
        self.ieds: list[SimIed] = []
        for record in self.records:
            spec = ied_spec(record.index, tz_hours)
            driver = HouseholdDriver(
                Household(spec, now=clock()), self.shared.measured, clock=clock
            )
            endpoint = Endpoint(
                EndpointConfig(
                    jid=f"{record.jid}/{IED_RESOURCE}",
                    certfile=record.cert,
                    keyfile=record.key,
                    cafile=cafile,
                    host=host,
                    port=port,
                    max_outstanding=4,
                    max_inbound=16,
                )
            )
            store = self.shared.store()
            server = IedServer(self.shared.model, store, clock=clock, buffer_entries=16)
            runtime = IedRuntime(
                endpoint,
                server,
                centres=centres,
                driver=driver,
                measurement_interval=measurement_interval,
                max_tick_interval=measurement_interval,
                audit_history=16,
            )
            self.ieds.append(SimIed(record, runtime, driver))

    async def start(self, *, concurrency: int = 50, timeout: float = 30.0) -> int:
        """Log every IED in (``concurrency`` logins at a time); returns how many are up."""
        gate = asyncio.Semaphore(concurrency)

        async def one(ied: SimIed) -> bool:
            async with gate:
                try:
                    await ied.runtime.start(timeout)
                except Exception as err:  # one IED that cannot log in does not stop the fleet
                    log.warning("%s did not start: %s", ied.record.jid, err)
                    return False
                return True

        results = await asyncio.gather(*(one(i) for i in self.ieds))
        return sum(results)

    async def stop(self) -> None:
        async def one(ied: SimIed) -> None:
            with contextlib.suppress(Exception):
                await ied.runtime.stop()

        await asyncio.gather(*(one(i) for i in self.ieds))

    def connected(self) -> int:
        return sum(1 for i in self.ieds if i.runtime.endpoint.connected)

    def sample(self) -> list[Flows]:
        """Sample every IED's physics now (also what the demo shows)."""
        return [i.driver.sample() for i in self.ieds]

    def by_group(self, group: str) -> list[SimIed]:
        return [i for i in self.ieds if i.record.group == group]


__all__ = [
    "IED_RESOURCE",
    "NO_LIMIT",
    "HouseholdDriver",
    "IedFleet",
    "IedRecord",
    "SharedModel",
    "SimIed",
    "clone_store",
    "enrol_ieds",
    "ied_spec",
    "lean_tls_buffers",
]
