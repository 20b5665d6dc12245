"""What can stop a DER client, and whose fault it is.

A :class:`ClientError` is one readable line (it is a :class:`~derlink.errors.DerlinkError`, so the
CLI prints it and exits). :class:`ServerAnswer` carries the HTTP status the server answered, so
the shell decides once, at the boundary, whether to retry, back off or give up.
"""

from __future__ import annotations

from derlink.errors import DerlinkError


class ClientError(DerlinkError):
    """A DER client cannot go on (or cannot do one thing it was asked)."""


class PinMismatch(ClientError):
    """The server's Registration carries another PIN than the one the device was given: the
    device may be talking to the wrong server, or been registered for someone else
    (IEEE 2030.5-2018 §8.3, Registration)."""

    def __init__(self, sfdi: int, expected: int, found: int) -> None:
        super().__init__(
            f"EndDevice {sfdi}: the server's Registration PIN {found:06d} is not the PIN this "
            f"device was configured with ({expected:06d}); refusing to take its controls"
        )
        self.sfdi = sfdi


class NotRegistered(ClientError):
    """The server does not list this EndDevice and refused to let the client register it."""


class Unauthenticated(ClientError):
    """A resource failed authentication (TLS verification, or a signed-command check) and is
    not used."""


class TransportFailure(ClientError):
    """The server could not be reached or the connection broke (retried with back-off)."""


class ServerAnswer(ClientError):
    """The server answered with an error status."""

    def __init__(self, method: str, href: str, status: int, message: str = "") -> None:
        detail = f": {message}" if message else ""
        super().__init__(f"{method} {href} answered {status}{detail}")
        self.method = method
        self.href = href
        self.status = status

    @property
    def retryable(self) -> bool:
        """Server-side trouble or throttling; a 4xx otherwise means "not like this"."""
        return self.status >= 500 or self.status in (408, 429)


class BadResource(ClientError):
    """The server sent something the codec refused (not parsed, not the expected type, wrong
    media type): it is never applied."""
