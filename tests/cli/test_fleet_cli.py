"""The operator's fleet commands: groups, sites, devices, programs, controls, rates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from derlink.home import Home
from support.cli import Cli, initialised_cli


@pytest.fixture
def cli(
    home: Home, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    return initialised_cli(home, capsys, monkeypatch, tmp_path)


def test_operator_sets_up_and_dispatches(cli: Cli) -> None:
    cli.ok("group", "add", "feeder-1", "--name", "Feeder 1")
    cli.ok(
        "site",
        "add",
        "site-a",
        "--group",
        "feeder-1",
        "--connection-point",
        "NMI0001",
        "--capacity",
        "10kW",
    )
    cli.ok("pki", "issue", "device", "--serial", "INV-1", "--out", "inv1")
    device = cli.json(
        "device", "enrol", "--cert", "inv1.pem", "--site", "site-a", "--pin", "111115"
    )
    assert isinstance(device, dict) and device["site"] == "site-a" and device["kind"] == "device"
    control = cli.json(
        "control",
        "create",
        "--group",
        "feeder-1",
        "--priority",
        "red",
        "--export-limit",
        "5kW",
        "--start",
        "+0",
        "--duration",
        "2h",
    )
    assert isinstance(control, dict)
    assert control["base"]["export_limit_w"] == 5000.0 and control["duration"] == 7200
    assert control["program"] == "feeder-1.red"
    listed = cli.json("control", "list")
    assert [c["mrid"] for c in listed] == [control["mrid"]]  # type: ignore[union-attr]
    shown = cli.json("control", "show", control["mrid"])
    assert shown["responses"] == {}  # type: ignore[index]
    cli.ok("control", "cancel", control["mrid"])
    programs = cli.json("program", "list")
    assert [p["id"] for p in programs] == ["feeder-1.red"]  # type: ignore[union-attr]
    cli.ok("rate", "--list", "DERProgramList", "--poll", "60s")
    cli.ok("device", "revoke", str(device["lfdi"]))
    devices = cli.json("device", "list")
    assert devices[0]["enabled"] is False  # type: ignore[index]
    actions = [r["action"] for r in cli.audit_records()]
    for action in (
        "group.add",
        "site.add",
        "device.enrol",
        "program.add",
        "control.create",
        "control.cancel",
        "setting.set",
        "device.revoke",
    ):
        assert action in actions


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ("control", "create", "--group", "nope", "--export-limit", "5kW", "--duration", "1h"),
            "no group",
        ),
        (
            (
                "control",
                "create",
                "--group",
                "g",
                "--export-limit",
                "5 parsecs",
                "--duration",
                "1h",
            ),
            "is not a power",
        ),
        (("control", "create", "--group", "g", "--duration", "1h"), "at least one"),
        (
            ("control", "create", "--group", "g", "--max-limit", "50%", "--duration", "soon"),
            "duration",
        ),
        (
            (
                "control",
                "create",
                "--group",
                "g",
                "--max-limit",
                "50",
                "--duration",
                "1h",
                "--start",
                "2026-01-01T00:00",
            ),
            "time zone",
        ),
        (("site", "add", "bad id"), "site id"),
        (("device", "enrol", "--lfdi", "xyz"), "LFDI"),
        (("device", "enrol", "--cert", "missing.pem"), "missing.pem"),
    ],
)
def test_mistakes_are_one_line_and_change_nothing(
    cli: Cli, args: tuple[str, ...], needle: str
) -> None:
    cli.ok("group", "add", "g")
    before = cli.audit_records()
    result = cli(*args)
    assert result.code != 0
    assert needle in result.err, result.err
    assert "Traceback" not in result.err
    assert cli.audit_records() == before
    assert json.loads(cli.ok("program", "list", "--json").out) == []
