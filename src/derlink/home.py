"""The data directory: where config, database, PKI and keys live.

Resolution order for the directory: ``--home DIR``, else ``DERLINK_HOME``, else
``./derlink-data``. The layout is fixed here so every component agrees on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from derlink.errors import DerlinkError, NotInitialisedError

DEFAULT_HOME = "derlink-data"
CONFIG_NAME = "derlink.toml"


@dataclass(frozen=True, slots=True)
class Home:
    """Paths inside one derlink data directory."""

    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> Home:
        raw = explicit or os.environ.get("DERLINK_HOME") or DEFAULT_HOME
        return cls(Path(raw).expanduser().absolute())

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def database_file(self) -> Path:
        return self.root / "derlink.db"

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def audit_key_file(self) -> Path:
        """The control plane's audit key: it signs the audit log's tree heads (0600, unencrypted
        so that unattended servers can sign; protect the data directory)."""
        return self.pki_dir / "audit.key"

    @property
    def audit_cert_file(self) -> Path:
        """The audit key's certificate (and chain), for anyone who verifies tree heads."""
        return self.pki_dir / "audit.pem"

    @property
    def run_dir(self) -> Path:
        """Runtime state: pid files, generated server configs, sockets."""
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    def exists(self) -> bool:
        return self.config_file.is_file()

    def require(self) -> Home:
        """Return self, or raise a clear error when ``derlink init`` was never run here."""
        if not self.exists():
            raise NotInitialisedError(
                f"no derlink data directory at {self.root} (run 'derlink init' or pass --home)"
            )
        return self

    def create(self) -> None:
        """Create the directory tree with owner-only permissions."""
        if self.root.exists() and not self.root.is_dir():
            raise DerlinkError(f"{self.root} exists and is not a directory")
        for path in (self.root, self.pki_dir, self.run_dir, self.log_dir):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.chmod(0o700)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically to ``path`` readable by the owner only (0600)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    path.chmod(0o600)


def write_public(path: Path, data: bytes) -> None:
    """Write ``data`` atomically to ``path`` (0644): certificates, CRLs, configs."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    path.chmod(0o644)
