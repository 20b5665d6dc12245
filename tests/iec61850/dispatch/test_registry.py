"""The IED registry: an XMPP client certificate enrols an IED at its id-on-xmppAddr JID."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from derlink.home import Home
from derlink.iec61850.registry import (
    NotAnIedCertificate,
    all_ieds,
    ied_device,
    ieds_in_groups,
    jid_of_certificate,
)
from derlink.pki import load_certificate
from derlink.store import Database
from support.cli import Cli, initialised_cli


@pytest.fixture
def cli(
    home: Home, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    return initialised_cli(home, capsys, monkeypatch, tmp_path)


async def _ieds(home: Home, groups: list[str] | None = None) -> list[tuple[str, str]]:
    async with Database(f"sqlite+aiosqlite:///{home.database_file}") as db:
        found = await (all_ieds(db) if groups is None else ieds_in_groups(db, groups))
    return [(e.jid, e.ied_name) for e in found]


def test_device_enrol_recognises_an_xmpp_certificate(cli: Cli, home: Home) -> None:
    cli.ok("group", "add", "feeder-1")
    cli.ok("group", "add", "feeder-2")
    cli.ok("site", "add", "site-a", "--group", "feeder-1")
    cli.ok("xmpp", "cert", "IED-7@derlink.local", "--out", "ied7")
    cli.ok("pki", "issue", "device", "--serial", "INV-1", "--out", "inv1")
    out = cli.ok("device", "enrol", "--cert", "ied7.pem", "--site", "site-a").out
    assert "IEC 61850 IED at ied-7@derlink.local" in out
    cli.ok("device", "enrol", "--cert", "inv1.pem", "--site", "site-a")
    assert asyncio.run(_ieds(home)) == [("ied-7@derlink.local", "DERIED")]
    assert asyncio.run(_ieds(home, ["feeder-1"])) == [("ied-7@derlink.local", "DERIED")]
    assert asyncio.run(_ieds(home, ["feeder-2"])) == []
    # the same JID again is refused and changes nothing
    cli.ok("xmpp", "cert", "ied-7@derlink.local", "--out", "ied7b")
    again = cli("device", "enrol", "--cert", "ied7b.pem")
    assert again.code != 0 and "already enrolled" in again.err
    assert asyncio.run(_ieds(home)) == [("ied-7@derlink.local", "DERIED")]
    records = cli.audit_records()
    enrolments = [r for r in records if r["action"] == "device.enrol"]
    details = [r["details"] for r in enrolments]
    assert any(isinstance(d, dict) and d.get("jid") == "ied-7@derlink.local" for d in details)


def test_ied_name_needs_an_xmpp_certificate(cli: Cli) -> None:
    cli.ok("pki", "issue", "device", "--serial", "INV-2", "--out", "inv2")
    result = cli("device", "enrol", "--cert", "inv2.pem", "--ied-name", "X1")
    assert result.code != 0 and "--ied-name" in result.err


def test_jid_of_certificates(cli: Cli, tmp_path: Path) -> None:
    cli.ok("xmpp", "cert", "ied-9@derlink.local", "--out", "ied9")
    cli.ok("pki", "issue", "device", "--serial", "INV-3", "--out", "inv3")
    ied = load_certificate(tmp_path / "ied9.pem")
    assert jid_of_certificate(ied) == "ied-9@derlink.local"
    assert jid_of_certificate(load_certificate(tmp_path / "inv3.pem")) is None
    with pytest.raises(NotAnIedCertificate):
        ied_device(load_certificate(tmp_path / "inv3.pem"))
    with pytest.raises(NotAnIedCertificate):
        ied_device(ied, ied_name="9bad name")
    device, entry = ied_device(ied, site="s", ied_name="IED9")
    assert entry == ("ied-9@derlink.local", "IED9") and device.site == "s"
