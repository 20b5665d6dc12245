"""Fixtures of the ACSI tests: a server on the shipped der_ied.icd and client links to it."""

from __future__ import annotations

import pytest

from derlink.iec61850.acsi.server import IedServer, allow_all
from derlink.iec61850.model.der import load_der_ied
from derlink.iec61850.model.nodes import ServerModel
from derlink.iec61850.model.store import ValueStore
from iec61850.acsi.harness import Clock, Rig


@pytest.fixture(scope="session")
def model() -> ServerModel:
    return load_der_ied()


@pytest.fixture
def rig(model: ServerModel) -> Rig:
    clock = Clock()
    store = ValueStore(model, clock)
    denied: set[tuple[str, str]] = set()

    def authorize(peer: str, right: str, ref: object) -> bool:
        return (peer, right) not in denied and allow_all(peer, right, None)

    server = IedServer(model, store, clock=clock, authorize=authorize)
    return Rig(model, store, server, clock, denied)
