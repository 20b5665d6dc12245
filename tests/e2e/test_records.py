"""Data records: every attack on a record is refused, and a refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derlink.e2e import (
    Data,
    E2EError,
    MalformedMessage,
    Reordered,
    Replay,
    Session,
    SessionConfig,
    Stale,
    StateError,
    Tampered,
    Truncated,
    UnknownKey,
    WrongAssociation,
    records,
)
from derlink.e2e.identity import Credentials
from derlink.pki import Pki

from .conftest import NOW, Pair, handshake

# Header field offsets (see derlink.e2e.records).
FIELDS = {
    "type": range(0, 1),
    "version": range(1, 2),
    "flags": range(2, 3),
    "association": range(3, 19),
    "epoch": range(19, 23),
    "time": range(23, 31),
    "sequence": range(31, 39),
    "nonce": range(39, 51),
    "length": range(51, 55),
}


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    changed = bytearray(data)
    changed[index] ^= mask
    return bytes(changed)


def test_confidential_and_integrity_only_records(pair: Pair) -> None:
    secret = pair.initiator.seal(b"setpoint=5000", NOW, confidential=True)
    clear = pair.initiator.seal(b"setpoint=5000", NOW, confidential=False)
    assert b"setpoint" not in secret and b"setpoint" in clear
    assert len(secret) == len(clear) == records.OVERHEAD + 13
    (got,) = pair.responder.receive(secret, NOW)
    assert isinstance(got, Data) and got.confidential and got.sequence == 0
    (got,) = pair.responder.receive(clear, NOW)
    assert isinstance(got, Data) and not got.confidential and got.payload == b"setpoint=5000"
    assert got.time == NOW and got.epoch == 0
    empty = pair.responder.seal(b"", NOW)
    assert pair.initiator.open(empty, NOW) == b""


@pytest.mark.parametrize("confidential", [True, False])
@pytest.mark.parametrize("region", ["payload", "tag", *FIELDS])
def test_every_bit_flip_is_refused(pair: Pair, confidential: bool, region: str) -> None:
    record = pair.initiator.seal(b"operate breaker 1", NOW, confidential=confidential)
    if region == "payload":
        positions = range(records.HEADER_SIZE, len(record) - records.TAG_SIZE)
    elif region == "tag":
        positions = range(len(record) - records.TAG_SIZE, len(record))
    else:
        positions = FIELDS[region]
    for index in positions:
        for mask in (0x01, 0x80):
            with pytest.raises(E2EError) as caught:
                pair.responder.open(flip(record, index, mask), NOW)
            assert type(caught.value) in _EXPECTED[region], (region, index, caught.value)
    assert pair.responder.open(record, NOW) == b"operate breaker 1"  # state unchanged


_EXPECTED: dict[str, tuple[type[E2EError], ...]] = {
    "payload": (Tampered,),
    "tag": (Tampered,),
    "type": (MalformedMessage,),
    "version": (MalformedMessage,),
    "flags": (MalformedMessage, Tampered),
    "association": (WrongAssociation,),
    "epoch": (UnknownKey,),
    "time": (Tampered,),
    "sequence": (Tampered,),  # the nonce no longer matches
    "nonce": (Tampered,),
    "length": (Truncated, MalformedMessage),
}


def test_replay_and_reordering(pki: Pki, centre: Credentials, device: Credentials) -> None:
    pair = handshake(pki, centre, device, config=SessionConfig(window=8))
    sent = [pair.initiator.seal(f"m{i}".encode(), NOW) for i in range(20)]
    assert pair.responder.open(sent[10], NOW) == b"m10"
    with pytest.raises(Replay):
        pair.responder.open(sent[10], NOW)
    assert pair.responder.open(sent[5], NOW) == b"m5"  # late, but within the window of 8
    with pytest.raises(Replay):
        pair.responder.open(sent[5], NOW)
    with pytest.raises(Reordered):
        pair.responder.open(sent[2], NOW)  # 8 below the highest: beyond the window
    for i in (19, 12, 13):  # the window now covers 12..19
        assert pair.responder.open(sent[i], NOW) == f"m{i}".encode()
    with pytest.raises(Reordered):
        pair.responder.open(sent[11], NOW)


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=10, seconds=1), -timedelta(minutes=10, seconds=1)]
)
def test_stale_records_are_refused(pair: Pair, skew: timedelta) -> None:
    later = NOW + timedelta(minutes=20)
    record = pair.initiator.seal(b"late", later)
    with pytest.raises(Stale):
        pair.responder.open(record, later + skew)
    assert pair.responder.open(record, later + skew / 2) == b"late"


def test_truncated_and_padded_records(pair: Pair) -> None:
    record = pair.initiator.seal(b"x" * 200, NOW)
    for cut in (1, 15, 16, 17, 200, len(record) - records.HEADER_SIZE):
        with pytest.raises(Truncated):
            pair.responder.open(record[:-cut], NOW)
    for cut in (0, 1, 30, 54):
        with pytest.raises(Truncated):
            pair.responder.open(record[:cut], NOW)
    with pytest.raises(MalformedMessage, match="trailing"):
        pair.responder.open(record + b"\0", NOW)
    assert pair.responder.open(record, NOW) == b"x" * 200


def test_a_record_of_another_association(
    pair: Pair, pki: Pki, centre: Credentials, device: Credentials
) -> None:
    other = handshake(pki, centre, device)
    with pytest.raises(WrongAssociation):
        pair.responder.open(other.initiator.seal(b"x", NOW), NOW)
    # the reverse direction of the same association is not accepted either
    with pytest.raises(Tampered):
        pair.initiator.open(pair.initiator.seal(b"mirror", NOW), NOW)


def test_records_before_the_handshake(pki: Pki, centre: Credentials, pair: Pair) -> None:
    fresh = Session.responder(centre, pair.responder._verifier)
    with pytest.raises(StateError):
        fresh.open(pair.initiator.seal(b"x", NOW), NOW)


def test_rekey_on_demand_and_keys_after_rekey(pair: Pair) -> None:
    t = NOW + timedelta(minutes=1)
    old = pair.initiator.seal(b"old epoch", t)
    old_back = pair.responder.seal(b"old back", t)
    request = pair.initiator.rekey(t)
    assert pair.initiator.rekey_pending
    send, rekeyed = pair.responder.receive(request, t)
    assert rekeyed.epoch == 1  # type: ignore[union-attr]
    (done,) = pair.initiator.receive(send.message, t)  # type: ignore[union-attr]
    assert done.epoch == 1  # type: ignore[union-attr]
    new = pair.initiator.seal(b"new epoch", t)
    assert new[19:23] == (1).to_bytes(4, "big")
    assert pair.responder.open(new, t) == b"new epoch"
    # records in flight under the old keys still open during the grace (1 min) ...
    assert pair.responder.open(old, t + timedelta(seconds=30)) == b"old epoch"
    # ... and not after it: the responder's switch-over bound (grace) plus the grace, as the
    # initiator saw no record of epoch 1 from it (test_switchover.py covers the rest)
    with pytest.raises(UnknownKey):
        pair.initiator.open(old_back, t + timedelta(minutes=2))
    pair.initiator.tick(t + timedelta(minutes=2))
    with pytest.raises(UnknownKey):
        pair.initiator.open(old_back, t + timedelta(seconds=10))  # keys are gone
    # a replayed rekey request or accept is refused
    with pytest.raises(Replay):
        pair.responder.receive(request, t)
    with pytest.raises(Replay):
        pair.initiator.receive(send.message, t)  # type: ignore[union-attr]


def test_scheduled_rekey(pki: Pki, centre: Credentials, device: Credentials) -> None:
    config = SessionConfig(rekey_interval=timedelta(minutes=15))
    pair = handshake(pki, centre, device, config=config)
    assert pair.initiator.tick(NOW + timedelta(minutes=14)) is None
    assert pair.responder.tick(NOW + timedelta(minutes=15)) is None  # the initiator goes first
    request = pair.initiator.tick(NOW + timedelta(minutes=15))
    assert request is not None
    assert pair.initiator.tick(NOW + timedelta(minutes=15)) is None  # one at a time
    t = NOW + timedelta(minutes=15)
    send, _ = pair.responder.receive(request, t)
    pair.initiator.receive(send.message, t)  # type: ignore[union-attr]
    assert pair.initiator.epoch == pair.responder.epoch == 1
    # the responder rekeys by itself if the initiator does not
    assert pair.responder.tick(t + timedelta(minutes=17)) is None
    request = pair.responder.tick(t + timedelta(minutes=17, seconds=30))
    assert request is not None
    send, _ = pair.initiator.receive(request, t + timedelta(minutes=17, seconds=30))
    pair.responder.receive(send.message, t + timedelta(minutes=17, seconds=30))  # type: ignore[union-attr]
    assert pair.initiator.epoch == pair.responder.epoch == 2


def test_overdue_keys_are_refused(pki: Pki, centre: Credentials, device: Credentials) -> None:
    config = SessionConfig(rekey_interval=timedelta(minutes=15))
    pair = handshake(pki, centre, device, config=config)
    late = NOW + timedelta(minutes=20, seconds=1)  # interval + 5 min slack
    from derlink.e2e import KeyExpired

    with pytest.raises(KeyExpired):
        pair.initiator.seal(b"x", late)
    record = pair.initiator.seal(b"x", NOW + timedelta(minutes=19))
    with pytest.raises(KeyExpired):
        pair.responder.open(record, late)
    # a rekey restores service
    send, _ = pair.responder.receive(pair.initiator.rekey(late), late)
    pair.initiator.receive(send.message, late)  # type: ignore[union-attr]
    assert pair.responder.open(pair.initiator.seal(b"y", late), late) == b"y"


def test_simultaneous_rekeys_resolve_to_the_initiators(pair: Pair) -> None:
    t = NOW + timedelta(minutes=1)
    from_initiator = pair.initiator.rekey(t)
    from_responder = pair.responder.rekey(t)
    assert pair.initiator.receive(from_responder, t) == ()  # ignored: ours wins
    send, _ = pair.responder.receive(from_initiator, t)
    pair.initiator.receive(send.message, t)  # type: ignore[union-attr]
    assert pair.initiator.epoch == pair.responder.epoch == 1
    assert not pair.responder.rekey_pending and not pair.initiator.rekey_pending
    assert pair.initiator.open(pair.responder.seal(b"ok", t), t) == b"ok"


def test_rekey_rechecks_revocation(pki: Pki, centre: Credentials) -> None:
    issued = pki.issue_e2e("soon-revoked", now=NOW)
    device = Credentials.from_issued(issued)
    pair = handshake(pki, centre, device)
    pki.revoke(issued.serial_number, now=NOW)
    t = NOW + timedelta(minutes=1)
    request = pair.initiator.rekey(t)
    send, _ = pair.responder.receive(request, t)  # the device's CRL predates the revocation
    from derlink.e2e import Revoked

    with pytest.raises(Revoked):
        pair.initiator.receive(send.message, t)  # type: ignore[union-attr]
    assert pair.initiator.epoch == 0  # unchanged; the caller closes the association


def test_the_peer_cannot_change_at_rekey(
    pair: Pair, pki: Pki, centre: Credentials, device: Credentials
) -> None:
    other = Session.initiator(
        Credentials.from_issued(pki.issue_e2e("intruder", now=NOW)), pair.initiator._verifier
    )
    other.association_id = pair.initiator.association_id
    other.state = pair.initiator.state
    other._keys.current = 0  # forge a rekey request for the association, signed by another
    forged = other._request(1, NOW)
    from derlink.e2e import UnexpectedPeer

    with pytest.raises(UnexpectedPeer):
        pair.responder.receive(forged, NOW)
    assert pair.responder.epoch == 0


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.lists(st.integers(min_value=0, max_value=39), min_size=1, max_size=80))
def test_random_delivery_orders_against_the_window(pair: Pair, order: list[int]) -> None:
    """Any order with duplicates: accepted exactly when a model of the window says so."""
    session = pair.responder
    initiator = pair.initiator
    base = initiator._current().next_sequence
    sent = [initiator.seal(bytes([i]), NOW) for i in range(40)]
    window = session.config.window
    done = {s for s in range(base)}
    highest = base - 1
    for i in order:
        seq = base + i
        if seq in done:
            expected: type[Exception] | None = Replay
        elif seq <= highest - window:
            expected = Reordered
        else:
            expected = None
        if expected is None:
            assert session.open(sent[i], NOW) == bytes([i])
            done.add(seq)
            highest = max(highest, seq)
        else:
            with pytest.raises(expected):
                session.open(sent[i], NOW)


def test_close_ends_the_association(pair: Pair) -> None:
    from derlink.e2e import Closed, State

    last_data = pair.initiator.seal(b"last", NOW)
    close = pair.initiator.close(NOW)
    assert pair.initiator.state is State.CLOSED
    with pytest.raises(StateError):
        pair.initiator.seal(b"more", NOW)
    with pytest.raises(Tampered):  # a forged close (flag set on a data record) is refused
        pair.responder.open(flip(last_data, 2, 0x02), NOW)
    assert pair.responder.open(last_data, NOW) == b"last"
    (closed,) = pair.responder.receive(close, NOW)
    assert isinstance(closed, Closed) and closed.sequence == 1
    assert pair.responder.state is State.CLOSED
    with pytest.raises(StateError):
        pair.responder.open(last_data, NOW)
    with pytest.raises(StateError):
        pair.responder.seal(b"x", NOW)
    assert pair.responder.tick(NOW) is None


def test_association_of_routes_messages(pair: Pair) -> None:
    from derlink.e2e import association_of

    aid = pair.initiator.association_id
    assert association_of(pair.initiator.seal(b"x", NOW)) == aid
    assert association_of(pair.initiator.rekey(NOW)) == aid
    with pytest.raises(Truncated):
        association_of(b"\x17" + bytes(10))
    with pytest.raises(MalformedMessage):
        association_of(b"\x18hello")
    with pytest.raises(MalformedMessage):
        association_of(b"")
