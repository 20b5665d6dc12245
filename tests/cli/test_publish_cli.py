"""The operator's publication commands: curves, tariffs, demand response, messages, files and
resources; good input audited, bad input one line and nothing changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from derlink.cli.main import main
from derlink.home import Home
from support.cli import Cli

FIRMWARE = b"firmware image " * 1000
SETUP = [
    ("group", "add", "g1"),
    ("site", "add", "s1", "--group", "g1"),
    ("program", "add", "p1", "--primacy", "1", "--group", "g1"),
    ("curve", "add", "p1", "vv1", "--kind", "volt-var", "--point", "0.92,30", "--point",
     "1.08,-30"),
    ("control", "create", "--program", "p1", "--volt-var", "vv1", "--duration", "1h"),
    ("tariff", "add", "t1", "--group", "g1", "--primacy", "1", "--currency", "AUD"),
    ("tariff", "component", "t1", "imp"),
    ("dr", "add", "d1", "--group", "g1", "--primacy", "2"),
    ("message", "add", "m1", "--group", "g1", "--primacy", "3", "--locale", "en-AU"),
]  # fmt: skip


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with a group, a program with a curve, a tariff and two programs."""
    root = tmp_path_factory.mktemp("publish") / "home"
    for args in [("init",), *SETUP]:
        try:
            main(["--home", str(root), *args])
        except SystemExit as done:
            assert done.code in (0, None), args
    return root


@pytest.fixture
def cli(
    prepared: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    home = tmp_path / "home"
    shutil.copytree(prepared, home)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fw.bin").write_bytes(FIRMWARE)
    return Cli(Home(home), capsys)


def test_operator_publishes_to_a_group(cli: Cli) -> None:
    curves = cli.json("curve", "list", "p1")
    assert curves == [{"id": "vv1", "kind": 11, "points": [[0.92, 30.0], [1.08, -30.0]],
                       "x_unit": "%VRef", "y_unit": "%setMaxVar"}]  # fmt: skip
    cli.ok("curve", "add", "p1", "trip", "--kind", "hvrt-must-trip", "--point", "0.16,120")
    cli.ok("curve", "remove", "p1", "trip")
    interval = cli.json("tariff", "price", "t1", "imp", "--price", "0.25", "--price",
                        "1000:0.3125", "--tier", "2", "--duration", "2h")  # fmt: skip
    assert isinstance(interval, dict)
    assert interval["blocks"] == [{"start": 0, "price": 2500}, {"start": 1000, "price": 3125}]
    shown = cli.json("tariff", "show", "t1")
    assert isinstance(shown, dict) and shown["item"]["currency"] == 36
    assert [e["mrid"] for e in shown["events"]] == [interval["mrid"]]
    cli.ok("tariff", "cancel", str(interval["mrid"]), "--randomized")
    load = cli.json("dr", "control", "d1", "--category", "water-heater", "--category", "0x10",
                    "--duty-cycle", "40", "--heating-setpoint", "18.5", "--start", "+10m",
                    "--duration", "1h", "--randomize-start", "300")  # fmt: skip
    assert isinstance(load, dict) and load["device_category"] == 0x18
    assert load["modes"]["duty_cycle_pct"] == 40 and load["randomize_start"] == 300
    text = cli.json("message", "send", "m1", "Planned outage 2pm", "--priority", "high",
                    "--duration", "4h")  # fmt: skip
    assert isinstance(text, dict) and text["priority"] == 2
    cli.ok("message", "cancel", str(text["mrid"]))
    made = cli.json("file", "add", "fw.bin", "--model", "INV-1", "--version", "2.0",
                    "--hw-ver", "B", "--activate-time", "+1h", "--group", "g1")  # fmt: skip
    assert isinstance(made, dict) and made["id"] == "INV-1-2.0"
    assert made["size"] == len(FIRMWARE) and made["hardware_version"] == "B"
    assert [f["id"] for f in cli.json("file", "list")] == ["INV-1-2.0"]  # type: ignore[union-attr]
    cli.ok("resource", "disable", "FileList")
    assert cli.json("resource", "list")["FileList"] is False  # type: ignore[index]
    cli.ok("resource", "enable", "FileList")
    for kind, item in (("file", "INV-1-2.0"), ("dr", "d1"), ("message", "m1"), ("tariff", "t1")):
        cli.ok(kind, "remove", item)
        assert cli.json(kind, "list") == []
    actions = [r["action"] for r in cli.audit_records()]
    for action in (
        "curve.add", "curve.remove", "tariff.event", "tariff.cancel", "dr.event", "message.event",
        "message.cancel", "file.add", "setting.set", "file.remove", "tariff.remove",
    ):  # fmt: skip
        assert action in actions


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("curve", "add", "p1", "c", "--kind", "volt-var", "--point", "9,0", "--point", "1,0"),
         "increasing x"),
        (("curve", "add", "nope", "c", "--kind", "volt-var", "--point", "9,0"), "no program"),
        (("curve", "add", "p1", "c", "--kind", "volt-var", "--point", "9;0"), "not a point"),
        (("curve", "remove", "p1", "vv1"), "in use by control"),
        (("control", "create", "--program", "p1", "--volt-var", "vv9", "--duration", "1h"),
         "no curve vv9"),
        (("program", "default", "p1", "--watt-var", "vv9"), "no curve vv9"),
        (("tariff", "add", "t2", "--group", "nope", "--primacy", "1"), "no group"),
        (("tariff", "component", "t1", "imp"), "share an id"),
        (("tariff", "price", "t1", "imp", "--price", "0.00001", "--duration", "1h"),
         "whole number"),
        (("tariff", "price", "t1", "exp", "--price", "0.1", "--duration", "1h"),
         "no rate component"),
        (("tariff", "price", "t1", "imp", "--price", "5:0.1", "--duration", "1h"), "start at 0"),
        (("tariff", "price", "t1", "imp", "--price", "0.1", "--duration", "1h", "--start",
          "2000-01-01T00:00Z"), "end before it starts"),
        (("dr", "control", "d1", "--category", "ev", "--duration", "1h"), "load-control mode"),
        (("dr", "cancel", "00" * 16), "no demand response program event"),
        (("message", "add", "m2", "--primacy", "1", "--locale", "not a tag"), "language tag"),
        (("message", "send", "m1", " ", "--duration", "1h"), "bytes of text"),
        (("message", "send", "nope", "hi", "--duration", "1h"), "no messaging program"),
        (("file", "add", "fw.bin", "--model", "M", "--version", "V" * 17), "1 to 16"),
        (("file", "add", "fw.bin", "--model", "M", "--version", "1", "--group", "nope"),
         "no group"),
        (("file", "remove", "nope"), "no file"),
        (("resource", "disable", "Nope"), "no resource"),
        (("resource", "disable", "DeviceCapability"), "cannot be disabled"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_and_change_nothing(
    cli: Cli, args: tuple[str, ...], needle: str
) -> None:
    before = cli.audit_records()
    result = cli(*args)
    assert result.code != 0
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert needle in result.err, result.err
    assert cli.audit_records() == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("tariff", "add", "t2", "--primacy", "1", "--currency", "XYZ"), "not a currency"),
        (("dr", "control", "d1", "--category", "toaster", "--duration", "1h"), "bitmap"),
        (("file", "add", "missing.bin", "--model", "M", "--version", "1"), "missing.bin"),
    ],
)
def test_malformed_options_are_refused_by_the_parser(
    cli: Cli, args: tuple[str, ...], needle: str
) -> None:
    before = cli.audit_records()
    result = cli(*args)
    assert result.code != 0 and needle in result.err and "Traceback" not in result.err
    assert cli.audit_records() == before
    assert json.loads(cli.ok("tariff", "list", "--json").out)[0]["id"] == "t1"
