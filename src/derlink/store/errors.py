"""Errors of the storage layer."""

from __future__ import annotations

from derlink.errors import DerlinkError


class StoreError(DerlinkError):
    """The database cannot be reached, is not migrated, or the URL is wrong."""

    exit_code = 5
