"""The rekey switch-over: the side that answers a rekey keeps sealing under the old epoch until
the requester proves it has the new keys (or a bound passes), so no genuine record is refused
when the transport delivers a record before the accept that preceded it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from derlink.e2e import (
    Closed,
    Credentials,
    Data,
    E2EError,
    KeyExpired,
    Rekeyed,
    Replay,
    Send,
    Session,
    SessionConfig,
    State,
    StateError,
    Tampered,
    UnknownKey,
    tokens,
)
from derlink.pki import Pki

from .conftest import NOW, Pair, handshake

GRACE = SessionConfig().grace  # 1 min


def epoch_of(record: bytes) -> int:
    return int.from_bytes(record[19:23], "big")


def answered(pair: Pair, t: datetime) -> bytes:
    """The initiator asks for epoch+1, the responder answers; the accept is returned, not yet
    delivered."""
    send, rekeyed = pair.responder.receive(pair.initiator.rekey(t), t)
    assert isinstance(send, Send) and isinstance(rekeyed, Rekeyed)
    return send.message


def test_first_handshake_sends_under_epoch_0_at_once(pair: Pair) -> None:
    assert not pair.responder.switch_pending
    assert pair.responder.sending_epoch(NOW) == pair.initiator.sending_epoch(NOW) == 0
    assert pair.initiator.open(pair.responder.seal(b"first", NOW), NOW) == b"first"


def test_a_record_sealed_right_after_the_accept_opens_before_it(pair: Pair) -> None:
    """The race seen over XMPP: the responder answers the rekey and at once seals a report;
    the report reaches the initiator before the accept does."""
    t = NOW + timedelta(minutes=1)
    accept = answered(pair, t)
    report = pair.responder.seal(b"buffered report", t)
    assert epoch_of(report) == 0 and pair.responder.epoch == 1
    assert pair.responder.switch_pending and pair.responder.sending_epoch(t) == 0
    (data,) = pair.initiator.receive(report, t)  # the accept is still on its way
    assert isinstance(data, Data) and data.payload == b"buffered report" and data.epoch == 0
    (done,) = pair.initiator.receive(accept, t)
    assert isinstance(done, Rekeyed) and pair.initiator.sending_epoch(t) == 1
    # the responder still seals under epoch 0 and the initiator still opens it
    assert pair.initiator.open(pair.responder.seal(b"second", t), t) == b"second"


def test_the_first_record_of_the_new_epoch_completes_the_switch_over(pair: Pair) -> None:
    t = NOW + timedelta(minutes=1)
    pair.initiator.receive(answered(pair, t), t)
    in_flight = pair.initiator.seal(b"x", t)  # under epoch 1: the initiator switched
    assert epoch_of(in_flight) == 1
    tampered = bytearray(in_flight)
    tampered[-1] ^= 1
    with pytest.raises(Tampered):  # a forgery proves nothing and changes nothing
        pair.responder.open(bytes(tampered), t)
    assert pair.responder.switch_pending and pair.responder.sending_epoch(t) == 0
    u = t + timedelta(seconds=10)
    assert pair.responder.open(in_flight, u) == b"x"
    assert not pair.responder.switch_pending and pair.responder.sending_epoch(u) == 1
    reply = pair.responder.seal(b"y", u)
    assert epoch_of(reply) == 1 and pair.initiator.open(reply, u) == b"y"


def test_a_second_rekey_request_completes_the_switch_over_first(pair: Pair) -> None:
    """The requester may rekey again at once: its request proves it has epoch 1."""
    epoch0 = pair.initiator.seal(b"e0", NOW)
    t = NOW + timedelta(minutes=1)
    pair.initiator.receive(answered(pair, t), t)
    old = pair.initiator.seal(b"old", t)  # under epoch 1
    send, rekeyed = pair.responder.receive(pair.initiator.rekey(t), t)
    assert isinstance(send, Send) and rekeyed == Rekeyed(2)
    assert pair.responder.switch_pending and pair.responder.sending_epoch(t) == 1
    # epoch 0 retires a grace after the switch to 1; epoch 1 stays until the switch to 2
    late = t + GRACE
    with pytest.raises(UnknownKey):
        pair.responder.open(epoch0, late)
    assert pair.responder.open(old, late - timedelta(seconds=1)) == b"old"
    report = pair.responder.seal(b"under 1", t)
    assert epoch_of(report) == 1 and pair.initiator.open(report, t) == b"under 1"
    pair.initiator.receive(send.message, t)
    assert pair.responder.open(pair.initiator.seal(b"under 2", t), t) == b"under 2"
    assert pair.responder.sending_epoch(t) == pair.initiator.sending_epoch(t) == 2


def test_the_answering_side_starts_no_rekey_during_its_switch_over(pair: Pair) -> None:
    t = NOW + timedelta(minutes=1)
    answered(pair, t)
    with pytest.raises(StateError, match="switch-over"):
        pair.responder.rekey(t)
    assert pair.responder.tick(t + timedelta(seconds=10)) is None
    assert pair.responder.switch_pending and pair.responder.epoch == 1


def test_the_switch_is_forced_at_the_bound(pair: Pair) -> None:
    t = NOW + timedelta(minutes=1)
    accept = answered(pair, t)
    before = pair.responder.seal(b"before", t + GRACE - timedelta(milliseconds=1))
    assert epoch_of(before) == 0
    assert pair.responder.sending_epoch(t + GRACE) == 1
    assert pair.responder.tick(t + GRACE) is None
    assert not pair.responder.switch_pending
    after = pair.responder.seal(b"after", t + GRACE)
    assert epoch_of(after) == 1
    u = t + GRACE
    pair.initiator.receive(accept, t + timedelta(seconds=1))
    assert pair.initiator.open(before, u) == b"before"
    assert pair.initiator.open(after, u) == b"after"
    # with the switch done the responder may rekey again
    assert pair.responder.rekey(u)[0] == 0x16


def test_the_switch_is_forced_when_the_old_keys_reach_their_age_limit(
    pki: Pki, centre: Credentials, device: Credentials
) -> None:
    config = SessionConfig(rekey_interval=timedelta(minutes=15))
    pair = handshake(pki, centre, device, config=config)
    limit = NOW + timedelta(minutes=20)  # interval + 5 min slack
    t = limit - timedelta(seconds=10)
    answered(pair, t)
    assert epoch_of(pair.responder.seal(b"still", limit)) == 0
    beyond = limit + timedelta(milliseconds=1)  # well inside the grace: the age limit wins
    assert pair.responder.sending_epoch(beyond) == 1
    assert epoch_of(pair.responder.seal(b"new", beyond)) == 1
    with pytest.raises(KeyExpired):  # nor are old records opened past the limit
        pair.responder.open(pair.initiator.seal(b"old", limit), beyond)


def test_old_keys_are_refused_after_the_grace(pair: Pair) -> None:
    t = NOW + timedelta(minutes=1)
    accept = answered(pair, t)
    old_back = [pair.responder.seal(bytes([i]), t) for i in range(3)]
    old_forth = [pair.initiator.seal(bytes([i]), t) for i in range(3)]
    pair.initiator.receive(accept, t)
    # the responder: old keys live a grace after its switch-over (here: the proof at t + 30 s)
    proof_at = t + timedelta(seconds=30)
    assert pair.responder.open(pair.initiator.seal(b"new", proof_at), proof_at) == b"new"
    assert pair.responder.open(old_forth[0], proof_at + GRACE - timedelta(seconds=1)) == b"\x00"
    with pytest.raises(UnknownKey):
        pair.responder.open(old_forth[1], proof_at + GRACE)
    # the initiator, having seen nothing of epoch 1 from the responder: bound + grace
    assert pair.initiator.open(old_back[0], t + 2 * GRACE - timedelta(seconds=1)) == b"\x00"
    with pytest.raises(UnknownKey):
        pair.initiator.open(old_back[1], t + 2 * GRACE)
    pair.initiator.tick(t + 2 * GRACE)
    with pytest.raises(UnknownKey):  # the keys are gone for good
        pair.initiator.open(old_back[2], t)


def test_a_record_of_the_new_epoch_shortens_the_initiators_old_keys(pair: Pair) -> None:
    t = NOW + timedelta(minutes=1)
    pair.initiator.receive(answered(pair, t), t)
    old_back = pair.responder.seal(b"old", t)
    pair.responder.open(pair.initiator.seal(b"proof", t), t)
    first_new = t + timedelta(seconds=5)
    assert pair.initiator.open(pair.responder.seal(b"new", first_new), first_new) == b"new"
    with pytest.raises(UnknownKey):
        pair.initiator.open(old_back, first_new + GRACE)
    assert pair.initiator.open(old_back, first_new + GRACE - timedelta(seconds=1)) == b"old"


def test_without_grace_both_sides_switch_at_once(
    pki: Pki, centre: Credentials, device: Credentials
) -> None:
    pair = handshake(pki, centre, device, config=SessionConfig(grace=timedelta(0)))
    t = NOW + timedelta(minutes=1)
    old = pair.initiator.seal(b"old", t)
    answered(pair, t)
    assert not pair.responder.switch_pending
    assert epoch_of(pair.responder.seal(b"x", t)) == 1
    with pytest.raises(UnknownKey):
        pair.responder.open(old, t)


def test_crossing_rekeys_still_defer_the_answering_side(pair: Pair) -> None:
    t = NOW + timedelta(minutes=1)
    from_initiator = pair.initiator.rekey(t)
    from_responder = pair.responder.rekey(t)
    assert pair.initiator.receive(from_responder, t) == ()  # the initiator's wins
    send, _ = pair.responder.receive(from_initiator, t)
    assert isinstance(send, Send)
    assert not pair.responder.rekey_pending and pair.responder.switch_pending
    report = pair.responder.seal(b"r", t)
    assert epoch_of(report) == 0 and pair.initiator.open(report, t) == b"r"
    pair.initiator.receive(send.message, t)
    with pytest.raises(Replay):  # the crossed request, late
        pair.initiator.receive(from_responder, t)


def test_the_session_initiator_can_be_the_answering_side(pair: Pair) -> None:
    """Either side rekeys: the deferral follows who answered, not who opened the session."""
    t = NOW + timedelta(minutes=1)
    send, _ = pair.initiator.receive(pair.responder.rekey(t), t)
    assert isinstance(send, Send)
    assert pair.initiator.switch_pending and pair.responder.rekey_pending
    report = pair.initiator.seal(b"r", t)
    assert epoch_of(report) == 0 and pair.responder.open(report, t) == b"r"
    pair.responder.receive(send.message, t)
    assert pair.responder.sending_epoch(t) == 1
    pair.initiator.open(pair.responder.seal(b"proof", t), t)
    assert pair.initiator.sending_epoch(t) == 1 and not pair.initiator.switch_pending


def test_close_during_a_switch_over(pair: Pair) -> None:
    t = NOW + timedelta(minutes=1)
    answered(pair, t)
    last = pair.responder.close(t)
    assert epoch_of(last) == 0 and not pair.responder.switch_pending
    (closed,) = pair.initiator.receive(last, t)
    assert isinstance(closed, Closed) and closed.epoch == 0
    assert pair.initiator.state is State.CLOSED


# -- random interleavings ----------------------------------------------------------------------

STEP = timedelta(seconds=20)  # every message is delivered less than GRACE after it was sent


@dataclass
class Flight:
    sender: str
    message: bytes
    sent_at: datetime
    payload: bytes | None  # a record's payload; None for a handshake token


@dataclass
class Network:
    """Two sessions and the messages in flight between them, delivered in any order."""

    sides: dict[str, Session]
    now: datetime
    flying: list[Flight] = field(default_factory=list)
    delivered: list[Flight] = field(default_factory=list)
    sealed: int = 0
    opened: list[bytes] = field(default_factory=list)

    def seal(self, side: str) -> None:
        payload = f"{side}{self.sealed}".encode()
        self.sealed += 1
        record = self.sides[side].seal(payload, self.now)
        self.flying.append(Flight(side, record, self.now, payload))

    def rekey(self, side: str) -> None:
        session = self.sides[side]
        try:
            request = session.rekey(self.now)
        except StateError:
            assert session.rekey_pending or session.switch_pending
            return
        self.flying.append(Flight(side, request, self.now, None))

    def tick(self) -> None:
        for side, session in self.sides.items():
            request = session.tick(self.now)
            if request is not None:
                self.flying.append(Flight(side, request, self.now, None))

    def deliver(self, pick: int, sender: str | None = None) -> None:
        choices = [f for f in self.flying if sender is None or f.sender == sender]
        if not choices:
            return
        self.deliver_flight(choices[pick % len(choices)])

    def deliver_flight(self, flight: Flight) -> None:
        self.flying.remove(flight)
        receiver = "B" if flight.sender == "A" else "A"
        session = self.sides[receiver]
        if flight.payload is not None:
            if session.switch_pending and epoch_of(flight.message) == session.epoch:
                event("a switch-over on the first record of the new epoch")
            (data,) = session.receive(flight.message, self.now)  # never refused
            assert isinstance(data, Data) and data.payload == flight.payload
            self.opened.append(flight.payload)
        else:
            crossed = flight.sender == "B" and _is_request(flight)
            try:
                events = session.receive(flight.message, self.now)
            except Replay:
                assert crossed  # only a request that crossed the initiator's may be refused
                events = ()
            if not events:
                assert crossed
                event("crossing rekey requests")
            for item in events:
                if isinstance(item, Send):
                    self.flying.append(Flight(receiver, item.message, self.now, None))
        self.delivered.append(flight)

    def replay(self, pick: int) -> None:
        if not self.delivered:
            return
        flight = self.delivered[pick % len(self.delivered)]
        receiver = self.sides["B" if flight.sender == "A" else "A"]
        try:
            events = receiver.receive(flight.message, self.now)
        except E2EError:
            return
        assert events == (), f"a replay was accepted: {events}"

    def advance(self, pick: int) -> None:
        """Move the clock on, first delivering (in an order picked) what would otherwise wait
        a grace or more."""
        while due := [f for f in self.flying if self.now + STEP - f.sent_at >= GRACE]:
            self.deliver_flight(due[pick % len(due)])
        pending = [s for s in self.sides.values() if s.switch_pending]
        self.now += STEP
        if any(s.sending_epoch(self.now) == s.epoch for s in pending):
            event("a switch-over forced at its bound")

    def drain(self, pick: int) -> None:
        while self.flying:
            self.deliver(pick)
            pick = pick * 7 + 3


def _is_request(flight: Flight) -> bool:
    return tokens.decode_token(flight.message[1:]).tbs.kind == "request"


#: Actions and their weights: rekeys, deliveries and waits (switch-overs and retirements happen
#: as time passes) come often enough that most runs go through several epochs.
ACTIONS = (
    ("seal A",) * 3
    + ("seal B",) * 3
    + ("rekey A",) * 2
    + ("rekey B",) * 2
    + ("to B", "to A", "any") * 2
    + ("replay",)
    + ("wait",) * 3
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(ACTIONS), st.integers(min_value=0, max_value=1000)),
        min_size=10,
        max_size=80,
    )
)
def test_random_interleavings_refuse_no_genuine_record_and_accept_no_replay(
    pki: Pki, centre: Credentials, device: Credentials, ops: list[tuple[str, int]]
) -> None:
    pair = handshake(pki, centre, device)
    net = Network({"A": pair.initiator, "B": pair.responder}, NOW)
    for action, pick in ops:
        if action.startswith("seal"):
            net.seal(action[-1])
        elif action.startswith("rekey"):
            net.rekey(action[-1])
        elif action == "to B":
            net.deliver(pick, "A")
        elif action == "to A":
            net.deliver(pick, "B")
        elif action == "any":
            net.deliver(pick)
        elif action == "wait":
            net.advance(pick)
            net.tick()
        else:
            net.replay(pick)
    event(f"epochs agreed before the drain: {min(pair.initiator.epoch, 3)}")
    net.drain(len(ops))
    assert len(net.opened) == net.sealed == len(set(net.opened))
    a, b = pair.initiator, pair.responder
    assert a.epoch == b.epoch and not a.rekey_pending and not b.rekey_pending
    assert b.open(a.seal(b"end", net.now), net.now) == b"end"
    assert a.open(b.seal(b"end", net.now), net.now) == b"end"
    assert a.sending_epoch(net.now) == b.sending_epoch(net.now) == a.epoch
    for flight in net.delivered:  # nothing already delivered opens again
        net.replay(net.delivered.index(flight))
