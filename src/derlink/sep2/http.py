"""Requests, responses and HTTP errors of the head-end, independent of the ASGI server.

An :class:`HttpError` carries its status (and the 2030.5 Error reasonCode), so handlers raise
and the application maps to the wire once. Request bodies are read with a cap, and gunzipped
with a cap, before anything parses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

MEDIA_TYPE = "application/sep+xml"
ACCEPTED_TYPES = frozenset({MEDIA_TYPE, "application/xml", "text/xml"})
T = TypeVar("T")


class HttpError(Exception):
    """An HTTP error answer: ``status``, a one-line ``message``, 2030.5 ``reason`` code.

    2030.5 Error.reasonCode: 0 invalid request format, 1 invalid request values, 2 resource
    limit reached, 3 conditional subscription field not supported, 4 maximum request frequency.
    """

    def __init__(self, status: int, message: str, reason: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def bad_request(message: str) -> HttpError:
    return HttpError(400, message, reason=1)


def forbidden(message: str = "forbidden") -> HttpError:
    return HttpError(403, message)


@dataclass(frozen=True, slots=True)
class Paging:
    """The 2030.5 list query: ``s`` start index, ``a`` after time, ``l`` limit (default 1, as
    the standard says: a client that wants more asks for more)."""

    start: int = 0
    after: int | None = None
    limit: int = 1

    @classmethod
    def parse(cls, query: Mapping[str, str], default_limit: int = 1) -> Paging:
        try:
            start = int(query.get("s", "0"))
            limit = int(query.get("l", str(default_limit)))
            after = int(query["a"]) if "a" in query else None
        except ValueError:
            raise bad_request("query parameters s, a and l must be integers") from None
        if start < 0 or limit < 0 or (after is not None and after < 0):
            raise bad_request("query parameters s, a and l must not be negative")
        return cls(start, after, min(limit, 1000))

    def window(self, items: list[T]) -> list[T]:
        return items[self.start : self.start + self.limit]


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    peer_der: bytes | None
    scope: dict[str, Any] = field(repr=False)

    @classmethod
    def from_scope(cls, scope: dict[str, Any], body: bytes) -> Request:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw_query = scope.get("query_string", b"").decode("latin-1")
        tls = scope.get("extensions", {}).get("tls") or {}
        return cls(
            method=scope["method"],
            path=scope["path"].rstrip("/") or "/",
            query=dict(parse_qsl(raw_query)),
            headers=headers,
            body=body,
            peer_der=tls.get("derlink.peer_der"),
            scope=scope,
        )

    def paging(self, default_limit: int = 1) -> Paging:
        return Paging.parse(self.query, default_limit)


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @classmethod
    def xml(cls, body: bytes, status: int = 200) -> Response:
        return cls(status, body, [(b"content-type", MEDIA_TYPE.encode())])

    @classmethod
    def created(cls, location: str) -> Response:
        return cls(201, b"", [(b"location", location.encode())])

    @classmethod
    def no_content(cls) -> Response:
        return cls(204)
