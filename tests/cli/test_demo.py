"""``derlink demo`` end to end on a small fleet: the head-end, simulated DERs, a dispatch."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.xmpp import traversable_tree


@pytest.fixture
def base() -> Iterator[Path]:
    """A directory the XMPP server's own user can traverse (it drops privileges as root)."""
    with traversable_tree("derlink-demo-") as path:
        yield path


def test_demo_dispatches_and_exits_cleanly(base: Path) -> None:
    home = base / "demo"
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
            "--ieds",
            "4",
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
    # the IEC 61850 IEDs over XMPP took part: feeder-1's two confirmed and hold the limit
    assert "61850 IEDs enrolled (XMPP, ejabberd)" in out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 2}
    assert "2 / 2" in lines["feeder-1 61850 IEDs acknowledged (started)"]
    assert "2 / 2" in lines["feeder-1 61850 IEDs holding the limit"]
    assert "2 / 2" in lines["feeder-1 61850 IEDs in end-to-end sessions"]
    assert "feeder-1 61850 export" in lines
    leftover = subprocess.run(
        ["pgrep", "-f", f"--home {home} serve"], capture_output=True, check=False
    )
    assert leftover.returncode != 0, "the demo left its server running"
    xmpp = subprocess.run(["pgrep", "-f", str(home / "run")], capture_output=True, check=False)
    assert xmpp.returncode != 0, "the demo left its XMPP server running"
