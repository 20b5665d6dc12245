"""Configuration: a TOML file in the data directory, overridden by ``DERLINK_*`` variables.

Every key ``section.key`` of the file can be overridden by ``DERLINK_SECTION_KEY`` (for example
``DERLINK_DATABASE_URL`` or ``DERLINK_SERVER_PORT``). Values are validated by pydantic and a bad
one raises :class:`~derlink.errors.ConfigError` naming the key, the source and the problem.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from derlink.errors import ConfigError
from derlink.home import Home

ENV_PREFIX = "DERLINK_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Section):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means the SQLite file in the data directory.",
    )
    echo: bool = False


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    tls13: bool = Field(default=False, description="Also offer TLS 1.3 beside TLS 1.2.")
    trusted_client_cert_header: str | None = Field(
        default=None,
        description="Behind a TLS-terminating proxy only: the header carrying the client's "
        "PEM certificate. Unset means the certificate is taken from the TLS handshake.",
    )
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)


class PkiConfig(_Section):
    passphrase_env: str = Field(
        default="DERLINK_PKI_PASSPHRASE",
        description="Environment variable holding the CA key passphrase, when keys are encrypted.",
    )


class Sep2Config(_Section):
    registration: Literal["preregistered", "open"] = "preregistered"
    default_poll_rate: int = Field(default=900, ge=1)
    csipaus_namespace: Literal["https://csipaus.org/ns/v1.3", "https://csipaus.org/ns"] = Field(
        default="https://csipaus.org/ns/v1.3",
        description="Namespace of CSIP-AUS elements in answers: v1.3, or v1.2's.",
    )


class XmppConfig(_Section):
    server: Literal["ejabberd", "prosody"] = "ejabberd"
    domain: str = "derlink.local"
    host: str = "127.0.0.1"
    port: int = Field(default=5222, ge=1, le=65535)
    admins: tuple[str, ...] = Field(
        default=(),
        description="Bare JIDs of the control centre: the only ones creating MUC rooms and "
        "PubSub nodes (a TOML list).",
    )
    max_room_occupants: int = Field(
        default=10_000,
        ge=2,
        le=1_000_000,
        description="Occupants one MUC room (one DER group) admits (ejabberd max_users).",
    )


class PrivateRoleConfig(_Section):
    id: int = Field(ge=-32768, le=-1, description="Private IEC 62351-8 role id.")
    rights: tuple[str, ...] = Field(default=(), description="62351-8 rights: view, control...")


class RbacConfig(_Section):
    area: str = Field(
        default="derlink",
        min_length=1,
        description="Area of responsibility naming the whole deployment (certificates, tokens).",
    )
    roles: dict[str, PrivateRoleConfig] = Field(
        default_factory=dict, description="Private roles: [rbac.roles.NAME] id, rights."
    )
    token_lifetime: int = Field(default=3600, ge=60, le=7 * 24 * 3600)


class AnomalyConfig(_Section):
    enabled: bool = True
    window_seconds: int = Field(default=60, ge=1, le=86400)
    max_per_operator: int = Field(default=60, ge=1, description="Commands per window.")
    max_per_group: int = Field(default=30, ge=1)
    max_per_device: int = Field(default=10, ge=1)
    max_failed_auth: int = Field(default=20, ge=1, description="Failed logins per source.")
    action: Literal["hold", "refuse"] = "hold"


class Config(_Section):
    database: DatabaseConfig = DatabaseConfig()
    server: ServerConfig = ServerConfig()
    pki: PkiConfig = PkiConfig()
    sep2: Sep2Config = Sep2Config()
    xmpp: XmppConfig = XmppConfig()
    rbac: RbacConfig = RbacConfig()
    anomaly: AnomalyConfig = AnomalyConfig()

    def database_url(self, home: Home) -> str:
        """The effective database URL: the configured one, else SQLite in ``home``."""
        return self.database.url or f"sqlite+aiosqlite:///{home.database_file}"


DEFAULT_TOML = """\
# derlink configuration. Every key can be overridden by DERLINK_<SECTION>_<KEY>,
# for example DERLINK_DATABASE_URL=postgresql+asyncpg://user@127.0.0.1/derlink

[database]
# url = "postgresql+asyncpg://derlink@127.0.0.1:5432/derlink"

[server]
host = "127.0.0.1"
port = 8443
workers = 1

[sep2]
registration = "preregistered"

[xmpp]
server = "ejabberd"
domain = "derlink.local"
"""


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for section_name, field in Config.model_fields.items():
        section_type = field.annotation
        assert isinstance(section_type, type) and issubclass(section_type, BaseModel)
        for key in section_type.model_fields:
            var = f"{ENV_PREFIX}{section_name}_{key}".upper()
            if var in environ:
                out.setdefault(section_name, {})[key] = environ[var]
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, values in over.items():
        current = merged.get(section)
        merged[section] = {**(current if isinstance(current, dict) else {}), **values}
    return merged


def _describe(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    env = f"{ENV_PREFIX}{where.replace('.', '_')}".upper()
    return f"bad configuration value {where} (from {source} or {env}): {first['msg']}"


def load_config(home: Home | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load the config file of ``home`` (if any) and apply ``DERLINK_*`` overrides."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    source = "defaults"
    if home is not None and home.config_file.exists():
        source = str(home.config_file)
        data = read_toml(home.config_file)
    try:
        return Config.model_validate(_merge(data, _env_overrides(environ)))
    except ValidationError as err:
        raise ConfigError(_describe(err, source)) from None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
