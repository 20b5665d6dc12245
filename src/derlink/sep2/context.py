"""The head-end's per-process state (:class:`HeadEnd`) and who is calling (:class:`Caller`).

Access rules (CSIP; IEEE 2030.5 "the server may filter by the client's credentials"):
a device certificate acts for its own EndDevice only; an aggregator certificate acts for the
EndDevices registered to it (and itself); a certificate that is not enrolled, or whose access
was revoked, gets 403 for everything but self-registration when registration is open.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from derlink.audit.anomaly import AnomalyDetector
from derlink.audit.event import AuditEvent, Outcome, Severity
from derlink.audit.log import AuditLog
from derlink.control.batching import GroupCommit
from derlink.control.service import FleetService
from derlink.domain import Control, Device, DeviceKind, Program
from derlink.domain import Response as DomainResponse
from derlink.sep2.cache import ReadCache
from derlink.sep2.http import HttpError, Request, forbidden
from derlink.sep2.identity import Identity, IdentityResolver
from derlink.sep2.repo import Sep2Repo
from derlink.sep2.xml import CSIPAUS_V13
from derlink.store import codec
from derlink.store.database import Database
from derlink.store.schema import DeviceRow, SiteGroupRow

SETTINGS_TTL = 2.0
DISABLED = "disabled:"
LOCKED = "locked:"


def flagged(settings: Mapping[tuple[str, str], str], prefix: str) -> frozenset[str]:
    """The resource names set with ``prefix`` (DISABLED, LOCKED) in scope ``deployment``."""
    return frozenset(
        key.removeprefix(prefix)
        for (scope, key) in settings
        if scope == "deployment" and key.startswith(prefix)
    )


@dataclass(frozen=True, slots=True)
class HeadEndSettings:
    pki_dir: Path
    registration: str = "preregistered"
    default_poll_rate: int = 900
    csipaus_ns: str = CSIPAUS_V13
    max_body_bytes: int = 256 * 1024
    trusted_header: str | None = None


@dataclass(slots=True)
class Caller:
    """A verified certificate, and its enrolment (None when not enrolled)."""

    identity: Identity
    device: Device | None

    @property
    def lfdi(self) -> str:
        return self.identity.lfdi

    def require_enrolled(self) -> Device:
        if self.device is None:
            raise forbidden(f"certificate {self.lfdi} is not registered with this server")
        if not self.device.enabled:
            raise forbidden(f"access of {self.lfdi} has been revoked")
        return self.device

    def may_act_for(self, device: Device) -> bool:
        me = self.require_enrolled()
        if device.lfdi == me.lfdi:
            return True
        return me.kind is DeviceKind.AGGREGATOR and device.aggregator == me.lfdi


@dataclass
class HeadEnd:
    db: Database
    audit: AuditLog
    settings: HeadEndSettings
    clock: Callable[[], float] = time.time
    anomaly: AnomalyDetector = field(default_factory=AnomalyDetector)  # failed logins, in memory
    fleet: FleetService = field(init=False)
    repo: Sep2Repo = field(init=False)
    cache: ReadCache = field(init=False)
    responses: GroupCommit[DomainResponse] = field(init=False)
    identities: IdentityResolver = field(init=False)
    _rates: dict[tuple[str, str], str] = field(init=False, default_factory=dict)
    _rates_at: float = field(init=False, default=-1e9)
    _disabled: frozenset[str] = field(init=False, default=frozenset())
    _locked: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        self.fleet = FleetService(self.db, self.audit, clock=self.clock)
        self.repo = Sep2Repo(self.db)
        self.cache = ReadCache(self.db, self.clock)
        self.responses = GroupCommit(self.fleet.record_responses)
        self.identities = IdentityResolver(
            self.settings.pki_dir, trusted_header=self.settings.trusted_header, clock=self.clock
        )

    def now(self) -> int:
        return int(self.clock())

    @property
    def open_registration(self) -> bool:
        return self.settings.registration == "open"

    async def caller(self, request: Request) -> Caller:
        identity = self.identities.resolve(request)
        await self.cache.refresh()
        device = await self.cache.get(
            ("lfdi", identity.lfdi), lambda: self.fleet.device(identity.lfdi)
        )
        return Caller(identity, device)

    async def device_by_sfdi(self, caller: Caller, sfdi: int) -> Device:
        """The EndDevice ``sfdi`` if the caller may act for it; 403/404 otherwise."""

        async def load() -> Device | None:
            async with self.db.sessions() as s:
                row = await s.scalar(select(DeviceRow).where(DeviceRow.sfdi == sfdi))
            return codec.device_from_row(row) if row else None

        device = await self.cache.get(("sfdi", sfdi), load)
        if device is None:
            caller.require_enrolled()
            raise HttpError(404, f"no EndDevice {sfdi}")
        if not caller.may_act_for(device):
            raise forbidden(f"{caller.lfdi} may not act for EndDevice {sfdi}")
        return device

    async def devices_of(self, caller: Caller) -> list[Device]:
        """The EndDevices the caller may see: itself, and for an aggregator its devices."""
        if caller.device is None and self.open_registration:
            return []
        me = caller.require_enrolled()
        if me.kind is not DeviceKind.AGGREGATOR:
            return [me]
        managed = await self.cache.get(
            ("aggregated", me.lfdi), lambda: self.fleet.devices(aggregator=me.lfdi)
        )
        return [me, *managed]

    async def caller_groups(self, caller: Caller) -> frozenset[str]:
        """The groups of every EndDevice the caller may act for (cached per caller: an
        aggregator may act for thousands)."""
        if caller.device is None and self.open_registration:
            return frozenset()
        me = caller.require_enrolled()

        async def load() -> frozenset[str]:
            return await self.groups_of(await self.devices_of(caller))

        return await self.cache.get(("caller-groups", me.lfdi), load)

    async def groups_of(self, devices: list[Device]) -> frozenset[str]:
        sites = frozenset(d.site for d in devices if d.site is not None)
        if not sites:
            return frozenset()

        async def load() -> frozenset[str]:
            async with self.db.sessions() as s:
                rows = await s.scalars(
                    select(SiteGroupRow.group_id).where(SiteGroupRow.site_id.in_(sites))
                )
                return frozenset(rows.all())

        return await self.cache.get(("groups", sites), load)

    async def programs(self, groups: frozenset[str]) -> list[Program]:
        """Programs targeting any of ``groups``, by primacy (cached)."""
        return await self.cache.get(
            ("programs", groups), lambda: self.fleet.programs(groups=groups)
        )

    async def program(self, program_id: str) -> Program:
        """One program (cached); NotFound when there is none."""
        return await self.cache.get(("program", program_id), lambda: self.fleet.program(program_id))

    async def device(self, lfdi: str) -> Device | None:
        """An enrolled device by LFDI (cached)."""
        return await self.cache.get(("lfdi", lfdi), lambda: self.fleet.device(lfdi))

    async def control_mrids(self, program_id: str) -> frozenset[str]:
        """Every control of the program, ended ones too (what a device may respond to)."""

        async def load() -> frozenset[str]:
            controls = await self.fleet.controls(program=program_id, include_ended=True)
            return frozenset(c.mrid for c in controls)

        return await self.cache.get(("mrids", program_id), load)

    async def is_control_of(self, program_id: str, mrid: str) -> bool:
        """Whether ``mrid`` is an event of the program. A miss is checked again uncached: the
        snapshot may predate a control the device has already read from a fresher list."""
        if mrid in await self.control_mrids(program_id):
            return True
        self.cache.discard(("mrids", program_id))
        return mrid in await self.control_mrids(program_id)

    async def controls_of(self, program_id: str) -> list[Control]:
        """The program's controls that have not ended (cached; callers must not mutate)."""
        return await self.cache.get(
            ("controls", program_id, self.now()),
            lambda: self.fleet.controls(program=program_id),
        )

    async def rate(self, kind: str, list_name: str, site: str | None = None) -> int | None:
        """A poll or post rate: per site and list, else per site, per deployment and list,
        else per deployment; None when nothing is set."""
        settings = await self._settings()
        scopes = ([f"site:{site}"] if site else []) + ["deployment"]
        for scope in scopes:
            for name in (list_name, "*"):
                value = settings.get((scope, f"{kind}:{name}"))
                if value is not None:
                    return int(value)
        return None

    async def _settings(self) -> dict[tuple[str, str], str]:
        """The deployment's settings, read at most every SETTINGS_TTL seconds."""
        if self.clock() - self._rates_at > SETTINGS_TTL:
            self._rates = await self.fleet.settings()
            self._rates_at = self.clock()
            self._disabled = flagged(self._rates, DISABLED)
            self._locked = flagged(self._rates, LOCKED)
        return self._rates

    async def disabled(self) -> frozenset[str]:
        """The resource (route) names this deployment switched off: setting
        ``disabled:{name}`` of scope ``deployment`` ('derlink resource disable')."""
        await self._settings()
        return self._disabled

    async def locked(self) -> frozenset[str]:
        """Resources whose client updates this deployment refuses: setting ``locked:{name}``
        ('derlink resource lock'); the operator's value stands."""
        await self._settings()
        return self._locked

    async def poll_rate(self, list_name: str, site: str | None = None) -> int:
        return await self.rate("poll", list_name, site) or self.settings.default_poll_rate

    async def audit_event(
        self,
        caller_lfdi: str | None,
        action: str,
        target: str,
        outcome: Outcome,
        **details: object,
    ) -> None:
        """An audit record of a client's write or of a refusal."""
        refused = outcome is not Outcome.SUCCESS
        event = AuditEvent(
            action=action,
            target=target,
            actor=f"lfdi:{caller_lfdi}" if caller_lfdi else "unauthenticated",
            outcome=outcome,
            severity=Severity.WARNING if refused else Severity.INFO,
            event_id="Sep2:Refused.1" if refused else "Sep2:Write.1",
            source="derlink.sep2",
            details={k: v for k, v in details.items() if v is not None},
        )
        await self.audit.append(event)
