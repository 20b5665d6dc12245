"""Errors of the audit log."""

from __future__ import annotations

from derlink.errors import DerlinkError


class AuditError(DerlinkError):
    """The audit log cannot be written or read as asked (no key, no such record...)."""

    exit_code = 6
