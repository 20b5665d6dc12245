"""Fixtures of the end-to-end tests: a real derlink PKI on disk and established sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from derlink.e2e import (
    AnchorVerifier,
    Credentials,
    Established,
    PkiVerifier,
    Send,
    Session,
    SessionConfig,
)
from derlink.pki import Pki, Role

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """One PKI per test module (certificates revoked by a test are issued for that test)."""
    directory: Path = tmp_path_factory.mktemp("e2e") / "pki"
    return Pki.create(directory, passphrase=None, name="derlink", now=NOW)


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A second, unrelated PKI: its certificates are not trusted by ``pki``'s holders."""
    directory: Path = tmp_path_factory.mktemp("e2e-other") / "pki"
    return Pki.create(directory, passphrase=None, name="elsewhere", now=NOW)


@pytest.fixture(scope="module")
def centre(pki: Pki) -> Credentials:
    issued = pki.issue_e2e("control-centre", roles=[Role.OPERATOR], now=NOW)
    return Credentials.from_issued(issued)


@pytest.fixture(scope="module")
def device(pki: Pki) -> Credentials:
    issued = pki.issue_e2e(
        "inv-7", xmpp_address="inv7@der.example", hardware_serial="INV-7", now=NOW
    )
    return Credentials.from_issued(issued)


def anchor_verifier(pki: Pki) -> AnchorVerifier:
    """What a device holds: the root and the CRLs it fetched (as of now)."""
    return AnchorVerifier([pki.root_certificate], pki.crls())


@dataclass
class Pair:
    initiator: Session
    responder: Session


def handshake(
    pki: Pki,
    initiator: Credentials,
    responder: Credentials,
    *,
    now: datetime = NOW,
    config: SessionConfig | None = None,
) -> Pair:
    """A completed handshake: the centre (PKI verifier) initiates, the device responds."""
    client = Session.initiator(initiator, PkiVerifier(pki), config)
    server = Session.responder(responder, anchor_verifier(pki), config)
    events = server.receive(client.start(now), now)
    assert isinstance(events[0], Send) and isinstance(events[1], Established)
    (done,) = client.receive(events[0].message, now)
    assert isinstance(done, Established)
    return Pair(client, server)


@pytest.fixture
def pair(pki: Pki, centre: Credentials, device: Credentials) -> Pair:
    return handshake(pki, centre, device)
