"""``derlink ied run`` with end-to-end protection: the product command, as a process.

The centre holds an end-to-end certificate with roles; the IED process gets its own end-to-end
certificate, the trust anchor and the CRL files. Requests, reports, controls and group commands
(with group keys from the centre) work; the server sees no MMS; bad options are one error line.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from derlink.e2e import Credentials, PkiVerifier
from derlink.home import Home
from derlink.iec61850.acsi.client import analogue
from derlink.iec61850.acsi.errors import ServiceError, ServiceErrorClass
from derlink.iec61850.centre import ControlCentre
from derlink.iec61850.groupkeys import GroupKeyDistributor
from derlink.iec61850.mms import data as mms_data
from derlink.iec61850.model.refs import FC
from derlink.iec61850.protection import E2eProtector
from derlink.pki import Pki, Role
from support.cli import Cli
from support.xmpp import ADMIN, XmppService, endpoint_for

from .conftest import ied_process, stop_with_ctrl_c

NAME = "E2EIED"
LD = f"{NAME}LD0"
SETTING = f"{LD}/DECP1.WExpLim.setMag.f"
DESCRIPTION = f"{LD}/LLN0.NamPlt.d"


def _float(value: float) -> tuple[str, object]:
    return ("floating-point", mms_data.to_data(mms_data.td_float32(), value)[1])


@pytest.mark.xmpp
async def test_ied_run_end_to_end(prosody_server: XmppService, tmp_path: Path) -> None:
    service = prosody_server
    tag = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    ied_jid, cert, key = service.client(f"e2e-ied-{tag}", "ied")
    ied_bare = ied_jid.partition("/")[0]
    service.pki.issue_e2e(f"ied {tag}", xmpp_address=ied_bare, now=now).write(tmp_path / "ied")
    end = endpoint_for(service, ADMIN, f"centre-{tag}", request_timeout=10.0)
    issued = service.pki.issue_e2e(
        f"centre {tag}", xmpp_address=end.bare, roles=[Role.OPERATOR], now=now
    )
    protector = E2eProtector(Credentials.from_issued(issued), PkiVerifier(service.pki))
    protector.attach(end)
    kdc = GroupKeyDistributor(protector)
    centre = ControlCentre(end, ieds=[ied_jid], muc_service=service.muc_service)
    await centre.start()
    crls = [arg for path in service.pki.paths.crls for arg in ("--crl", str(path))]
    options = (
        "--ied-name", NAME, "--centre", str(end.jid), "--e2e-cert", str(tmp_path / "ied.pem"),
        "--e2e-key", str(tmp_path / "ied.key"), *crls, "--require-e2e",
    )  # fmt: skip
    home = tmp_path / "no-home"
    try:
        async with ied_process(home, service, ied_jid, cert, key, *options) as (process, line):
            assert b"(end-to-end protected)" in line
            await centre.presence.wait(ied_jid, timeout=10)
            await centre.associate(ied_jid)
            assert protector.session(ied_jid) is not None
            assert await centre.server_directory(ied_jid) == [LD]
            # the operator's role allows a control, not a configuration change
            operated = await centre.sbo_operate(ied_jid, f"{LD}/DWMX1.WMaxSptPct", analogue(40.0))
            assert operated.success
            with pytest.raises(ServiceError) as denied:
                await centre.write(ied_jid, DESCRIPTION, FC.DC, ("visible-string", "x"))
            assert denied.value.service_class is ServiceErrorClass.ACCESS_VIOLATION
            # a group command through the room, under the group key the IED got from the centre
            room = await centre.create_group(f"e2e-{tag}", [ied_jid])
            await kdc.create_group(room, [ied_jid])
            centre.group_write(f"e2e-{tag}", SETTING, FC.SP, _float(1234.0))
            for _ in range(100):
                if await centre.read(ied_jid, SETTING, FC.SP) == 1234.0:
                    break
                await asyncio.sleep(0.05)
            assert await centre.read(ied_jid, SETTING, FC.SP) == 1234.0
            assert kdc.delivered  # the key package went to the IED inside its session
            await stop_with_ctrl_c(process)
    finally:
        await centre.stop()
        await protector.close()


def _pki_files(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    pki = Pki.create(tmp_path / "pki", passphrase=None, now=datetime.now(UTC))
    issued = pki.issue_e2e("ied", xmpp_address="ied@derlink.local", now=datetime.now(UTC))
    issued.write(tmp_path / "e2e")
    return tmp_path / "e2e.pem", tmp_path / "e2e.key", pki.paths.ca_bundle, pki.paths.crls[0]


BAD = [
    (["--require-e2e"], "end-to-end protection is required"),
    (["--e2e-cert", "{cert}"], "give both --e2e-cert and --e2e-key"),
    (["--e2e-cert", "{cert}", "--e2e-key", "{key}"], "give --crl"),
    (["--e2e-cert", "{cert}", "--e2e-key", "{cert}", "--crl", "{crl}"], "key"),
    (["--e2e-cert", "{ca}", "--e2e-key", "{key}", "--crl", "{crl}"], "not the key"),
]


@pytest.mark.parametrize(("extra", "message"), BAD)
def test_bad_end_to_end_options_are_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    cert, key, ca, crl = _pki_files(tmp_path)
    names = {"cert": cert, "key": key, "ca": ca, "crl": crl}
    args = [a.format(**names) for a in extra]
    result = Cli(Home(tmp_path / "no-home"), capsys)(
        "ied", "run", "--jid", "ied@derlink.local", "--cert", str(cert), "--key", str(key),
        "--ca", str(ca), "--server", "127.0.0.1:1", *args,
    )  # fmt: skip
    assert result.code != 0 and result.err.startswith("error: "), result.err
    assert result.err.count("\n") == 1 and message in result.err, result.err
    assert "Traceback" not in result.err


def test_a_certificate_of_another_jid_is_refused_before_logging_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key, ca, crl = _pki_files(tmp_path)
    result = Cli(Home(tmp_path / "no-home"), capsys)(
        "ied", "run", "--jid", "other@derlink.local", "--cert", str(cert), "--key", str(key),
        "--ca", str(ca), "--server", "127.0.0.1:1", "--e2e-cert", str(cert), "--e2e-key",
        str(key), "--crl", str(crl),
    )  # fmt: skip
    assert result.code != 0 and result.err.count("\n") == 1
    assert "names ied@derlink.local, not other@derlink.local" in result.err
