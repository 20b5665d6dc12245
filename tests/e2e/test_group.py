"""Group keys: the KDC hands keys only to authenticated members, through their sessions."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from derlink.e2e import (
    ConfigurationError,
    Credentials,
    E2EError,
    GroupAlgorithm,
    GroupKeyServer,
    GroupMember,
    KdcUnreachable,
    KeyExpired,
    KeysInstalled,
    MalformedMessage,
    NotAMember,
    NoValidKey,
    PullDue,
    Push,
    Replay,
    Revoked,
    Session,
    Stale,
    StateError,
    Truncated,
    UnexpectedPeer,
    UnknownKey,
    WrongAssociation,
    tokens,
)
from derlink.e2e import group as group_module
from derlink.pki import Pki

from .conftest import NOW, Pair, handshake

GROUP = "feeder-12/muc"


@dataclass
class Device:
    """A DER with its e2e session to the KDC and its group member state."""

    name: str
    serial: int
    link: Pair  # initiator: the device; responder: the KDC
    member: GroupMember


def enrol(pki: Pki, kdc_creds: Credentials, name: str) -> Device:
    issued = pki.issue_e2e(name, now=NOW)
    creds = Credentials.from_issued(issued)
    link = handshake(pki, creds, kdc_creds)
    assert link.responder.peer is not None
    assert link.initiator.peer is not None
    member = GroupMember(link.responder.peer.name, GROUP, kdc=link.initiator.peer.name)
    return Device(name, issued.serial_number, link, member)


def pull(kdc: GroupKeyServer, device: Device, now: datetime) -> KeysInstalled:
    """The pull exchange, carried end to end (confidential) in the device's session."""
    request = device.link.initiator.seal(device.member.pull_request(now), now)
    opened = device.link.responder.open(request, now)
    assert device.link.responder.peer is not None
    answer = kdc.handle(device.link.responder.peer, opened, now)
    sealed = device.link.responder.seal(answer, now, confidential=True)
    assert answer[-40:] not in sealed  # the key package never travels in clear
    opened_answer = device.link.initiator.open(sealed, now)
    return device.member.install(opened_answer, now, source=device.link.initiator.peer)


def deliver(pushes: list[Push], devices: dict[str, Device], now: datetime) -> set[str]:
    """Seal each push in its member's session and install it there."""
    reached = set()
    for push in pushes:
        device = devices[push.member]
        record = device.link.responder.seal(push.message, now, confidential=True)
        opened = device.link.initiator.open(record, now)
        device.member.install(opened, now, source=device.link.initiator.peer)
        reached.add(push.member)
    return reached


@pytest.fixture(scope="module")
def kdc_creds(pki: Pki) -> Credentials:
    return Credentials.from_issued(pki.issue_e2e("kdc", now=NOW))


@pytest.fixture
def world(pki: Pki, kdc_creds: Credentials) -> tuple[GroupKeyServer, dict[str, Device]]:
    kdc = GroupKeyServer()
    devices = [enrol(pki, kdc_creds, n) for n in ("der-a", "der-b", "der-c")]
    kdc.create_group(GROUP, NOW, members=[d.member.name for d in devices])
    for device in devices:
        pull(kdc, device, NOW)
    return kdc, {d.member.name: d for d in devices}


def test_members_pull_and_talk(world: tuple[GroupKeyServer, dict[str, Device]]) -> None:
    kdc, devices = world
    a, b, c = devices.values()
    current, future = kdc.keys(GROUP)
    assert a.member.key_ids == (current.key_id, future.key_id)
    assert future.activation == current.activation + timedelta(hours=1)
    message = a.member.seal(b"<operate/>", NOW)
    assert b"<operate/>" in message  # HMAC-SHA256-128: integrity only
    got = b.member.open(message, NOW)
    assert (got.sender, got.payload, got.key_id) == (a.member.name, b"<operate/>", current.key_id)
    assert not got.confidential
    assert c.member.open(message, NOW).payload == b"<operate/>"


def test_aes_gcm_groups_are_confidential(pki: Pki, kdc_creds: Credentials) -> None:
    kdc = GroupKeyServer()
    a, b = enrol(pki, kdc_creds, "gcm-a"), enrol(pki, kdc_creds, "gcm-b")
    kdc.create_group(
        GROUP, NOW, algorithm=GroupAlgorithm.AES_128_GCM, members=[a.member.name, b.member.name]
    )
    pull(kdc, a, NOW)
    pull(kdc, b, NOW)
    message = a.member.seal(b"<secret-setpoint/>", NOW)
    assert b"secret-setpoint" not in message
    got = b.member.open(message, NOW)
    assert got.payload == b"<secret-setpoint/>" and got.confidential


def test_a_non_member_gets_no_key(
    world: tuple[GroupKeyServer, dict[str, Device]], pki: Pki, kdc_creds: Credentials
) -> None:
    kdc, devices = world
    outsider = enrol(pki, kdc_creds, "outsider")
    before = kdc.keys(GROUP)
    with pytest.raises(NotAMember):
        pull(kdc, outsider, NOW)
    assert kdc.keys(GROUP) == before and outsider.member.key_ids == ()
    with pytest.raises(StateError):
        outsider.member.seal(b"x", NOW)
    with pytest.raises(UnknownKey):
        outsider.member.open(next(iter(devices.values())).member.seal(b"x", NOW), NOW)
    with pytest.raises(NotAMember):
        outsider.member.install(
            group_module.refusal(GROUP, "not a member"), NOW, source=outsider.link.initiator.peer
        )


def test_a_removed_member_can_neither_read_nor_forge(
    world: tuple[GroupKeyServer, dict[str, Device]],
) -> None:
    kdc, devices = world
    a, b, c = devices.values()
    old_current, old_future = kdc.keys(GROUP)
    t = NOW + timedelta(minutes=5)
    pushes = kdc.remove_member(GROUP, c.member.name, t)
    assert {p.member for p in pushes} == {a.member.name, b.member.name}
    deliver(pushes, devices, t)
    new_ids = {k.key_id for k in kdc.keys(GROUP)}
    assert not new_ids & {old_current.key_id, old_future.key_id}  # both dropped at once
    # c cannot read later commands ...
    with pytest.raises(UnknownKey):
        c.member.open(a.member.seal(b"<later/>", t), t)
    # ... nor forge them with the keys it still holds (current or future)
    forged = c.member.seal(b"<forged/>", t)
    with pytest.raises(UnknownKey):
        b.member.open(forged, t)
    assert b.member.open(a.member.seal(b"<later/>", t), t).payload == b"<later/>"
    # and it cannot pull the new keys
    with pytest.raises(NotAMember):
        pull(kdc, c, t)


def test_revocation_rolls_every_group_over(
    world: tuple[GroupKeyServer, dict[str, Device]], pki: Pki, kdc_creds: Credentials
) -> None:
    kdc, devices = world
    a, b, c = devices.values()
    kdc.create_group("other", NOW, members=[b.member.name, c.member.name])
    t = NOW + timedelta(minutes=1)
    pki.revoke(c.serial, now=NOW)  # the shared PKI: a CRL from the future breaks others
    pushes = kdc.revoke(c.member.name, t)
    assert {(p.group_id, p.member) for p in pushes} == {
        (GROUP, a.member.name),
        (GROUP, b.member.name),
        ("other", b.member.name),
    }
    assert c.member.name not in kdc.members(GROUP) | kdc.members("other")
    # and c can no longer open a session to the KDC at all
    with pytest.raises(Revoked):
        handshake(pki, c.link.initiator._credentials, kdc_creds, now=t)


def test_future_key_activation_and_push(
    world: tuple[GroupKeyServer, dict[str, Device]],
) -> None:
    kdc, devices = world
    a, b, _ = devices.values()
    current, future = kdc.keys(GROUP)
    before = a.member.seal(b"before", NOW + timedelta(minutes=59))
    assert kdc.tick(NOW + timedelta(minutes=59)) == []
    t = future.activation
    pushes = kdc.tick(t)
    assert len(pushes) == 3 and deliver(pushes, devices, t) == set(devices)
    new_current, new_future = kdc.keys(GROUP)
    assert new_current == future and new_future.activation == t + timedelta(hours=1)
    message = a.member.seal(b"after", t)
    assert b.member.open(message, t).key_id == future.key_id
    # the previous key still opens during the overlap (30 s), then it is gone
    assert b.member.open(before, t + timedelta(seconds=10)).payload == b"before"
    late = a.member.seal(b"x", NOW + timedelta(minutes=59, seconds=1))
    assert a.member.key_ids == (current.key_id, future.key_id, new_future.key_id)
    with pytest.raises(KeyExpired):
        b.member.open(late, t + timedelta(seconds=40))
    b.member.tick(t + timedelta(seconds=40))  # drops the expired key
    with pytest.raises(UnknownKey):
        b.member.open(late, t + timedelta(seconds=40))


def test_kdc_unreachable_keeps_the_key_and_warns(
    world: tuple[GroupKeyServer, dict[str, Device]],
) -> None:
    kdc, devices = world
    a, b, _ = devices.values()
    _, future = kdc.keys(GROUP)
    assert a.member.tick(NOW) == ()
    # the future key activated but a missed the push (KDC unreachable): a pull is due
    t = future.activation + timedelta(minutes=1)
    (due,) = a.member.tick(t)
    assert isinstance(due, PullDue) and due.valid_until == future.expiry
    warning = a.member.kdc_unreachable(t)
    assert isinstance(warning, KdcUnreachable)
    assert warning.key_id == future.key_id and warning.valid_until == future.expiry
    # the key is kept and used until its lifetime ends
    near_end = future.expiry - timedelta(seconds=1)
    assert b.member.open(a.member.seal(b"still", near_end), near_end).payload == b"still"
    with pytest.raises(KeyExpired):
        a.member.seal(b"too late", future.expiry)
    assert a.member.tick(future.expiry) == (NoValidKey(GROUP), PullDue(GROUP, None))
    assert a.member.kdc_unreachable(future.expiry) == KdcUnreachable(GROUP, None, None)
    # once the KDC is back, a pull restores service (the KDC catches up on its schedule)
    back = future.expiry + timedelta(minutes=1)
    send, _ = a.link.responder.receive(a.link.initiator.rekey(back), back)  # session keys too
    a.link.initiator.receive(send.message, back)  # type: ignore[union-attr]
    installed = pull(kdc, a, back)
    assert installed.key_ids and a.member.seal(b"back", back)


def test_group_message_attacks(world: tuple[GroupKeyServer, dict[str, Device]]) -> None:
    _, devices = world
    a, b, c = devices.values()
    message = a.member.seal(b"<cmd/>", NOW)
    assert b.member.open(message, NOW).sequence == 0
    with pytest.raises(Replay):
        b.member.open(message, NOW)
    assert c.member.open(message, NOW).payload == b"<cmd/>"  # c has its own state
    for index in range(len(message)):
        changed = bytearray(message)
        changed[index] ^= 0x01
        with pytest.raises(E2EError):
            c.member.open(bytes(changed), NOW)
    with pytest.raises(Truncated):
        b.member.open(message[:-1], NOW)
    with pytest.raises(MalformedMessage):
        b.member.open(message + b"\0", NOW)
    later = a.member.seal(b"<cmd/>", NOW + timedelta(minutes=11))
    with pytest.raises(Stale):
        b.member.open(later, NOW)
    other = GroupMember(a.member.name, "another-room")
    with pytest.raises(WrongAssociation):
        other.open(message, NOW)
    # sequence windows are per sender
    from_b = b.member.seal(b"b0", NOW)
    assert c.member.open(from_b, NOW).sequence == 0


def test_key_packages_are_checked(world: tuple[GroupKeyServer, dict[str, Device]]) -> None:
    kdc, devices = world
    a = next(iter(devices.values()))
    old = kdc.handle(a.link.responder.peer, a.member.pull_request(NOW), NOW)  # type: ignore[arg-type]
    newer = kdc.handle(
        a.link.responder.peer,  # type: ignore[arg-type]
        a.member.pull_request(NOW + timedelta(minutes=1)),
        NOW + timedelta(minutes=1),
    )
    source = a.link.initiator.peer  # the KDC
    a.member.install(newer, NOW + timedelta(minutes=1), source=source)
    with pytest.raises(Replay):
        a.member.install(old, NOW + timedelta(minutes=1), source=source)
    with pytest.raises(Stale):
        a.member.install(newer, NOW + timedelta(minutes=12), source=source)
    with pytest.raises(WrongAssociation):
        GroupMember(a.member.name, "elsewhere").install(newer, NOW)
    with pytest.raises(MalformedMessage):
        a.member.install(a.member.pull_request(NOW), NOW, source=source)
    with pytest.raises(MalformedMessage):
        kdc.handle(a.link.responder.peer, newer, NOW)  # type: ignore[arg-type]
    with pytest.raises(Stale):
        kdc.handle(a.link.responder.peer, a.member.pull_request(NOW), NOW + timedelta(hours=1))  # type: ignore[arg-type]


def test_group_configuration_errors() -> None:
    kdc = GroupKeyServer()
    with pytest.raises(ConfigurationError):
        kdc.create_group("", NOW)
    with pytest.raises(ConfigurationError):
        kdc.create_group("g", NOW, lifetime=timedelta(seconds=30))
    with pytest.raises(ConfigurationError):
        kdc.create_group("g", NOW, lifetime=timedelta(hours=49))
    with pytest.raises(ConfigurationError):
        kdc.create_group("g", NOW, overlap=timedelta(hours=1))
    kdc.create_group("g", NOW)
    with pytest.raises(ConfigurationError):
        kdc.create_group("g", NOW)
    with pytest.raises(ConfigurationError):
        kdc.add_member("nope", "x", NOW)
    with pytest.raises(NotAMember):
        kdc.remove_member("g", "CN=nobody", NOW)
    with pytest.raises(ConfigurationError):
        GroupMember("m", "g", window=0)


def test_a_long_sleeping_kdc_starts_over() -> None:
    kdc = GroupKeyServer()
    kdc.create_group("g", NOW, members=["m"])
    much_later = NOW + timedelta(days=3)
    (push,) = kdc.tick(much_later)
    current, future = kdc.keys("g")
    assert current.activation == much_later and future.activation > much_later
    member = GroupMember("m", "g")
    member.install(push.message, much_later)
    assert member.seal(b"x", much_later)


@given(st.binary(max_size=200))
def test_parsing_random_group_messages_never_crashes(data: bytes) -> None:
    member = GroupMember("m", "g")
    with pytest.raises(E2EError):
        member.open(data, NOW)


@given(st.binary(max_size=300))
def test_decoding_random_kdc_messages_never_crashes(data: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        tokens.decode("KdcMessage", data)


def test_session_to_kdc_is_required_for_pull(
    world: tuple[GroupKeyServer, dict[str, Device]], pki: Pki, kdc_creds: Credentials
) -> None:
    """The KDC answers a peer identity, which only an established session provides."""
    session = Session.responder(kdc_creds, next(iter(world[1].values())).link.responder._verifier)
    assert session.peer is None


def test_packages_only_from_the_kdc(world: tuple[GroupKeyServer, dict[str, Device]]) -> None:
    kdc, devices = world
    a, b, _ = devices.values()
    package = kdc.handle(a.link.responder.peer, a.member.pull_request(NOW), NOW)  # type: ignore[arg-type]
    with pytest.raises(UnexpectedPeer):
        a.member.install(package, NOW)  # no authenticated source
    with pytest.raises(UnexpectedPeer):
        a.member.install(package, NOW, source=b.link.responder.peer)  # device b
    with pytest.raises(UnexpectedPeer):
        a.member.install(package, NOW, source=a.link.responder.peer)  # a itself
    assert a.member.install(package, NOW, source=a.link.initiator.peer).key_ids
