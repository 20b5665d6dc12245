"""``derlink pki issue e2e``: end-to-end certificates from the CLI, usable for a session at once."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from derlink.e2e import AnchorVerifier, Credentials, Established, Send, Session
from derlink.pki import Pki, Profile, Role, load_certificates, load_private_key
from derlink.pki.checks import xmpp_addrs
from support.cli import Cli


def credentials(prefix: Path) -> Credentials:
    """What a holder loads from PREFIX.pem and PREFIX.key."""
    chain = load_certificates(prefix.with_suffix(".pem"))
    key = load_private_key(prefix.with_suffix(".key"), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return Credentials(chain[0], key, tuple(c for c in chain[1:] if c.subject != c.issuer))


def snapshot(cli: Cli, tmp_path: Path) -> tuple[dict[str, bytes], int, list[str]]:
    pki_dir = cli.home.pki_dir
    files = {str(p.relative_to(pki_dir)): p.read_bytes() for p in pki_dir.rglob("*") if p.is_file()}
    return files, len(cli.audit_records()), sorted(p.name for p in tmp_path.iterdir())


def test_issue_e2e_json_audit_show_list(cli: Cli, tmp_path: Path) -> None:
    data = cli.json(
        "pki",
        "issue",
        "e2e",
        "control centre",
        "--xmpp",
        "Centre@derlink.local",
        "--role",
        "operator",
        "--role",
        "ENGINEER",
        "--aor",
        "north",
        "--days",
        "30",
        "--out",
        "centre-e2e",
    )
    assert isinstance(data, dict)
    assert data["profile"] == "e2e" and data["roles"] == ["operator", "engineer"]
    assert data["xmpp_addresses"] == ["centre@derlink.local"]
    assert stat.S_IMODE((tmp_path / "centre-e2e.key").stat().st_mode) == 0o600
    chain = load_certificates(tmp_path / "centre-e2e.pem")
    assert len(chain) == 3 and xmpp_addrs(chain[0]) == ("centre@derlink.local",)
    pki = Pki.open(cli.home.pki_dir, passphrase=None)
    verified = pki.verify(chain[0], datetime.now(UTC), profiles={Profile.E2E})
    assert set(verified.roles) == {Role.OPERATOR, Role.ENGINEER}
    last = cli.audit_records()[-1]
    assert (last["action"], last["event_id"]) == ("pki.issue", "PKI:Issue.1")
    assert last["target"] == f"cert:{data['serial_number']}"
    details = last["details"]
    assert isinstance(details, dict) and details["profile"] == "e2e"
    assert details["xmpp_addresses"] == ["centre@derlink.local"]

    plain = cli.ok(
        "pki",
        "issue",
        "e2e",
        "ied-7",
        "--xmpp",
        "ied7@derlink.local",
        "--hardware-serial",
        "INV-7",
        "--out",
        "ied7",
    ).out
    assert "issued e2e certificate" in plain and "JID             ied7@derlink.local" in plain
    assert "hardware serial INV-7" in plain and "roles" not in plain
    shown = cli.ok("pki", "show", "ied7.pem").out
    assert "profile         e2e" in shown and "status          valid" in shown
    listed = cli.json("pki", "list", "--profile", "e2e")
    assert isinstance(listed, list) and len(listed) == 2


def test_cli_issued_certificates_open_a_session(cli: Cli, tmp_path: Path) -> None:
    """A centre and an IED with CLI-issued certificates, verifying as a device does (anchor and
    CRLs only): the handshake completes and each side sees the other's JID and roles."""
    cli.ok(
        "pki",
        "issue",
        "e2e",
        "centre",
        "--xmpp",
        "centre@derlink.local",
        "--role",
        "operator",
        "--out",
        "centre",
    )
    cli.ok("pki", "issue", "e2e", "ied1", "--xmpp", "ied1@derlink.local", "--out", "ied1")
    pki = Pki.open(cli.home.pki_dir, passphrase=None)
    verifier = AnchorVerifier([pki.root_certificate], pki.crls())
    now = datetime.now(UTC)
    centre = Session.initiator(credentials(tmp_path / "centre"), verifier)
    ied = Session.responder(credentials(tmp_path / "ied1"), verifier)
    request = centre.start(now)
    send, at_ied = ied.receive(request, now)
    assert isinstance(send, Send)
    (at_centre,) = centre.receive(send.message, now)
    assert isinstance(at_ied, Established) and isinstance(at_centre, Established)
    assert at_ied.peer.roles == (Role.OPERATOR,)
    assert at_ied.peer.xmpp_addresses == ("centre@derlink.local",)
    assert at_centre.peer.xmpp_addresses == ("ied1@derlink.local",) and not at_centre.peer.roles
    assert ied.open(centre.seal(b"<mms/>", now, confidential=True), now) == b"<mms/>"


BAD_INPUTS = [
    (["ied", "--xmpp", "not a jid"], "is not a bare JID"),
    (["ied", "--role", "pilot"], "unknown role 'pilot'"),
    (["ied", "--out", "taken"], "taken.pem already exists"),
    (["ied", "--days", "0"], ""),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_is_one_error_line_and_changes_nothing(
    cli: Cli, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "taken.pem").write_text("keep me\n")
    before = snapshot(cli, tmp_path)
    result = cli("pki", "issue", "e2e", *args)
    assert result.code != 0
    assert result.err.count("\n") == 1 and result.err.startswith("error: "), result.err
    assert message in result.err and "Traceback" not in result.err + result.out
    assert snapshot(cli, tmp_path) == before


def test_only_security_administrators_issue(cli: Cli, tmp_path: Path) -> None:
    pki = Pki.open(cli.home.pki_dir, passphrase=None)
    pki.issue_operator("eng", [Role.ENGINEER], now=datetime.now(UTC)).write(tmp_path / "eng")
    before = snapshot(cli, tmp_path)
    refused = cli("--identity", str(tmp_path / "eng.pem"), "pki", "issue", "e2e", "x", "--out", "x")
    assert refused.code == 8 and "lacks the right" in refused.err
    assert not (tmp_path / "x.pem").exists()
    records = cli.audit_records()
    assert records[-1]["event_id"] == "RBAC:Denied.1"
    assert len(records) == before[1] + 1
