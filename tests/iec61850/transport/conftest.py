"""Real XMPP servers for the transport tests (see support/xmpp.py) and endpoints on them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from derlink.iec61850.xmpp.endpoint import Endpoint
from support.xmpp import ADMIN, XmppService, endpoint_for

TEST_NS = "urn:derlink:test:payload"

Factory = Callable[..., Endpoint]
"""The ``endpoints`` fixture: ``endpoints(service, name, **options)``."""


def payload(text: str) -> bytes:
    """A payload element in the test namespace the endpoints deliver."""
    return f'<p xmlns="{TEST_NS}">{text}</p>'.encode()


def make_endpoint(service: XmppService, local: str, **options: Any) -> Endpoint:
    """An endpoint logging in as ``local@domain`` with a fresh certificate from the PKI."""
    resource = options.pop("resource", "x")
    options.setdefault("payload_namespaces", (TEST_NS,))
    return endpoint_for(service, local, resource, **options)


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
