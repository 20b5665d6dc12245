"""How many occupants a MUC room (one DER group) admits, in the generated configurations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from derlink.config import load_config
from derlink.home import Home
from derlink.iec61850.xmpp import ejabberd, prosody
from derlink.iec61850.xmpp.server import (
    DEFAULT_MAX_ROOM_OCCUPANTS,
    ServerFiles,
    XmppServerError,
    XmppSettings,
)


def _files(tmp_path: Path, kind: str) -> ServerFiles:
    return ServerFiles.of(Home(tmp_path / "home"), kind)  # type: ignore[arg-type]


def test_ejabberd_rooms_admit_ten_thousand_occupants_by_default(tmp_path: Path) -> None:
    assert DEFAULT_MAX_ROOM_OCCUPANTS == 10_000
    text = ejabberd.render_config(XmppSettings("ejabberd"), _files(tmp_path, "ejabberd"))
    mod_muc = text[text.index("  mod_muc:") : text.index("  mod_pubsub:")]
    # the service limit and the room default (which may not exceed it), not ejabberd's 200
    assert re.search(r"^    max_users: 10000$", mod_muc, re.M)
    assert re.search(r"^    default_room_options:\n      max_users: 10000$", mod_muc, re.M)


def test_the_room_limit_is_a_setting(tmp_path: Path) -> None:
    settings = XmppSettings("ejabberd", max_room_occupants=2500)
    text = ejabberd.render_config(settings, _files(tmp_path, "ejabberd"))
    assert text.count("max_users: 2500") == 2 and "10000" not in text
    # Prosody 0.12 has no occupant limit: nothing to set, and the configuration says so
    lua = prosody.render_config(XmppSettings("prosody"), _files(tmp_path, "prosody"))
    assert "max_occupants" not in lua and "no occupant limit" in lua


@pytest.mark.parametrize("value", [0, 1, -5, 1_000_001, True, 2.5, "100"])
def test_a_bad_room_limit_is_refused(value: object) -> None:
    with pytest.raises(XmppServerError, match="max_room_occupants"):
        XmppSettings("ejabberd", max_room_occupants=value)  # type: ignore[arg-type]


def test_the_room_limit_comes_from_the_config(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.create()
    home.config_file.write_text("[xmpp]\nmax_room_occupants = 4000\n")
    assert XmppSettings.from_config(load_config(home, environ={})).max_room_occupants == 4000
    home.config_file.write_text("[xmpp]\n")
    assert XmppSettings.from_config(load_config(home, environ={})).max_room_occupants == 10_000
