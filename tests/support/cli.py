"""Running the ``derlink`` command in this process, as a user would, capturing its output."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from derlink.cli.main import main
from derlink.home import Home


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
