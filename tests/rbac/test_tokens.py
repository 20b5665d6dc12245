"""Signed access tokens: issued by the CLI, accepted when valid, refused (and audited) when
expired, badly signed, naming an unknown role, or signed by a revoked token signer."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.home import Home
from derlink.pki import Pki, generate_key
from derlink.rbac import TokenError, issue_token, verify_token
from derlink.rbac.credentials import ensure_token_signer, signer_key, subject_from_token
from derlink.rbac.subject import Source
from support.cli import Cli

KEY = generate_key()
PUBLIC = KEY.public_key()


@pytest.fixture
def cli(home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("DERLINK_PKI_PASSPHRASE", raising=False)
    monkeypatch.delenv("DERLINK_TOKEN", raising=False)
    runner = Cli(home, capsys)
    runner.ok("init")
    return runner


def signed(roles: list[int] | None = None, *, now: int = 1_800_000_000, life: int = 600) -> str:
    return issue_token(
        KEY, "AB", sub="alice", roles=roles or [1], aor="derlink", now=now, lifetime=life, iss="t"
    )


def test_token_round_trip_and_time_window() -> None:
    token = signed([1, 0])
    claims = verify_token(token, PUBLIC, "AB", now=1_800_000_100)
    assert (claims.sub, claims.roles, claims.aor, claims.exp) == (
        "alice",
        frozenset({0, 1}),
        "derlink",
        1_800_000_600,
    )
    with pytest.raises(TokenError, match="expired"):
        verify_token(token, PUBLIC, "AB", now=1_800_000_600)
    with pytest.raises(TokenError, match="not valid yet"):
        verify_token(token, PUBLIC, "AB", now=1_800_000_000 - 3600)
    with pytest.raises(TokenError, match="not the token signer"):
        verify_token(token, PUBLIC, "CD", now=1_800_000_100)
    with pytest.raises(TokenError, match="does not verify"):
        verify_token(token, generate_key().public_key(), "AB", now=1_800_000_100)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_tampered_claims_and_algorithm_are_refused() -> None:
    header, claims, sig = signed().split(".")
    body = json.loads(base64.urlsafe_b64decode(claims + "=="))
    body["roles"] = [4]
    forged = f"{header}.{_b64(json.dumps(body).encode())}.{sig}"
    with pytest.raises(TokenError, match="does not verify"):
        verify_token(forged, PUBLIC, "AB", now=1_800_000_100)
    none_header = _b64(json.dumps({"alg": "none", "kid": "AB"}).encode())
    none_alg = f"{none_header}.{claims}.{sig}"
    with pytest.raises(TokenError, match="not ES256"):
        verify_token(none_alg, PUBLIC, "AB", now=1_800_000_100)
    with pytest.raises(TokenError, match="unknown role"):
        verify_token(signed([-5]), PUBLIC, "AB", now=1_800_000_100)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_token_error_never_a_crash(text: str) -> None:
    with pytest.raises(TokenError):
        verify_token(text, PUBLIC, "AB", now=1_800_000_100)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0), st.sampled_from("ABCDEFabcdef0123456789-_.="))
def test_any_one_character_change_is_refused(position: int, char: str) -> None:
    token = signed()
    index = position % len(token)
    if token[index] == char:
        return
    changed = token[:index] + char + token[index + 1 :]
    try:
        claims = verify_token(changed, PUBLIC, "AB", now=1_800_000_100)
    except TokenError:
        return
    # base64url padding bits: a change that decodes to the same bytes is the same token
    assert claims == verify_token(token, PUBLIC, "AB", now=1_800_000_100)


def test_cli_tokens_valid_expired_forged_and_revoked_signer(cli: Cli, tmp_path: Path) -> None:
    operator = cli.ok("rbac", "token", "issue", "alice", "--role", "operator").out.strip()
    viewer = cli.ok("rbac", "token", "issue", "vic", "--role", "viewer", "--lifetime", "5m")
    who = json.loads(cli.ok("--token", operator, "rbac", "whoami", "--json").out)
    assert who["identity"] == "token:alice" and who["source"] == "token"
    assert "control" in who["permissions"] and "manage-fleet" not in who["permissions"]
    cli.ok("group", "add", "g1")
    made = cli("--token", operator, "control", "create", "--group", "g1", "--export-limit", "5kW",
               "--duration", "1h")  # fmt: skip
    assert made.code == 0, made.err
    denied = cli("--token", viewer.out.strip(), "group", "add", "g2")
    assert denied.code == 8 and "token:vic (VIEWER) may not manage-fleet" in denied.err
    records = cli.audit_records()
    assert records[-1]["event_id"] == "RBAC:Denied.1" and records[-1]["actor"] == "token:vic"
    assert any(r["actor"] == "token:alice" and r["action"] == "control.create" for r in records)

    pki = Pki.open(cli.home.pki_dir, passphrase=None)
    now = datetime.now(UTC)
    cert, key_path = ensure_token_signer(pki, now=now)
    kid = f"{cert.serial_number:X}"
    old = issue_token(
        signer_key(key_path),
        kid,
        sub="alice",
        roles=[1],
        aor="derlink",
        now=int((now - timedelta(hours=3)).timestamp()),
        lifetime=3600,
        iss="derlink",
    )
    expired = cli("--token", old, "group", "list")
    assert expired.code == 8 and "expired" in expired.err
    assert cli.audit_records()[-1]["event_id"] == "RBAC:AuthFailed.1"
    forged = operator[:-4] + ("AAAA" if not operator.endswith("AAAA") else "BBBB")
    assert cli("--token", forged, "group", "list").code == 8

    cli.ok("pki", "revoke", kid, "--reason", "keyCompromise")
    revoked = cli("--token", operator, "group", "list")
    assert revoked.code == 8 and "token signer is not trusted" in revoked.err
    assert "revoked" in revoked.err


def test_subject_from_token_needs_a_signer(cli: Cli) -> None:
    pki = Pki.open(cli.home.pki_dir, passphrase=None)
    with pytest.raises(TokenError, match="no token signer"):
        subject_from_token(signed(), pki, now=datetime.now(UTC))
    cert, key_path = ensure_token_signer(pki, now=datetime.now(UTC))
    now = datetime.now(UTC)
    token = issue_token(
        signer_key(key_path),
        f"{cert.serial_number:X}",
        sub="web-ui:bob",
        roles=[5],
        aor="derlink",
        now=int(now.timestamp()),
        lifetime=60,
        iss="derlink",
    )
    got = subject_from_token(token, pki, now=now)
    assert got.identity == "token:web-ui:bob" and got.roles == {5}
    assert got.source is Source.TOKEN
    with pytest.raises(TokenError, match="not signed by this deployment"):
        subject_from_token(signed(), pki, now=now)
