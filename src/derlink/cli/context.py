"""What every ``derlink`` command receives: the data directory, the config, output style."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import click

from derlink.config import Config, load_config
from derlink.home import Home


@dataclass
class CliContext:
    home: Home
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.home if self.home.exists() else None)
        return self._config

    @property
    def database_url(self) -> str:
        return self.config.database_url(self.home)


pass_ctx = click.make_pass_decorator(CliContext)


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON for scripts (``--json``)."""
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
