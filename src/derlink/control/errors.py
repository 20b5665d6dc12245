"""Errors of the fleet service: each one line, each leaving state untouched."""

from __future__ import annotations

from derlink.errors import DerlinkError


class ControlError(DerlinkError):
    """An operation the fleet service refuses (unknown id, conflicting value...)."""

    exit_code = 7


class NotFound(ControlError):
    """The named site, group, device, program or control does not exist."""


class Conflict(ControlError):
    """The operation conflicts with what exists (duplicate id, LFDI already enrolled...)."""
