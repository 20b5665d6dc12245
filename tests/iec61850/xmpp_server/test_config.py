"""The generated server configurations and settings, checked without running a server."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from derlink.config import load_config
from derlink.home import Home
from derlink.iec61850.xmpp import ejabberd, prosody
from derlink.iec61850.xmpp.server import ServerFiles, XmppServerError, XmppSettings

SETTINGS = XmppSettings("prosody", "derlink.local", "127.0.0.1", 5333, ("centre@derlink.local",))


def _files(tmp_path: Path, kind: str) -> ServerFiles:
    return ServerFiles.of(Home(tmp_path / "home"), kind)  # type: ignore[arg-type]


def _lua_unescape(literal: str) -> str:
    assert literal.startswith('"') and literal.endswith('"')
    body = literal[1:-1]
    raw = bytearray()
    pos = 0
    while pos < len(body):
        if body[pos] == "\\":
            match = re.match(r"\\(\d{3})", body[pos:])
            assert match, body
            raw.append(int(match.group(1)))
            pos += len(match.group(0))
        else:
            assert body[pos] not in "\"\n\r'[]", body
            raw.extend(body[pos].encode())
            pos += 1
    return raw.decode("utf-8")


@given(st.text(max_size=80))
def test_lua_strings_escape_everything_that_could_end_them(value: str) -> None:
    assert _lua_unescape(prosody.lua_string(value)) == value


def test_lua_strings_round_trip_through_lua() -> None:
    lua = shutil.which("lua5.4")
    if lua is None:
        pytest.skip("lua5.4 is not installed")
    samples = [
        'a"b',
        "back\\slash",
        "new\nline",
        "]]--",
        "ünï",
        "\x00nul",
        "'; os.exit() --",
        "*0",
        '"1\t9',
    ]
    script = "".join(f"io.write({prosody.lua_string(s)}, '\\30')\n" for s in samples)
    done = subprocess.run([lua, "-"], input=script.encode(), capture_output=True, check=True)
    assert done.stdout.split(b"\x1e")[:-1] == [s.encode() for s in samples]


def test_prosody_config_enforces_certificate_login_and_tls(tmp_path: Path) -> None:
    text = prosody.render_config(SETTINGS, _files(tmp_path, "prosody"))
    assert 'authentication = "ccert"' in text
    assert 'verify = { "peer", "client_once" }' in text
    assert '"crl_check"' in text and "lsec_ignore_purpose = false" in text
    assert 'protocol = "tlsv1_2+"' in text
    assert "c2s_require_encryption = true" in text
    assert "allow_registration = false" in text
    assert re.search(r'modules_disabled = \{ "s2s";', text)
    assert "s2s_ports = { }" in text and "http_ports = { }" in text
    assert 'c2s_interfaces = { "127.0.0.1" }' in text and "c2s_ports = { 5333 }" in text
    assert 'admins = { "centre@derlink.local" }' in text
    assert 'Component "conference.derlink.local" "muc"' in text
    assert 'restrict_room_creation = "admin"' in text
    assert 'Component "pubsub.derlink.local" "pubsub"' in text
    assert '"smacks"' in text
    for suite in ("AES256-GCM", "AES128-GCM", "CHACHA20"):
        assert suite in text
    assert "-CBC" not in text and "SHA:" not in text


def test_ejabberd_config_enforces_certificate_login_and_tls(tmp_path: Path) -> None:
    settings = XmppSettings("ejabberd", "derlink.local", "127.0.0.1", 5333, SETTINGS.admins)
    files = _files(tmp_path, "ejabberd")
    text = ejabberd.render_config(settings, files)
    assert "tls_verify: true" in text and "starttls_required: true" in text
    assert '"no_tlsv1_1"' in text and '"no_sslv3"' in text
    for mechanism in ("PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "DIGEST-MD5", "X-OAUTH2"):
        assert f'- "{mechanism}"' in text
    assert "s2s_access: none" in text
    assert "mod_register" not in text and "ejabberd_http" not in text
    assert "mod_caps: {}" in text and "mod_stream_mgmt:" in text
    assert "access_create: muc_create" in text and "access_createnode: pubsub_createnode" in text
    assert re.search(r'admin:\n    user:\n      - "centre@derlink.local"', text)
    assert f'mod_derlink_crl:\n    crl_file: "{files.trust_file}"' in text
    assert 'host: "conference.derlink.local"' in text and 'host: "pubsub.derlink.local"' in text


def test_ejabberd_node_name_is_stable_and_per_directory(tmp_path: Path) -> None:
    one = ejabberd.node_name(_files(tmp_path / "a", "ejabberd"))
    assert one == ejabberd.node_name(_files(tmp_path / "a", "ejabberd"))
    assert one != ejabberd.node_name(_files(tmp_path / "b", "ejabberd"))
    assert one.startswith("derlink-xmpp-") and one.endswith("@localhost")


def test_the_cookie_is_private_and_never_on_the_command_line(tmp_path: Path) -> None:
    files = _files(tmp_path, "ejabberd")
    files.data_dir.mkdir(parents=True)
    ejabberd.write_cookie(files)
    cookie = files.cookie_file.read_text()
    assert files.cookie_file.stat().st_mode & 0o077 == 0
    settings = XmppSettings("ejabberd")
    assert not any(cookie in arg for arg in ejabberd.command(settings, files))
    ejabberd.write_cookie(files)
    assert files.cookie_file.read_text() == cookie  # kept: cluster peers share it


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("domain", "Derlink.Local"),
        ("domain", "bad domain"),
        ("domain", ""),
        ("port", 0),
        ("port", 70000),
        ("host", "127.0.0.1 ; rm"),
        ("admins", ("centre@elsewhere.local",)),
        ("admins", ("centre",)),
        ("admins", ("centre@derlink.local/res",)),
        ("kind", "openfire"),
    ],
)
def test_bad_settings_are_refused(field: str, value: object) -> None:
    values: dict[str, object] = {
        "kind": "prosody",
        "domain": "derlink.local",
        "host": "127.0.0.1",
        "port": 5222,
        "admins": (),
    }
    values[field] = value
    with pytest.raises(XmppServerError):
        XmppSettings(**values)  # type: ignore[arg-type]


def test_settings_come_from_the_config_with_overrides(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.create()
    home.config_file.write_text(
        '[xmpp]\nserver = "prosody"\ndomain = "grid.example"\nadmins = ["cc@grid.example"]\n'
    )
    config = load_config(home, environ={})
    settings = XmppSettings.from_config(config)
    assert (settings.kind, settings.domain, settings.port) == ("prosody", "grid.example", 5222)
    assert settings.admins == ("cc@grid.example",)
    assert settings.muc_service == "conference.grid.example"
    other = XmppSettings.from_config(config, "ejabberd", host="127.0.0.2", port=6000)
    assert (other.kind, other.host, other.port) == ("ejabberd", "127.0.0.2", 6000)
    with pytest.raises(XmppServerError, match="unknown XMPP server"):
        XmppSettings.from_config(config, "openfire")


def test_the_crl_module_compiles_once_and_is_on_the_code_path(tmp_path: Path) -> None:
    if shutil.which(ejabberd.ERLC) is None:
        pytest.skip("erlc is not installed")
    files = _files(tmp_path, "ejabberd")
    files.data_dir.mkdir(parents=True)
    ejabberd.prepare(files)
    beam = ejabberd.ebin_dir(files) / "mod_derlink_crl.beam"
    built = beam.stat().st_mtime_ns
    ejabberd.prepare(files)
    assert beam.stat().st_mtime_ns == built
    command = ejabberd.command(XmppSettings("ejabberd"), files)
    assert str(ejabberd.ebin_dir(files)) in command
