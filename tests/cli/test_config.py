"""Configuration: file + DERLINK_* overrides, validated with one clear message."""

from __future__ import annotations

import pytest

from derlink.config import DEFAULT_TOML, Config, load_config
from derlink.errors import ConfigError
from derlink.home import Home


def test_defaults_without_a_file() -> None:
    config = load_config(None, environ={})
    assert config == Config()
    assert config.server.port == 8443


def test_default_file_parses_to_defaults(home: Home) -> None:
    home.create()
    home.config_file.write_text(DEFAULT_TOML)
    assert load_config(home, environ={}) == Config()


def test_env_overrides_file(home: Home) -> None:
    home.create()
    home.config_file.write_text("[server]\nport = 9000\n")
    config = load_config(home, environ={"DERLINK_SERVER_PORT": "9100"})
    assert config.server.port == 9100


def test_database_url_defaults_to_sqlite_in_home(home: Home) -> None:
    config = load_config(None, environ={})
    assert config.database_url(home) == f"sqlite+aiosqlite:///{home.database_file}"
    config = load_config(None, environ={"DERLINK_DATABASE_URL": "postgresql+asyncpg://x/y"})
    assert config.database_url(home) == "postgresql+asyncpg://x/y"


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("[server]\nport = 70000\n", {}, "server.port"),
        ("[server]\nport = 'abc'\n", {}, "server.port"),
        ("", {"DERLINK_SERVER_PORT": "abc"}, "DERLINK_SERVER_PORT"),
        ("[server]\nbogus = 1\n", {}, "server.bogus"),
        ("[sep2]\nregistration = 'sometimes'\n", {}, "sep2.registration"),
        ("[server\n", {}, "not valid TOML"),
    ],
)
def test_bad_values_give_one_clear_line(
    home: Home, text: str, env: dict[str, str], needle: str
) -> None:
    home.create()
    home.config_file.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(home, environ=env)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message
