"""Tapped real XMPP servers for the attack suite (see security/rig.py), one per kind and run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from security.rig import Rig, make_rig, tapped_service
from support.xmpp import XmppService, running_service


@pytest.fixture(scope="session")
def tapped_prosody() -> Iterator[XmppService]:
    yield from running_service("prosody", tapped_service)


@pytest.fixture(scope="session")
def tapped_ejabberd() -> Iterator[XmppService]:
    yield from running_service("ejabberd", tapped_service)


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
