"""``derlink pki`` end to end, in process, against a data directory made by ``derlink init``."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from derlink.home import Home
from derlink.pki import Profile, load_certificate
from support.cli import Cli

from .conftest import openssl

PASSPHRASE_ENV = "DERLINK_PKI_PASSPHRASE"
ADMIN = ["operator", "engineer", "secadm"]  # the local administrator 'derlink init' issues


@pytest.fixture
def encrypted_cli(
    home: Home, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(PASSPHRASE_ENV, "s3cret passphrase")
    runner = Cli(home, capsys)
    runner.ok("init")
    return runner


def state(cli: Cli, tmp_path: Path) -> tuple[dict[str, bytes], int, list[str]]:
    pki_dir = cli.home.pki_dir
    files = {str(p.relative_to(pki_dir)): p.read_bytes() for p in pki_dir.rglob("*") if p.is_file()}
    outputs = sorted(p.name for p in tmp_path.iterdir())
    return files, len(cli.audit_records()), outputs


def test_issue_device_show_and_audit(cli: Cli, tmp_path: Path) -> None:
    result = cli.ok("pki", "issue", "device", "--serial", "INV-0001", "--out", "inv1")
    assert "LFDI" in result.out and "SFDI" in result.out
    cert = load_certificate(tmp_path / "inv1.pem")
    assert stat.S_IMODE((tmp_path / "inv1.key").stat().st_mode) == 0o600
    serial = f"{cert.serial_number:X}"
    last = cli.audit_records()[-1]
    assert last["action"] == "pki.issue" and last["event_id"] == "PKI:Issue.1"
    assert last["target"] == f"cert:{serial}" and last["source"] == "derlink.cli"
    assert last["details"]["profile"] == "device"  # type: ignore[index]
    assert str(last["actor"]).startswith("cli:")

    shown = cli.ok("pki", "show", "inv1.pem").out
    for expected in ("profile         device", "hardware serial INV-0001", "status          valid"):
        assert expected in shown
    data = cli.json("pki", "show", "inv1.pem")
    assert isinstance(data, dict)
    assert data["serial_number"] == serial and data["valid"] is True and data["revoked"] is False
    assert data["lfdi"] in result.out and str(data["sfdi"]) in result.out
    assert data["subject"] == "" and data["issued_by_this_pki"] is True


def test_issue_json_for_every_profile(cli: Cli) -> None:
    cases = [
        (["device", "--serial", "INV-9"], "device"),
        (["server", "head-end.example", "192.0.2.1"], "server"),
        (["operator", "alice", "--role", "OPERATOR", "--role", "viewer"], "operator"),
        (["aggregator", "acme vpp", "--role", "operator", "--aor", "south"], "aggregator"),
        (["signer", "audit-2"], "signer"),
    ]
    for args, profile in cases:
        data = cli.json("pki", "issue", *args)
        assert isinstance(data, dict) and data["profile"] == profile
        assert Path(str(data["certificate_file"])).is_file()
        assert len(str(data["lfdi"])) == 40
    listed = cli.json("pki", "list")
    assert isinstance(listed, list)
    assert {r["profile"] for r in listed} >= {"device", "server", "operator", "aggregator"}
    operator = next(r for r in listed if r["profile"] == "operator" and r["roles"] != ADMIN)
    assert operator["roles"] == ["viewer", "operator"] and operator["status"] == "valid"
    assert Path("acme_vpp.pem").is_file()  # default output named after the subject
    table = cli.ok("pki", "list", "--profile", "device").out
    assert "INV-9" in table and "alice" not in table


def test_revoke_then_show_list_crl_and_openssl(cli: Cli, tmp_path: Path) -> None:
    cli.ok("pki", "issue", "operator", "bob", "--role", "operator", "--out", "bob")
    serial = f"{load_certificate(tmp_path / 'bob.pem').serial_number:X}"
    result = cli.ok("pki", "revoke", serial.lower(), "--reason", "keyCompromise")
    assert f"revoked operator certificate {serial} (keyCompromise)" in result.out
    last = cli.audit_records()[-1]
    assert (last["action"], last["event_id"], last["target"]) == (
        "pki.revoke",
        "PKI:Revoke.1",
        f"cert:{serial}",
    )
    data = cli.json("pki", "show", "bob.pem")
    assert isinstance(data, dict) and data["revoked"] is True and data["valid"] is False
    assert "revoked" in str(data["status"]) and data["revocation_reason"] == "keyCompromise"
    revoked = cli.json("pki", "list", "--revoked")
    assert isinstance(revoked, list) and [r["serial_number"] for r in revoked] == [serial]

    cli.ok("pki", "crl", "--days", "3")
    last = cli.audit_records()[-1]
    assert (last["action"], last["event_id"]) == ("pki.crl", "PKI:Crl.1")
    pki_dir = cli.home.pki_dir
    verdict = openssl(
        "verify",
        "-crl_check",
        "-CRLfile",
        str(pki_dir / "operator-ca.crl.pem"),
        "-CAfile",
        str(pki_dir / "root-ca.pem"),
        "-untrusted",
        str(pki_dir / "operator-ca.pem"),
        str(tmp_path / "bob.pem"),
    )
    assert verdict.returncode != 0 and "certificate revoked" in verdict.stdout + verdict.stderr
    assert cli.ok("audit", "verify").code == 0


def test_pki_init_refuses_an_existing_pki_and_recreates_an_emptied_one(cli: Cli) -> None:
    refused = cli("pki", "init")
    assert refused.code != 0 and refused.err.startswith("error: a PKI already exists")
    for path in sorted(cli.home.pki_dir.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    result = cli.ok("pki", "init", "--name", "lab")
    assert "created the PKI 'lab'" in result.out
    assert (cli.home.pki_dir / "root-ca.pem").is_file()
    assert (cli.home.pki_dir / "server.pem").is_file() and (
        cli.home.pki_dir / "audit.key"
    ).is_file()
    last = cli.audit_records()[-1]
    assert (last["action"], last["event_id"]) == ("pki.init", "PKI:Init.1")


def test_encrypted_home_works_with_the_passphrase(encrypted_cli: Cli) -> None:
    key = (encrypted_cli.home.pki_dir / "device-ca.key").read_bytes()
    assert key.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    encrypted_cli.ok("pki", "issue", "device", "--serial", "ENC-1")
    encrypted_cli.ok("pki", "crl")


BAD_INPUTS = [
    (["pki", "show", "missing.pem"], "certificate file missing.pem does not exist"),
    (["pki", "show", "notes.txt"], "notes.txt is not a PEM or DER X.509 certificate"),
    (["pki", "show", "."], "is a directory"),
    (["pki", "revoke", "ABCDEF0123"], "no certificate with serial ABCDEF0123 was issued"),
    (["pki", "revoke", "not-hex"], "'not-hex' is not a serial number"),
    (["pki", "issue", "operator", "eve", "--role", "pilot"], "unknown role 'pilot'"),
    (["pki", "issue", "device", "--serial", "X", "--out", "taken"], "taken.pem already exists"),
    (["pki", "issue", "device", "--serial", "X", "--policy", "gold"], "not an object identifier"),
    (["pki", "issue", "server", "bad host!"], "neither a DNS name nor an IP address"),
    (["pki", "issue", "device", "--serial", "X", "--out", "nodir/x"], "does not exist"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_is_one_error_line_and_changes_nothing(
    cli: Cli, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "notes.txt").write_text("not a certificate\n")
    (tmp_path / "taken.pem").write_text("keep me\n")
    before = state(cli, tmp_path)
    result = cli(*args)
    assert result.code != 0
    assert result.err.count("\n") == 1 and result.err.startswith("error: "), result.err
    assert message in result.err
    assert "Traceback" not in result.err + result.out
    assert state(cli, tmp_path) == before


@pytest.mark.parametrize("passphrase", ["wrong", None])
@pytest.mark.parametrize("command", ["issue", "revoke", "crl"])
def test_wrong_or_missing_passphrase_changes_nothing(
    encrypted_cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    passphrase: str | None,
    command: str,
) -> None:
    encrypted_cli.ok("pki", "issue", "device", "--serial", "KEEP", "--out", "keep")
    serial = f"{load_certificate(tmp_path / 'keep.pem').serial_number:X}"
    before = state(encrypted_cli, tmp_path)
    if passphrase is None:
        monkeypatch.delenv(PASSPHRASE_ENV)
    else:
        monkeypatch.setenv(PASSPHRASE_ENV, passphrase)
    args = {
        "issue": ["pki", "issue", "device", "--serial", "NEW"],
        "revoke": ["pki", "revoke", serial],
        "crl": ["pki", "crl"],
    }[command]
    result = encrypted_cli(*args)
    assert result.code != 0 and result.err.count("\n") == 1
    expected = "wrong passphrase for the CA key" if passphrase else "no passphrase was given"
    assert result.err.startswith("error: ") and expected in result.err
    assert f"${PASSPHRASE_ENV}" in result.err
    assert "Traceback" not in result.err
    monkeypatch.setenv(PASSPHRASE_ENV, "s3cret passphrase")  # the audit export reads nothing secret
    assert state(encrypted_cli, tmp_path) == before


def test_show_works_without_a_passphrase_and_without_a_data_directory(
    encrypted_cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    encrypted_cli.ok("pki", "issue", "device", "--serial", "S1", "--out", "s1")
    monkeypatch.delenv(PASSPHRASE_ENV)
    assert "status          valid" in encrypted_cli.ok("pki", "show", "s1.pem").out
    assert encrypted_cli.ok("pki", "list").code == 0
    elsewhere = Cli(Home(tmp_path / "no-such-home"), capsys)
    data = elsewhere.json("pki", "show", "s1.pem")
    assert isinstance(data, dict) and data["valid"] is None and data["profile"] == "device"


def test_commands_need_an_initialised_data_directory(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    result = Cli(home, capsys)("pki", "list")
    assert result.code != 0 and result.err.startswith("error: no derlink data directory")


def test_help_texts(cli: Cli) -> None:
    for args in (["pki"], ["pki", "issue"], ["pki", "issue", "device"], ["pki", "revoke"]):
        assert "Usage:" in cli.ok(*args, "--help").out
    assert Profile.DEVICE.value in cli.ok("pki", "issue", "--help").out
