"""Starting, stopping and reloading the servers; who owns their files."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import stat
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from derlink.home import Home
from derlink.iec61850.xmpp import server as server_module
from derlink.iec61850.xmpp.server import XmppServer, XmppServerError, XmppSettings
from derlink.pki import Pki, load_certificate
from support.xmpp import LoginRefused, XmppService, free_port, login

pytestmark = pytest.mark.xmpp


@pytest.fixture
def fresh_home() -> Iterator[Home]:
    """A data directory with a PKI that the server account can reach (see support.xmpp)."""
    base = Path(tempfile.mkdtemp(prefix="derlink-xmpp-test-"))
    base.chmod(0o711)
    home = Home(base / "home")
    home.create()
    Pki.create(home.pki_dir, passphrase=None, now=datetime.now(UTC))
    yield home
    shutil.rmtree(base, ignore_errors=True)


def test_the_generated_files_belong_to_the_server_account(xmpp_server: XmppService) -> None:
    files = xmpp_server.server.files
    expected = xmpp_server.server.backend.SERVICE_USER if os.geteuid() == 0 else None
    owner = pwd.getpwuid(files.key_file.stat().st_uid).pw_name
    assert owner == (expected or pwd.getpwuid(os.geteuid()).pw_name)
    assert stat.S_IMODE(files.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.directory.stat().st_mode) == 0o700
    pid = xmpp_server.server.pid()
    assert pid is not None
    assert pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name == owner
    assert "/etc/" not in files.config_file.read_text()


def test_a_second_start_is_refused(xmpp_server: XmppService) -> None:
    again = XmppServer(xmpp_server.home, xmpp_server.server.settings)
    assert again.running()
    with pytest.raises(XmppServerError, match="already running"):
        again.start()


def test_refresh_pushes_a_revocation_made_in_the_pki(xmpp_server: XmppService) -> None:
    _, cert, _ = xmpp_server.client(f"ied-{uuid.uuid4().hex[:8]}")
    xmpp_server.pki.revoke(load_certificate(cert).serial_number, now=datetime.now(UTC))
    assert xmpp_server.server.refresh() is True
    assert xmpp_server.server.refresh() is False


async def test_refresh_makes_the_revocation_refuse_the_login(xmpp_server: XmppService) -> None:
    jid, cert, key = xmpp_server.client(f"ied-{uuid.uuid4().hex[:8]}")
    xmpp_server.pki.revoke(load_certificate(cert).serial_number, now=datetime.now(UTC))
    xmpp_server.server.refresh()
    with pytest.raises(LoginRefused):
        await login(xmpp_server, jid, cert, key, timeout=5)


def test_a_busy_port_is_a_clear_error(fresh_home: Home) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = XmppServer(fresh_home, XmppSettings("prosody", port=port))
        with pytest.raises(XmppServerError, match=r"cannot listen on 127\.0\.0\.1"):
            server.start()
    assert not server.running()


def test_a_home_without_pki_is_a_clear_error(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.create()
    server = XmppServer(home, XmppSettings("prosody", port=free_port()))
    with pytest.raises(XmppServerError, match="no usable PKI"):
        server.start()


def test_a_server_that_never_serves_times_out_with_its_log(
    fresh_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "_check_port_free", lambda host, port: None)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = XmppServer(fresh_home, XmppSettings("prosody", port=port))
        with pytest.raises(XmppServerError, match="log tail") as failed:
            server.start(timeout=2)
    assert "Prosody" in str(failed.value)
    assert not server.running()


def test_start_stop_start_again(fresh_home: Home) -> None:
    server = XmppServer(fresh_home, XmppSettings("prosody", port=free_port()))
    server.start()
    assert server.running()
    first_cert = server.files.cert_file.read_bytes()
    assert server.stop() is True
    assert not server.running() and not server.files.pid_file.exists()
    assert server.stop() is False
    server.start()
    try:
        assert server.files.cert_file.read_bytes() == first_cert  # reused, not re-issued
    finally:
        server.stop()
