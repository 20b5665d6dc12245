"""The HTTP shell: GET, POST, PUT and DELETE of 2030.5 resources over mutual TLS.

Thin on purpose: it moves bytes through httpx and the codec and turns every failure into one of
three errors (:class:`~derlink.sep2.client.errors.TransportFailure` to back off and retry,
:class:`~derlink.sep2.client.errors.ServerAnswer` with the status,
:class:`~derlink.sep2.client.errors.BadResource` for a body the codec refuses). Nothing is
handed on that the codec did not parse and validate, that did not come over TLS from the
configured server (links to another origin are not followed), or that the
:class:`CommandVerifier` hook refused.

Many identities, one pool: :class:`IdentityTransport` lets one ``httpx.AsyncClient`` (one set of
limits, one event loop's worth of bookkeeping) carry the connections of many certificates, each
request on a connection of its own identity's TLS context, as a fleet simulator or an aggregator
gateway with per-device certificates needs.
"""

from __future__ import annotations

import dataclasses
import ssl
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from derlink.sep2.client.errors import BadResource, ServerAnswer, TransportFailure
from derlink.sep2.xml import (
    MEDIA_TYPE,
    Sep2DecodeError,
    Sep2Object,
    Sep2TooLarge,
    decode,
    encode,
)

T = TypeVar("T", bound=Sep2Object)
ACCEPTED = frozenset({MEDIA_TYPE, "application/xml", "text/xml"})
IDENTITY = "derlink.identity"
MAX_PAGES = 100
STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class CommandVerifier(Protocol):
    """End-to-end check of a resource before it is used (signed commands come here later):
    raise :class:`~derlink.sep2.client.errors.Unauthenticated` to refuse it."""

    def verify(self, href: str, body: bytes, resource: Sep2Object) -> None: ...


class TrustTls:
    """The default verifier: the mutually authenticated TLS channel is the authentication."""

    def verify(self, href: str, body: bytes, resource: Sep2Object) -> None:
        return None


class IdentityTransport(httpx.AsyncBaseTransport):
    """Routes each request to the connection pool of its identity (``extensions`` key
    ``derlink.identity``); pools are created by :meth:`add`."""

    def __init__(self, limits: httpx.Limits | None = None) -> None:
        self.limits = limits or httpx.Limits(max_connections=1, keepalive_expiry=90.0)
        self.pools: dict[str, httpx.AsyncHTTPTransport] = {}

    def add(self, identity: str, context: ssl.SSLContext) -> None:
        if identity not in self.pools:
            self.pools[identity] = httpx.AsyncHTTPTransport(verify=context, limits=self.limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        identity = request.extensions.get(IDENTITY)
        pool = self.pools.get(identity) if isinstance(identity, str) else None
        if pool is None:
            raise httpx.ConnectError(f"no TLS identity {identity!r} for this request")
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self.pools.values():
            await pool.aclose()
        self.pools.clear()


class Sep2Http:
    """One identity's view of one server."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        server: str,
        *,
        identity: str | None = None,
        verifier: CommandVerifier | None = None,
        max_bytes: int = 256 * 1024,
        page_size: int = 100,
    ) -> None:
        parts = urlsplit(server)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.client = client
        self.extensions = {IDENTITY: identity} if identity else {}
        self.verifier: CommandVerifier = verifier or TrustTls()
        self.max_bytes = max_bytes
        self.page_size = page_size
        self.requests = 0

    def url(self, href: str) -> str:
        if href.startswith("/"):
            return self.origin + href
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            raise BadResource(f"link {href} leaves the configured server {self.origin}")
        return href

    async def _send(
        self,
        method: str,
        href: str,
        body: bytes | None = None,
        params: dict[str, int] | None = None,
    ) -> httpx.Response:
        headers = {"accept": MEDIA_TYPE}
        if body is not None:
            headers["content-type"] = MEDIA_TYPE
        url = self.url(href)
        for attempt in (0, 1):
            self.requests += 1
            try:
                return await self.client.request(
                    method,
                    url,
                    content=body,
                    params=params,
                    headers=headers,
                    extensions=self.extensions,
                )
            except STALE as err:  # a kept-alive connection the server closed: once more
                if attempt:
                    raise TransportFailure(f"{method} {href}: {type(err).__name__}") from err
            except httpx.TransportError as err:
                detail = str(err) or type(err).__name__
                raise TransportFailure(f"{method} {href}: {detail}") from err
        raise AssertionError("unreachable")

    def _check(self, method: str, href: str, answer: httpx.Response, ok: tuple[int, ...]) -> None:
        if answer.status_code not in ok:
            message = answer.headers.get("x-derlink-error", "")
            raise ServerAnswer(method, href, answer.status_code, message[:200])

    async def get(self, href: str, expected: type[T], params: dict[str, int] | None = None) -> T:
        answer = await self._send("GET", href, params=params)
        self._check("GET", href, answer, (200,))
        media = answer.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in ACCEPTED:
            raise BadResource(f"GET {href}: content type {media!r} is not application/sep+xml")
        try:
            obj = decode(answer.content, expected, max_bytes=self.max_bytes)
        except (Sep2DecodeError, Sep2TooLarge) as err:
            raise BadResource(f"GET {href}: {err}") from err
        self.verifier.verify(href, answer.content, obj)
        return obj

    async def get_bytes(self, href: str, media_type: str) -> bytes:
        """A document that is not a 2030.5 resource (a signed command), as sent."""
        answer = await self._send("GET", href)
        self._check("GET", href, answer, (200,))
        media = answer.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != media_type:
            raise BadResource(f"GET {href}: content type {media!r} is not {media_type}")
        if len(answer.content) > self.max_bytes:
            raise BadResource(f"GET {href}: more than {self.max_bytes} bytes")
        return answer.content

    async def get_any(self, href: str, expected: type[T]) -> T:
        """A resource, or every page of a list (``s``/``l`` paging, IEEE 2030.5 §6.4)."""
        if not _is_list(expected):
            return await self.get(href, expected)
        first = await self.get(href, expected, {"s": 0, "l": self.page_size})
        items = list(_items(first))
        total = int(getattr(first, "all", 0))
        pages = 1
        while len(items) < total and pages < MAX_PAGES:
            page = await self.get(href, expected, {"s": len(items), "l": self.page_size})
            more = _items(page)
            if not more:
                break
            items += more
            pages += 1
        return _with_items(first, items) if pages > 1 else first

    async def post(self, href: str, obj: Sep2Object) -> str | None:
        """POST ``obj``; the Location the server answers (None when it gave none)."""
        answer = await self._send("POST", href, encode(obj))
        self._check("POST", href, answer, (200, 201, 204))
        location: str | None = answer.headers.get("location")
        return location

    async def put(self, href: str, obj: Sep2Object) -> None:
        answer = await self._send("PUT", href, encode(obj))
        self._check("PUT", href, answer, (200, 201, 204))

    async def delete(self, href: str) -> None:
        answer = await self._send("DELETE", href)
        self._check("DELETE", href, answer, (200, 204, 404))


_LIST_FIELDS: dict[type[Sep2Object], str | None] = {}


def _list_field(kind: type[Sep2Object]) -> str | None:
    """The repeated item field of a 2030.5 list type (None for other types)."""
    if kind not in _LIST_FIELDS:
        found: str | None = None
        fields = dataclasses.fields(kind)  # type: ignore[arg-type]
        if {"all", "results"} <= {f.name for f in fields}:
            found = next((str(f.name) for f in fields if str(f.type).startswith("tuple[")), None)
        _LIST_FIELDS[kind] = found
    return _LIST_FIELDS[kind]


def _is_list(kind: type[Sep2Object]) -> bool:
    return _list_field(kind) is not None


def _items(obj: Sep2Object) -> tuple[Sep2Object, ...]:
    name = _list_field(type(obj))
    return tuple(getattr(obj, name)) if name else ()


def _with_items(first: T, items: list[Sep2Object]) -> T:
    name = _list_field(type(first))
    assert name is not None
    changes = {name: tuple(items), "results": len(items)}
    return dataclasses.replace(first, **changes)  # type: ignore[type-var]
