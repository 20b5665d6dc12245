"""``derlink ied sim`` and ``derlink ied dispatch`` as processes: end to end by default.

A data directory, its XMPP server (Prosody, in the background), two simulated IEDs and the
dispatcher; an export limit created with ``derlink control create`` reaches both IEDs through
end-to-end sessions whose certificates the commands issued from the data directory's PKI.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import require_service
from support.xmpp import traversable_tree

pytestmark = pytest.mark.xmpp


def derlink(home: Path, *args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "derlink.cli.main", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def spawn(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "derlink.cli.main", "--home", str(home), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def base() -> Iterator[Path]:
    """A directory the XMPP server's own user can traverse (it drops privileges as root)."""
    with traversable_tree("derlink-ied-e2e-") as path:
        yield path


def test_sim_and_dispatch_protect_end_to_end_by_default(base: Path) -> None:
    require_service(shutil.which("prosody") is not None, "prosody missing")
    home, port = base / "home", free_port()
    derlink(home, "init")
    derlink(home, "xmpp", "serve", "--server", "prosody", "--port", str(port), "--background")
    server = f"127.0.0.1:{port}"
    processes: list[subprocess.Popen[str]] = []
    try:
        derlink(home, "ied", "sim", "--ieds", "2", "--groups", "1", "--enrol-only")
        derlink(home, "program", "add", "p1", "--primacy", "1", "--group", "feeder-1")
        sim = spawn(home, "ied", "sim", "--ieds", "2", "--groups", "1", "--server", server,
                    "--every", "0.5s", "--duration", "60s")  # fmt: skip
        processes.append(sim)
        dispatch = spawn(home, "ied", "dispatch", "--server", server, "--interval", "0.25s")
        processes.append(dispatch)
        assert sim.stdout is not None
        line = sim.stdout.readline()
        while "online" not in line:
            assert line, "ied sim exited early"
            line = sim.stdout.readline()
        assert "2/2 IEDs online" in line and "(end-to-end protected)" in line
        out = derlink(home, "control", "create", "--program", "p1", "--export-limit", "3kW",
                      "--duration", "1h")  # fmt: skip
        mrid = out.split()[1]
        deadline = time.monotonic() + 40
        responses: dict[str, int] = {}
        while time.monotonic() < deadline:
            shown = json.loads(derlink(home, "control", "show", mrid, "--json"))
            responses = shown["responses"]
            if responses.get("event_started", 0) >= 2:
                break
            time.sleep(0.5)
        assert responses.get("event_started", 0) == 2, responses
        for process in processes:
            process.send_signal(signal.SIGINT)
        outputs = [p.communicate(timeout=30)[0] for p in processes]
        assert all(p.returncode == 0 for p in processes), outputs
        assert "(end-to-end protected)" in outputs[1] and "Traceback" not in "".join(outputs)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        derlink(home, "xmpp", "stop")
    assert (home / "run" / "iec61850-centre-e2e.pem").exists()
    assert len(list(home.rglob("IED-*-e2e.pem"))) == 2
    records = [json.loads(r) for r in derlink(home, "audit", "export").splitlines()]
    sessions = [r for r in records if r["event_id"] == "E2E:Session.1"]
    assert len({r["actor"] for r in sessions}) == 2  # the centre's session with each IED
