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


def issue_code(cli: Cli, device_cert: Path, action: str, value: int) -> str:
    """A one-time code from ``derlink field otc issue`` for that device, action and value."""
    issued = cli.ok(
        "field", "otc", "issue", "--device-cert", str(device_cert), "--action", action,
        "--value", str(value),
    )  # fmt: skip
    return issued.out.strip()


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
    code = issue_code(cli, root / "dev1.pem", "export-limit-100w", 45)
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
    second = issue_code(cli, root / "dev1.pem", "connect", 0)
    cli.ok("field", "otc", "enter", second, *issuer, *device_args(root, home, "dev1", "s1"))
    audit = [r for r in cli.audit_records() if r["action"] == "control.otc"]
    assert [r["details"]["counter"] for r in audit] == [1, 2]  # type: ignore[index]
