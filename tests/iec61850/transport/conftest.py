"""Real XMPP servers for the transport tests (see support/xmpp.py) and endpoints on them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from derlink.iec61850.xmpp.endpoint import Endpoint, EndpointConfig
from support.xmpp import ADMIN, XmppService, ejabberd_server, prosody_server, xmpp_server  # noqa: F401

TEST_NS = "urn:derlink:test:payload"

EndpointFactory = Callable[..., Endpoint]


def make_endpoint(service: XmppService, local: str, **options: Any) -> Endpoint:
    """An endpoint logging in as ``local@domain`` with a fresh certificate from the PKI."""
    jid, cert, key = service.client(local, options.pop("resource", "x"))
    options.setdefault("payload_namespaces", (TEST_NS,))
    config = EndpointConfig(
        jid=jid,
        certfile=cert,
        keyfile=key,
        cafile=service.ca_file,
        host=service.host,
        port=service.port,
        **options,
    )
    return Endpoint(config)


@pytest.fixture
async def endpoints(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[..., Endpoint]]:
    """``endpoints(service, name, **options)``: endpoints with unique JIDs, stopped afterwards."""
    made: list[Endpoint] = []
    tag = uuid.uuid4().hex[:6]

    def factory(service: XmppService, name: str, **options: Any) -> Endpoint:
        if name == ADMIN:  # the admin JID is fixed: keep sessions apart by resource
            options["resource"] = f"{options.get('resource', 'x')}-{tag}"
            endpoint = make_endpoint(service, name, **options)
        else:
            endpoint = make_endpoint(service, f"{name}-{tag}", **options)
        made.append(endpoint)
        return endpoint

    yield factory
    for endpoint in made:
        await endpoint.stop()
