"""Errors of the 2030.5 XML codec, each carrying the HTTP status the server answers with.

A request body that cannot be accepted raises :class:`Sep2DecodeError` (400 Bad Request) or
its subclass :class:`Sep2TooLarge` (413 Content Too Large), so the ASGI layer maps every codec
failure with one ``except Sep2DecodeError as err: status = err.status``.
"""

from __future__ import annotations

from derlink.errors import DerlinkError


class Sep2DecodeError(DerlinkError):
    """A 2030.5 document that is not well-formed, not valid, or not the expected resource.

    ``str(err)`` is one line naming the element path and the field, e.g.
    ``DERControl/DERControlBase/opModMaxLimW: 70000 is out of range for PerCent``.
    """

    status: int = 400


class Sep2TooLarge(Sep2DecodeError):
    """A body (or its gzip decompression) larger than the caller's limit."""

    status = 413
