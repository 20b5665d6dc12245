"""What every ``derlink`` command receives: the data directory, the config, output style."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from typing import Any

import click

from derlink.audit.event import AuditEvent
from derlink.config import Config, load_config
from derlink.home import Home
from derlink.rbac.subject import Source, Subject


@dataclass
class CliContext:
    home: Home
    _config: Config | None = field(default=None, repr=False)
    identity_file: str | None = None  # --identity / DERLINK_IDENTITY
    token: str | None = field(default=None, repr=False)  # --token / DERLINK_TOKEN
    subject: Subject | None = None  # set by derlink.cli.permissions before a command runs

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.home if self.home.exists() else None)
        return self._config

    @property
    def database_url(self) -> str:
        return self.config.database_url(self.home)

    @property
    def actor(self) -> str:
        """Who is acting, for the audit log: the certificate or token subject, else the local
        operator account running the CLI (acting as the data directory's administrator)."""
        if self.subject is not None and self.subject.source is not Source.LOCAL:
            return self.subject.identity
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid())
        return f"cli:{user}"

    def passphrase(self) -> bytes | None:
        """The CA key passphrase from the environment variable the config names, if set."""
        value = os.environ.get(self.config.pki.passphrase_env)
        return value.encode() if value else None

    def audit(self, event: AuditEvent) -> None:
        """Append ``event`` to the tamper-evident audit log of this data directory (durably)."""
        from derlink.audit.service import append_event_sync

        append_event_sync(self.home.require(), self.database_url, event)


pass_ctx = click.make_pass_decorator(CliContext)


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON for scripts (``--json``)."""
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
