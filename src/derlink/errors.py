"""The error every user-facing failure is raised as.

Anything a user can cause (a missing file, a bad config value, a wrong password) is raised as a
:class:`DerlinkError` subclass with a one-line message; the CLI prints that line and exits
non-zero, never a traceback.
"""

from __future__ import annotations


class DerlinkError(Exception):
    """A failure the user can understand and fix; ``str(err)`` is one readable line."""

    exit_code: int = 1


class ConfigError(DerlinkError):
    """The configuration file or a ``DERLINK_*`` variable holds a bad value."""

    exit_code = 2


class NotInitialisedError(DerlinkError):
    """The data directory has not been created with ``derlink init``."""

    exit_code = 3
