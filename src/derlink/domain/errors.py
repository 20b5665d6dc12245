"""The error a domain constructor raises for a value that cannot exist."""

from __future__ import annotations

from derlink.errors import DerlinkError


class DomainError(DerlinkError, ValueError):
    """An invalid domain value (a negative duration, an unknown mode...); one readable line."""

    exit_code = 2
