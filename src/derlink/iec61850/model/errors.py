"""Errors of the IEC 61850 data model: bad references, bad values, bad SCL.

Every error is a :class:`~derlink.errors.DerlinkError`, so a user who feeds a bad reference or a
broken ICD file gets one readable line, never a traceback. The ACSI layer maps them to service
errors at its boundary (``ObjectNotFound`` -> object-non-existent, ``TypeMismatch`` ->
type-inconsistent, ``ReadOnly`` -> object-access-denied).
"""

from __future__ import annotations

from derlink.errors import DerlinkError


class ModelError(DerlinkError):
    """Base of every data-model error."""


class BadReference(ModelError):
    """An ObjectReference, FC or name that 7-2 / 6 syntax forbids."""


ReferenceError_ = BadReference


class ObjectNotFound(ModelError):
    """A well-formed reference that names nothing in this server model."""


class TypeMismatch(ModelError):
    """A value that does not fit the basic type (or structure) of its data attribute."""


class ReadOnly(ModelError):
    """A write to an attribute that the writer may not change."""


class SclError(ModelError):
    """An SCL file that cannot be loaded; the message names the file, the line and the fault."""

    exit_code = 2

    def __init__(self, message: str, *, source: str = "<bytes>", line: int | None = None) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.problem = message
