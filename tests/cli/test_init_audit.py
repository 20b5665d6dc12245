"""``derlink init`` and ``derlink audit`` end to end, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest

from derlink.home import Home
from derlink.store import Database
from support.cli import Cli, initialised_cli
from support.tamper import TAMPERS


@pytest.fixture
def cli(
    home: Home,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
) -> Cli:
    """An initialised data directory whose database is SQLite or PostgreSQL."""
    if db_url.startswith("postgresql"):
        monkeypatch.setenv("DERLINK_DATABASE_URL", db_url)
    return initialised_cli(home, capsys, monkeypatch, tmp_path)


def _url(cli: Cli) -> str:
    from derlink.config import load_config

    return load_config(cli.home).database_url(cli.home)


def _issue_some(cli: Cli, count: int = 10) -> None:
    for n in range(count):
        cli.ok("pki", "issue", "device", "--serial", f"INV-{n:03d}", "--out", f"dev{n}")


def test_init_makes_a_private_data_directory(cli: Cli) -> None:
    home = cli.home
    assert stat.S_IMODE(home.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(home.config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.audit_key_file.stat().st_mode) == 0o600
    if home.database_file.exists():
        assert stat.S_IMODE(home.database_file.stat().st_mode) == 0o600
    again = cli("init")
    assert again.code != 0 and "already" in again.err


def test_verify_intact_log_and_proofs(cli: Cli, tmp_path: Path) -> None:
    _issue_some(cli, 3)
    result = cli.ok("audit", "verify", "--json")
    report = json.loads(result.out)
    assert report["ok"] and report["size"] == 7 and report["first_bad_seq"] is None
    proof = json.loads(cli.ok("audit", "prove", "2").out)
    assert proof["seq"] == 2 and proof["tree_head"]["tree_size"] == 7
    consistency = json.loads(cli.ok("audit", "consistency", "3").out)
    assert consistency["new_size"] == 7 and consistency["proof"]
    lines = cli.ok("audit", "export").out.splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(7))


@pytest.mark.parametrize("how", sorted(TAMPERS))
def test_verify_names_the_first_bad_sequence(cli: Cli, how: str) -> None:
    _issue_some(cli, 8)
    size = len(cli.audit_records())

    async def tamper() -> int:
        async with Database(_url(cli)) as db:
            return await TAMPERS[how](db, size)

    expected = asyncio.run(tamper())
    result = cli("audit", "verify")
    assert result.code == 1, result.out
    assert f"sequence {expected}:" in result.err
    assert "Traceback" not in result.err


def test_truncation_is_caught_by_a_witnessed_head(cli: Cli, tmp_path: Path) -> None:
    _issue_some(cli, 4)
    witness = tmp_path / "head.json"
    cli.ok("audit", "head", "--out", str(witness))

    async def truncate() -> None:
        """Cut the log and rewrite the append state to match, as a careful attacker would."""
        from sqlalchemy import text

        from derlink.audit.merkle import CompactRange

        async with Database(_url(cli)) as db, db.transaction() as s:
            await s.execute(text("DELETE FROM audit_record WHERE seq >= 6"))
            leaves = (
                await s.execute(text("SELECT leaf_hash FROM audit_record ORDER BY seq"))
            ).all()
            frontier = CompactRange.from_leaves(bytes(r[0]) for r in leaves)
            await s.execute(
                text("UPDATE audit_state SET size = :n, frontier = :f"),
                {"n": frontier.size, "f": frontier.to_bytes()},
            )

    asyncio.run(truncate())
    assert cli("audit", "verify").code == 0  # nothing inside the database betrays it
    result = cli("audit", "verify", "--witness", str(witness))
    assert result.code == 1 and "sequence 6" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ("audit", "verify", "--witness", "no-such-file.json"),
        ("audit", "prove", "999"),
        ("pki", "show", "no-such-cert.pem"),
        ("control", "cancel", "00112233445566778899AABBCCDDEEFF"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(cli: Cli, args: tuple[str, ...]) -> None:
    before = cli.audit_records()
    result = cli(*args)
    assert result.code != 0
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert cli.audit_records() == before


def test_bad_config_refuses_before_writing(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DERLINK_SERVER_PORT", "not-a-port")
    result = Cli(home, capsys)("init")
    assert result.code == 2 and "DERLINK_SERVER_PORT" in result.err
    assert not home.root.exists()


def test_commands_need_an_initialised_directory(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    result = Cli(home, capsys)("audit", "verify")
    assert result.code == 3 and "derlink init" in result.err
