"""``derlink demo`` end to end on a small fleet: the head-end, simulated DERs, a dispatch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_dispatches_and_exits_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "derlink.cli.main",
            "--home",
            str(home),
            "demo",
            "--devices",
            "6",
            "--groups",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "devices enrolled" in out and "feeder-1 export" in out
    assert "3 / 3" in out  # the three feeder-1 devices received and started the control
    assert "intact" in out
    leftover = subprocess.run(
        ["pgrep", "-f", f"--home {home} serve"], capture_output=True, check=False
    )
    assert leftover.returncode != 0, "the demo left its server running"
