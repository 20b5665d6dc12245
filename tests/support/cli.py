"""Running the ``derlink`` command as a user would: in this process, capturing its output, or
as a process of its own."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from derlink.cli.main import main
from derlink.home import Home


def derlink_command() -> list[str]:
    """The argv that starts the ``derlink`` command as a process of its own."""
    script = Path(sys.executable).with_name("derlink")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from derlink.cli.main import main; main()"]


@dataclass
class Run:
    code: int
    out: str
    err: str


class Cli:
    """Runs ``derlink --home HOME ...`` in this process and captures what it prints."""

    def __init__(self, home: Home, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self.capsys = capsys

    def __call__(self, *args: str) -> Run:
        self.capsys.readouterr()
        try:
            main(["--home", str(self.home.root), *args])
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def ok(self, *args: str) -> Run:
        result = self(*args)
        assert result.code == 0, result.err
        return result

    def json(self, *args: str) -> object:
        return json.loads(self.ok(*args, "--json").out)

    def audit_records(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.ok("audit", "export").out.splitlines()]


def initialised_cli(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cwd: Path
) -> Cli:
    """A :class:`Cli` on ``home`` after ``derlink init``, run from ``cwd`` (relative ``--out``
    paths land there) with no PKI passphrase in the environment (the PKI is unencrypted)."""
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("DERLINK_PKI_PASSPHRASE", raising=False)
    runner = Cli(home, capsys)
    runner.ok("init")
    return runner
