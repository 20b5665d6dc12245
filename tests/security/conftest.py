"""Tapped real XMPP servers for the attack suite (see security/rig.py), one per kind and run."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from conftest import require_service
from derlink.iec61850.xmpp.server import backend_module
from security.rig import Rig, make_rig, service_of
from support.xmpp import XmppService


def _tapped(kind: str) -> Iterator[XmppService]:
    require_service(shutil.which(backend_module(kind).BINARY) is not None, f"{kind} missing")  # type: ignore[arg-type]
    with service_of(kind) as service:
        yield service


@pytest.fixture(scope="session")
def tapped_prosody() -> Iterator[XmppService]:
    yield from _tapped("prosody")


@pytest.fixture(scope="session")
def tapped_ejabberd() -> Iterator[XmppService]:
    yield from _tapped("ejabberd")


@pytest.fixture(params=["prosody", "ejabberd"])
def tapped(request: pytest.FixtureRequest) -> XmppService:
    """Each test using it runs on a tapped Prosody and on a tapped ejabberd."""
    service: XmppService = request.getfixturevalue(f"tapped_{request.param}")
    return service


@pytest.fixture
async def rig(tapped: XmppService) -> AsyncIterator[Rig]:
    """A control centre and two IEDs, all end-to-end protected, started on a tapped server."""
    made = await make_rig(tapped)
    try:
        yield made
    finally:
        await made.stop()
