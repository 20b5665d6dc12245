"""The IEC 62351-8 role table through the 61850 control path: XMPP, end-to-end sessions, ACSI.

One real Prosody, one IED built as ``derlink ied run`` builds it (end-to-end credentials from
files, trust anchor and CRLs as a device holds them), and one control-centre identity per
standard role, whose end-to-end certificate carries only that role. Each identity browses,
reads, enables reporting, writes a set point (SP) and a description (DC), and operates a
select-before-operate control. What the IED allows must be exactly the expected table of
``test_matrix.py`` for the right the ACSI server classifies each service under; every refusal
is an ACSI access error at the client, changes nothing, and is an audit event at the IED.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from derlink.audit.event import AuditEvent, Outcome
from derlink.cli.e2e_opts import E2eSettings
from derlink.cli.ied_cmd import IedStack, build_ied
from derlink.e2e import Credentials, PkiVerifier
from derlink.errors import DerlinkError
from derlink.iec61850.acsi.client import analogue
from derlink.iec61850.acsi.errors import ServiceError, ServiceErrorClass
from derlink.iec61850.centre import ControlCentre
from derlink.iec61850.mms import data as mms_data
from derlink.iec61850.model.der import load_der_ied
from derlink.iec61850.model.refs import FC, ObjectReference
from derlink.iec61850.protection import E2eProtector
from derlink.iec61850.xmpp.endpoint import Endpoint
from derlink.pki import Role
from support.xmpp import XmppService, endpoint_for

from .test_matrix import EXPECTED_ACSI

pytestmark = [pytest.mark.xmpp, pytest.mark.asyncio(loop_scope="module")]

MODEL = load_der_ied()
LD = MODEL.logical_devices()[0]
MEASUREMENT = f"{LD}/MMXU1.Hz.mag.f"
SETTING = f"{LD}/DECP1.WExpLim.setMag.f"  # SP: a set point, CONTROL as the server classifies
DESCRIPTION = f"{LD}/LLN0.NamPlt.d"  # DC: CONFIG
CONTROL = f"{LD}/DWMX1.WMaxSptPct"  # sbo-with-enhanced-security
URCB = f"{LD}/LLN0.urcbStatus01"


@dataclass
class Lab:
    service: XmppService
    ied: IedStack
    audit: list[AuditEvent]
    centres: dict[Role, ControlCentre]
    protectors: list[E2eProtector]
    plain: Endpoint

    @property
    def jid(self) -> str:
        return str(self.ied.runtime.endpoint.jid)

    def value(self, ref: str, fc: FC) -> Any:
        return self.ied.runtime.server.value_of(ObjectReference.parse(ref), fc)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lab(
    prosody_server: XmppService,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Lab]:
    service = prosody_server
    tag = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    files: Path = tmp_path_factory.mktemp("rbac-xmpp")
    centre_ends = {
        role: endpoint_for(service, f"{role.name.lower()}-{tag}", "centre") for role in Role
    }
    plain_end = endpoint_for(service, f"plain-{tag}", "centre")  # admitted, but no end-to-end
    ied_end = endpoint_for(service, f"ied-{tag}", "ied")
    issued = service.pki.issue_e2e(f"ied-{tag}", xmpp_address=ied_end.bare, now=now)
    issued.write(files / "ied-e2e")
    settings = E2eSettings(
        files / "ied-e2e.pem",
        files / "ied-e2e.key",
        service.ca_file,
        tuple(service.pki.paths.crls),
    )
    audit: list[AuditEvent] = []
    ied = build_ied(
        ied_end,
        MODEL,
        centres=[str(e.jid) for e in (*centre_ends.values(), plain_end)],
        e2e=settings,
        audit=audit.append,
        measurement_interval=0.05,
    )
    centres: dict[Role, ControlCentre] = {}
    protectors: list[E2eProtector] = []
    for role, end in centre_ends.items():
        mine = service.pki.issue_e2e(
            f"{role.name.lower()}-{tag}", xmpp_address=end.bare, roles=[role], now=now
        )
        protector = E2eProtector(Credentials.from_issued(mine), PkiVerifier(service.pki))
        protector.attach(end)
        protectors.append(protector)
        centres[role] = ControlCentre(end, ieds=[str(ied_end.jid)], request_timeout=10.0)
    made = Lab(service, ied, audit, centres, protectors, plain_end)
    await ied.start()
    for centre in centres.values():
        await centre.start()
    try:
        yield made
    finally:
        for centre in centres.values():
            await centre.stop()
        for protector in protectors:
            await protector.close()
        await ied.stop()


def _float(value: float) -> tuple[str, Any]:
    return ("floating-point", mms_data.to_data(mms_data.td_float32(), value)[1])


Probe = Callable[[ControlCentre, str], Awaitable[Any]]


async def _browse(centre: ControlCentre, jid: str) -> Any:
    assert await centre.server_directory(jid) == [LD]


async def _read(centre: ControlCentre, jid: str) -> Any:
    assert isinstance(await centre.read(jid, MEASUREMENT, FC.MX), float)


async def _reporting(centre: ControlCentre, jid: str) -> Any:
    await centre.enable_reporting(jid, URCB, buffered=False)
    await centre.disable_reporting(jid, URCB, buffered=False)


async def _write_setting(centre: ControlCentre, jid: str) -> Any:
    await centre.write(jid, SETTING, FC.SP, _float(4321.0))


async def _write_description(centre: ControlCentre, jid: str) -> Any:
    await centre.write(jid, DESCRIPTION, FC.DC, ("visible-string", "set by the centre"))


async def _operate(centre: ControlCentre, jid: str) -> Any:
    assert (await centre.sbo_operate(jid, CONTROL, analogue(55.0))).success


# (what, the ACSI right the IED's server classifies it under, the probe, what it changes)
PROBES: list[tuple[str, str, Probe, tuple[str, FC] | None]] = [
    ("browse", "view", _browse, None),
    ("read", "read", _read, None),
    ("reporting", "reporting", _reporting, None),
    ("write SP", "control", _write_setting, (SETTING, FC.SP)),
    ("write DC", "config", _write_description, (DESCRIPTION, FC.DC)),
    ("SBO operate", "control", _operate, (f"{CONTROL}.mxVal.f", FC.MX)),
]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.name.lower())
async def test_role_through_xmpp(lab: Lab, role: Role) -> None:
    centre = lab.centres[role]
    me = str(centre.endpoint.jid)
    started = time.perf_counter()
    await centre.associate(lab.jid)
    protector = lab.protectors[list(Role).index(role)]
    assert protector.session(lab.jid) is not None  # every MMS payload went end to end
    refused: list[str] = []
    for what, right, probe, changes in PROBES:
        allowed = right in EXPECTED_ACSI[role]
        before = lab.value(*changes) if changes is not None else None
        seen = len(lab.audit)
        if allowed:
            await probe(centre, lab.jid)
            continue
        with pytest.raises(ServiceError) as denied:
            await probe(centre, lab.jid)
        assert denied.value.service_class is ServiceErrorClass.ACCESS_VIOLATION, (role, what)
        if changes is not None:
            assert lab.value(*changes) == before, (role, what)
        events = [
            e for e in lab.audit[seen:] if e.event_id == "IEC61850:Access.1" and e.actor == me
        ]
        assert events and all(e.outcome is Outcome.DENIED for e in events), (role, what)
        assert {e.details["right"] for e in events} == {right}, (role, what)
        refused.append(what)
    expected = [what for what, right, _p, _c in PROBES if right not in EXPECTED_ACSI[role]]
    assert refused == expected
    await centre.release(lab.jid)
    assert time.perf_counter() - started < 5.0


async def test_plaintext_from_an_admitted_centre_is_refused(lab: Lab) -> None:
    """A centre the IED admits by JID, speaking without end-to-end protection: refused before
    the ACSI server sees anything, and audited."""
    plain = ControlCentre(lab.plain, request_timeout=5.0)
    await plain.start()
    seen = len(lab.audit)
    try:
        with pytest.raises(DerlinkError) as refused:
            await plain.associate(lab.jid, timeout=5.0)
        assert "bad-request" in str(refused.value), refused.value
    finally:
        await plain.stop()
    events = [e for e in lab.audit[seen:] if e.actor.startswith(lab.plain.bare)]
    assert events and events[0].event_id == "E2E:Refused.1"
    assert events[0].outcome is Outcome.DENIED
    assert not any(e.event_id.startswith("IEC61850:Association") for e in events)
