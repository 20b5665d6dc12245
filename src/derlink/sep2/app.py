"""The head-end as an ASGI application: routing, body limits, errors, auditing of refusals.

Every request: identity from the certificate (403 when there is none or it is refused), the
route for (method, path) (404/405), the body read with a cap (413) and gunzipped with a cap,
the media type checked on writes (415), then the handler. A handler raises
:class:`~derlink.sep2.http.HttpError` or a decode error; both become an ``Error`` document with
the status, the message in ``X-Derlink-Error``, and an audit record of the refusal. Nothing a
client sends can crash the server: any other exception is a 500, logged and audited.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from derlink.audit.event import Outcome
from derlink.control.errors import Conflict, ControlError, NotFound
from derlink.domain import DomainError
from derlink.rbac import authorize_sep2
from derlink.sep2.context import Caller, HeadEnd
from derlink.sep2.http import ACCEPTED_TYPES, HttpError, Request, Response
from derlink.sep2.xml import Error, Sep2DecodeError, Sep2TooLarge, encode, gunzip_body

log = logging.getLogger("derlink.sep2")

Handler = Callable[..., Awaitable[Response]]
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})
# What a certificate that is not (yet) registered may reach when registration is open.
OPEN_ROUTES = frozenset({"DeviceCapability", "Time", "EndDeviceList"})


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    name: str


@dataclass(slots=True)
class Call:
    """What a handler gets: the head-end, the request, and the verified caller."""

    headend: HeadEnd
    request: Request
    caller: Caller


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, path: str, name: str) -> Callable[[Handler], Handler]:
        """Register ``handler`` for ``method`` on ``path`` (``{name}`` segments, ``{n:int}``)."""
        regex = re.sub(r"\{(\w+):int\}", r"(?P<\1>[0-9]{1,15})", path)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Za-z0-9._:-]{1,64})", regex)
        pattern = re.compile(f"^{regex}$")

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, pattern, handler, name))
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Route, dict[str, Any]]:
        allowed = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                params: dict[str, Any] = {
                    k: int(v) if v.isdigit() and k in ("sfdi", "n") else v
                    for k, v in found.groupdict().items()
                }
                return route, params
            allowed = True
        if allowed:
            raise HttpError(405, f"{method} is not allowed on {path}")
        raise HttpError(404, f"no resource at {path}")


class Sep2App:
    """The ASGI application. ``router`` holds the resource handlers."""

    def __init__(self, headend: HeadEnd, router: Router) -> None:
        self.headend = headend
        self.router = router
        self.on_startup: list[Callable[[], None]] = []
        self.on_shutdown: list[Callable[[], Awaitable[None]]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response = await self._handle(scope, receive)
        headers = [*response.headers, (b"content-length", str(len(response.body)).encode())]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for start in self.on_startup:
                    start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for stop in self.on_shutdown:
                    await stop()
                await self.headend.db.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, scope: dict[str, Any], receive: Any) -> Response:
        caller_lfdi: str | None = None
        request: Request | None = None
        try:
            body = await self._read_body(scope, receive)
            request = Request.from_scope(scope, body)
            caller = await self.headend.caller(request)
            caller_lfdi = caller.lfdi
            route, params = self.router.match(request.method, request.path)
            _authorize(caller, request.method, route.name)
            if not (self.headend.open_registration and route.name in OPEN_ROUTES):
                caller.require_enrolled()
            if route.name in await self.headend.disabled():
                raise HttpError(404, f"{route.name} is disabled on this server")
            if request.method in WRITE_METHODS and route.name in await self.headend.locked():
                raise HttpError(403, f"client updates of {route.name} are locked here")
            if request.method in WRITE_METHODS and request.method != "DELETE":
                self._check_media_type(request)
            return await route.handler(Call(self.headend, request, caller), **params)
        except (HttpError, Sep2DecodeError, Sep2TooLarge, DomainError, ControlError) as err:
            failure = _as_http_error(err)
        except Exception:
            log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            failure = HttpError(500, "internal server error")
        await self._audit_refusal(request, scope, caller_lfdi, failure)
        return _error_response(failure)

    async def _read_body(self, scope: dict[str, Any], receive: Any) -> bytes:
        limit = self.headend.settings.max_body_bytes
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HttpError(413, f"request body over {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"request body over {limit} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if body and encoding == b"gzip":
            body = gunzip_body(body, limit)
        elif encoding not in (b"identity", b""):
            raise HttpError(415, f"content encoding {encoding.decode(errors='replace')!r}")
        return body

    def _check_media_type(self, request: Request) -> None:
        declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if declared not in ACCEPTED_TYPES:
            raise HttpError(415, f"content type must be application/sep+xml, not {declared!r}")

    async def _audit_refusal(
        self, request: Request | None, scope: dict[str, Any], lfdi: str | None, err: HttpError
    ) -> None:
        method = scope.get("method", "?")
        path = scope.get("path", "?")
        if err.status == 404 and method == "GET" and lfdi is not None:
            return  # a client following a stale link is not a security event
        try:
            await self.headend.audit_event(
                lfdi,
                f"sep2.{method.lower()}",
                f"href:{path[:200]}",
                Outcome.DENIED if err.status in (401, 403) else Outcome.FAILURE,
                status=err.status,
                message=err.message[:300],
            )
        except Exception:
            log.exception("could not audit a refused request")
        if lfdi is None and err.status == 403:
            await self._failed_authentication(scope)

    async def _failed_authentication(self, scope: dict[str, Any]) -> None:
        """Count a refused or missing client certificate per peer address; above the
        ``[anomaly] max_failed_auth`` threshold raise a security event (alarm)."""
        client = scope.get("client") or ("unknown", 0)
        source = f"peer:{client[0]}"
        now = int(self.headend.clock())
        assessment = self.headend.anomaly.assess_failed_auth(source, now=now)
        if not assessment.anomalous:
            return
        event = assessment.event(
            actor="unauthenticated", target=source, source="derlink.sep2", action="sep2.auth"
        )
        try:
            await self.headend.audit.append(event)
        except Exception:
            log.exception("could not audit a security event")


def _authorize(caller: Caller, method: str, route: str) -> None:
    """RBAC (IEC 62351-8 roles) for aggregators: 403 when a role lacks the right; devices
    carry no roles and keep the head-end's own access rules. The refusal is audited."""
    ident = caller.identity
    decision = authorize_sep2(ident.lfdi, ident.profile, ident.roles, ident.aor, method, route)
    if decision is not None and not decision.allowed:
        raise HttpError(403, decision.reason)


def _as_http_error(err: Exception) -> HttpError:
    if isinstance(err, HttpError):
        return err
    if isinstance(err, Sep2TooLarge):
        return HttpError(413, str(err))
    if isinstance(err, Sep2DecodeError):
        return HttpError(400, str(err), reason=0)
    if isinstance(err, DomainError):
        return HttpError(400, str(err), reason=1)
    status = 404 if isinstance(err, NotFound) else 409 if isinstance(err, Conflict) else 400
    return HttpError(status, str(err), reason=1)


def _error_response(err: HttpError) -> Response:
    body = encode(Error(reasonCode=err.reason))
    response = Response.xml(body, err.status)
    message = err.message.encode("ascii", "replace")[:500]
    response.headers.append((b"x-derlink-error", message))
    return response
