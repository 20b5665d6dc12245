"""The field tools through the ``derlink`` command: ``control create --sign``, a pre-signed
command exported for one device and applied there once, one-time codes issued and entered."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from derlink.home import Home
from derlink.pki import Pki, lfdi_of_certificate, load_certificate
from support.cli import Cli


@pytest.fixture
def setup(home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Cli, Path]:
    cli = Cli(home, capsys)
    cli.ok("init")
    cli.ok("group", "add", "feeder-1")
    cli.ok("site", "add", "site-a", "--group", "feeder-1")
    pki = Pki.open(home.pki_dir, passphrase=None)
    for name in ("dev1", "dev2"):
        pki.issue_device(f"SN-{name}", now=datetime.now(UTC)).write(tmp_path / name)
    return cli, tmp_path


def device_args(root: Path, home: Home, name: str, state: str) -> list[str]:
    return [
        "--device-cert",
        str(root / f"{name}.pem"),
        "--device-key",
        str(root / f"{name}.key"),
        "--ca",
        str(home.pki_dir / "root-ca.pem"),
        "--crl",
        str(home.pki_dir / "operator-ca.crl.pem"),
        "--state",
        str(root / state),
    ]


def test_export_and_apply_once(setup: tuple[Cli, Path], home: Home) -> None:
    cli, root = setup
    made = cli.json(
        "control",
        "create",
        "--group",
        "feeder-1",
        "--export-limit",
        "3kW",
        "--duration",
        "1h",
        "--sign",
    )
    assert isinstance(made, dict)
    mrid = made["mrid"]
    lfdi = lfdi_of_certificate(load_certificate(root / "dev1.pem"))
    out = root / "command.pem"
    cli.ok("field", "export", "--control", mrid, "--device", lfdi, "--out", str(out))
    assert out.read_text().startswith("-----BEGIN DERLINK SIGNED COMMAND-----")
    applied = cli("field", "apply", str(out), *device_args(root, home, "dev1", "state1"), "--json")
    assert applied.code == 0, applied.err
    record = json.loads(applied.out)
    assert record["mrid"] == mrid and record["control"]["base"]["export_limit_w"] == 3000
    again = cli("field", "apply", str(out), *device_args(root, home, "dev1", "state1"))
    assert again.code == 8 and "already used" in again.err
    other = cli("field", "apply", str(out), *device_args(root, home, "dev2", "state2"))
    assert other.code == 8 and "is for device" in other.err
    events = [json.loads(x) for x in (root / "state1" / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["command.applied", "command.refused"]
    assert events[1]["code"] == "command.replay"
    assert len(list((root / "state1" / "applied").iterdir())) == 1
    audit = cli.audit_records()
    created = next(r for r in audit if r["action"] == "control.create")
    assert created["details"]["counter"] == 1  # type: ignore[index]
    exported = next(r for r in audit if r["action"] == "control.export")
    assert exported["details"]["counter"] == 2 and exported["details"]["device"] == lfdi  # type: ignore[index]


def test_one_time_codes(setup: tuple[Cli, Path], home: Home) -> None:
    cli, root = setup
    issued = cli.ok(
        "field",
        "otc",
        "issue",
        "--device-cert",
        str(root / "dev1.pem"),
        "--action",
        "export-limit-100w",
        "--value",
        "45",
    )
    code = issued.out.strip()
    assert len(code.replace(" ", "")) == 20
    issuer = ["--issuer-cert", str(home.pki_dir / "admin.pem")]
    wrong = cli("field", "otc", "enter", code, *issuer, *device_args(root, home, "dev2", "s2"))
    assert wrong.code == 8 and "does not verify" in wrong.err
    ok = cli.ok("field", "otc", "enter", code, *issuer, *device_args(root, home, "dev1", "s1"))
    assert "export_limit_100w 45" in ok.out
    reuse = cli("field", "otc", "enter", code, *issuer, *device_args(root, home, "dev1", "s1"))
    assert reuse.code == 8 and "already used" in reuse.err
    digits = code.replace(" ", "")
    typo = digits[:5] + str((int(digits[5]) + 3) % 10) + digits[6:]
    mistyped = cli("field", "otc", "enter", typo, *issuer, *device_args(root, home, "dev1", "s1"))
    assert mistyped.code == 8 and "check digit" in mistyped.err
    second = cli.ok(
        "field",
        "otc",
        "issue",
        "--device-cert",
        str(root / "dev1.pem"),
        "--action",
        "connect",
        "--value",
        "0",
    ).out.strip()
    cli.ok("field", "otc", "enter", second, *issuer, *device_args(root, home, "dev1", "s1"))
    audit = [r for r in cli.audit_records() if r["action"] == "control.otc"]
    assert [r["details"]["counter"] for r in audit] == [1, 2]  # type: ignore[index]
