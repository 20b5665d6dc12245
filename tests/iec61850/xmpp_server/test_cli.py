"""``derlink xmpp`` as an operator runs it: serve in the background, status, cert, reload, stop."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from derlink.home import Home
from support.cli import Cli
from support.xmpp import free_port, traversable_directory

pytestmark = pytest.mark.xmpp


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    base = traversable_directory("derlink-xmpp-cli-")
    monkeypatch.chdir(base)
    monkeypatch.delenv("DERLINK_PKI_PASSPHRASE", raising=False)
    runner = Cli(Home(base / "home"), capsys)
    runner.ok("init")
    yield runner
    runner("xmpp", "stop")
    shutil.rmtree(base, ignore_errors=True)


def test_serve_status_cert_reload_stop_are_audited(cli: Cli, tmp_path: Path) -> None:
    port = str(free_port())
    out = cli.ok("xmpp", "serve", "--server", "prosody", "--port", port, "--background").out
    assert f"prosody serving derlink.local on 127.0.0.1:{port}" in out
    status = json.loads(cli.ok("xmpp", "status", "--json").out)
    prosody = next(row for row in status if row["server"] == "prosody")
    assert prosody["running"] and prosody["port"] == int(port)
    issued = json.loads(
        cli.ok(
            "xmpp",
            "cert",
            "centre@derlink.local",
            "--role",
            "operator",
            "--out",
            str(tmp_path / "centre"),
            "--json",
        ).out
    )
    assert issued["profile"] == "xmpp-client" and issued["roles"] == ["operator"]
    assert (tmp_path / "centre.pem").is_file() and (tmp_path / "centre.key").is_file()
    cli.ok("pki", "revoke", issued["serial_number"])
    assert "reloaded its CRLs" in cli.ok("xmpp", "reload-crl").out
    assert "prosody stopped" in cli.ok("xmpp", "stop").out
    actions = [r["action"] for r in cli.audit_records()]
    for action in ("xmpp.start", "pki.issue", "xmpp.reload", "xmpp.stop"):
        assert action in actions


def test_mistakes_are_one_line_errors_and_change_nothing(cli: Cli, tmp_path: Path) -> None:
    before = len(cli.audit_records())
    wrong_domain = cli("xmpp", "cert", "ied@elsewhere.local", "--out", str(tmp_path / "x"))
    assert wrong_domain.code != 0 and "not a JID of the XMPP domain" in wrong_domain.err
    bad_role = cli(
        "xmpp", "cert", "cc@derlink.local", "--role", "boss", "--out", str(tmp_path / "y")
    )
    assert bad_role.code != 0 and "unknown role" in bad_role.err
    assert not list(tmp_path.iterdir())
    stop = cli("xmpp", "stop")
    assert stop.code != 0 and "no derlink XMPP server is running" in stop.err
    reload = cli("xmpp", "reload-crl", "--server", "prosody")
    assert reload.code != 0 and "not running" in reload.err
    assert len(cli.audit_records()) == before
    for command in ("serve", "stop", "status", "cert", "reload-crl"):
        assert "Usage:" in cli.ok("xmpp", command, "--help").out
