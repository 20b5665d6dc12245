"""The end-to-end setup of the 61850 commands: credentials kept on disk, CRLs read again."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from derlink.cli.e2e_opts import (
    E2eSettings,
    E2eSetupError,
    e2e_settings,
    make_protector,
    protect_centre,
    protect_simulated,
    stored_credentials,
)
from derlink.e2e import Credentials, PkiVerifier
from derlink.home import Home
from derlink.iec61850.acsi.client import analogue
from derlink.iec61850.acsi.server import IedServer
from derlink.iec61850.centre import ControlCentre
from derlink.iec61850.ied import IedRuntime
from derlink.iec61850.mms import data as mms_data
from derlink.iec61850.model.der import load_der_ied
from derlink.iec61850.model.refs import FC, ObjectReference
from derlink.iec61850.model.store import ValueStore
from derlink.iec61850.protection import E2eProtector
from derlink.pki import Pki, Role
from derlink.pki.checks import xmpp_addrs
from support.xmpp import ADMIN, XmppService, endpoint_for


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki.create(tmp_path / "pki", passphrase=None, now=datetime.now(UTC))


def test_stored_credentials_issue_once_and_follow_the_jid(pki: Pki, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    prefix = tmp_path / "centre-e2e"
    first = stored_credentials(
        lambda: pki, prefix, "centre", "centre@derlink.local/x", roles=[Role.OPERATOR], now=now
    )
    again = stored_credentials(lambda: pki, prefix, "centre", "centre@derlink.local", now=now)
    assert again.certificate == first.certificate  # kept, not issued again
    moved = stored_credentials(lambda: pki, prefix, "centre", "ops@derlink.local", now=now)
    assert xmpp_addrs(moved.certificate) == ("ops@derlink.local",)
    assert oct(os.stat(prefix.with_suffix(".key")).st_mode & 0o777) == "0o600"


def test_settings_need_crls_and_both_files(tmp_path: Path) -> None:
    assert e2e_settings(None, None, None, (), require=False) is None
    some = tmp_path / "x"
    with pytest.raises(E2eSetupError, match="required"):
        e2e_settings(None, None, None, (), require=True)
    with pytest.raises(E2eSetupError, match="give --crl"):
        e2e_settings(some, some, some, (), require=False)


async def test_a_revocation_in_fresh_crl_files_ends_the_session(pki: Pki, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    pki.issue_e2e("ied", xmpp_address="ied@derlink.local", now=now).write(tmp_path / "ied")
    settings = E2eSettings(
        tmp_path / "ied.pem", tmp_path / "ied.key", pki.paths.ca_bundle, tuple(pki.paths.crls)
    )
    ied = make_protector(settings, "ied@derlink.local/ied")
    issued = pki.issue_e2e(
        "centre", xmpp_address="centre@derlink.local", roles=[Role.OPERATOR], now=now
    )
    centre = E2eProtector(Credentials.from_issued(issued), PkiVerifier(pki))
    request = centre.begin("ied@derlink.local/ied", now)
    answer = ied.answer("centre@derlink.local/centre", request, now)
    centre.complete("ied@derlink.local/ied", answer, now)
    assert ied.roles("centre@derlink.local") == (Role.OPERATOR,)
    await ied.run_tick()  # nothing changed on disk: the session stays
    assert ied.session("centre@derlink.local") is not None
    pki.revoke(issued.serial_number, now=datetime.now(UTC))
    for path in pki.paths.crls:  # make the change visible whatever the file system's clock
        stat = path.stat()
        os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    await ied.run_tick()
    assert ied.session("centre@derlink.local") is None
    assert ied.refused["e2e.revoked"] == 1


@pytest.mark.xmpp
async def test_a_data_directory_centre_and_simulated_ieds_speak_end_to_end(
    prosody_server: XmppService,
    tmp_path: Path,
) -> None:
    """The centre's credentials issued into its data directory, the simulated IEDs' next to
    their XMPP ones; requests, controls and a group command run end to end."""
    service = prosody_server
    home = Home(tmp_path / "home")
    home.root.mkdir()
    Pki.create(home.pki_dir, passphrase=None, now=datetime.now(UTC))
    tag = uuid.uuid4().hex[:6]
    centre_end = endpoint_for(service, ADMIN, f"centre-{tag}")
    runtimes = []
    for i in range(2):
        end = endpoint_for(service, f"sim{i}-{tag}", "ied")
        model = load_der_ied()
        server = IedServer(model, ValueStore(model), clock=time.time)
        runtimes.append(IedRuntime(end, server, centres=[str(centre_end.jid)]))
    ieds = [(tmp_path / f"IED-{i}", str(r.endpoint.jid), r) for i, r in enumerate(runtimes)]
    protectors = protect_simulated(home, ieds, kdc_jid=str(centre_end.jid), passphrase=None)
    assert (tmp_path / "IED-0-e2e.pem").exists()
    e2e = protect_centre(centre_end, home, passphrase=None)
    jids = [str(r.endpoint.jid) for r in runtimes]
    centre = ControlCentre(centre_end, ieds=jids, muc_service=service.muc_service)
    await centre.start()
    await asyncio.gather(*(r.start() for r in runtimes))
    try:
        await centre.associate_all(jids)
        ld = runtimes[0].server.model.logical_devices()[0]
        for jid, protector in zip(jids, protectors, strict=True):
            assert e2e.protector.session(jid) is not None
            assert protector.roles(str(centre_end.jid)) == (Role.OPERATOR,)
            assert (await centre.sbo_operate(jid, f"{ld}/DWMX1.WMaxSptPct", analogue(30.0))).success
        room = await centre.create_group(f"sim-{tag}", jids)
        await e2e.kdc.create_group(room, jids)
        setting = f"{ld}/DECP1.WExpLim.setMag.f"
        centre.group_write(f"sim-{tag}", setting, FC.SP, _float(777.0))
        ref = ObjectReference.parse(setting)
        for _ in range(100):
            if all(r.server.value_of(ref, FC.SP) == 777.0 for r in runtimes):
                break
            await asyncio.sleep(0.05)
        assert all(r.server.value_of(ref, FC.SP) == 777.0 for r in runtimes)
    finally:
        await centre.stop()
        await e2e.close()
        for runtime, protector in zip(runtimes, protectors, strict=True):
            await runtime.stop()
            await protector.close()
    again = protect_centre(endpoint_for(service, ADMIN, f"centre-{tag}"), home, passphrase=None)
    assert again.protector.credentials.certificate == e2e.protector.credentials.certificate


def _float(value: float) -> tuple[str, object]:
    return ("floating-point", mms_data.to_data(mms_data.td_float32(), value)[1])
