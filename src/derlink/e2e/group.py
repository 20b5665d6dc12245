"""Group keys for multicast (an XMPP MUC room), modelled on IEC 62351-9's use of GDOI.

:class:`GroupKeyServer` is the key distribution centre (KDC) of the control plane. It keeps,
per group, the members (by the subject of their end-to-end certificate), a *current* and a
*future* key, each with an activation time and a lifetime. Members **pull** keys with a request
carried inside their end-to-end session with the KDC (so the KDC knows who asks: the session
authenticated the peer's certificate, revocation included), and the KDC **pushes** the next
key to every member when it creates one. Key packages (:mod:`derlink.e2e.tokens`,
``GroupKeyPackage``) never travel in clear: the caller seals them confidential in the member's
session, so the XMPP server never sees a group key. When a member leaves or is revoked the
group **rolls over**: the current and future keys are dropped at once and fresh ones pushed to
the remaining members, so a removed device can neither read nor forge later group messages.

:class:`GroupMember` holds the keys of one group and seals and opens group messages with
HMAC-SHA256-128 (group authentication, the 62351-6 default) or AES-GCM (also confidential),
refusing replays per sender (sequence window) and stale times (±10 min). A member that cannot
reach the KDC keeps its keys until their lifetime ends and reports :class:`KdcUnreachable`.

Group authentication is not source authentication: any member holding the key can claim any
sender name. Commands that must name their author travel over a pairwise session.

Group message layout (big-endian)::

    0x18 | version 1 | flags (bit 0: encrypted) | g (1 byte) | group id (g bytes, UTF-8)
    | s (1 byte) | sender (s bytes, UTF-8) | key id (4) | time ms (8) | sequence (8)
    | nonce (12, random; zero for HMAC) | payload length n (4) | payload (n) | tag (16)

Everything before the tag is authenticated; the tag is HMAC-SHA256 truncated to 128 bits, or
the AES-GCM tag (the payload then being ciphertext).
"""

from __future__ import annotations

import enum
import hmac
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from derlink.e2e import records, tokens
from derlink.e2e.errors import (
    ConfigurationError,
    KeyExpired,
    MalformedMessage,
    NotAMember,
    Replay,
    Stale,
    StateError,
    Tampered,
    Truncated,
    UnexpectedPeer,
    UnknownKey,
    WrongAssociation,
)
from derlink.e2e.identity import PeerIdentity
from derlink.e2e.window import ReplayWindow

TIME_WINDOW = timedelta(minutes=10)
MIN_LIFETIME = timedelta(minutes=1)
MAX_LIFETIME = timedelta(hours=48)
MAX_GROUP_ID = 64
MAX_SENDER = 255
GROUP_VERSION = 1
TAG_SIZE = 16
_FIXED = struct.Struct(">IQQ12sI")  # key id, time, sequence, nonce, payload length


class GroupAlgorithm(enum.Enum):
    """How group messages are protected."""

    HMAC_SHA256_128 = "hmac-sha256-128"
    AES_128_GCM = "aes-128-gcm"
    AES_256_GCM = "aes-256-gcm"

    @property
    def oid(self) -> str:
        return _ALGORITHM_OIDS[self]

    @property
    def key_size(self) -> int:
        return 16 if self is GroupAlgorithm.AES_128_GCM else 32

    @property
    def confidential(self) -> bool:
        return self is not GroupAlgorithm.HMAC_SHA256_128


_ALGORITHM_OIDS = {
    GroupAlgorithm.HMAC_SHA256_128: tokens.OID_HMAC_SHA256,
    GroupAlgorithm.AES_128_GCM: tokens.OID_AES128_GCM,
    GroupAlgorithm.AES_256_GCM: tokens.OID_AES256_GCM,
}
_BY_OID = {oid: algorithm for algorithm, oid in _ALGORITHM_OIDS.items()}


@dataclass(frozen=True, slots=True)
class GroupKey:
    """One group key: usable for sending from ``activation``, accepted until ``expiry``."""

    key_id: int
    key: bytes = field(repr=False)
    activation: datetime
    expiry: datetime


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Push:
    """A key package for one member: seal it confidential in that member's session."""

    member: str
    group_id: str
    message: bytes


@dataclass(frozen=True, slots=True)
class KeysInstalled:
    group_id: str
    key_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PullDue:
    """The member holds no future key: it should pull from the KDC now."""

    group_id: str
    valid_until: datetime | None


@dataclass(frozen=True, slots=True)
class KdcUnreachable:
    """Warning: the KDC could not be reached; the keys held stay in use until ``valid_until``."""

    group_id: str
    key_id: int | None
    valid_until: datetime | None


@dataclass(frozen=True, slots=True)
class NoValidKey:
    """Every key held has expired: the member can neither send nor receive until it pulls."""

    group_id: str


GroupEvent = KeysInstalled | PullDue | KdcUnreachable | NoValidKey


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """An accepted group message."""

    group_id: str
    sender: str
    payload: bytes
    key_id: int
    sequence: int
    time: datetime
    confidential: bool


# -- key server ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    group_id: str
    algorithm: GroupAlgorithm
    lifetime: timedelta
    overlap: timedelta
    members: set[str]
    current: GroupKey
    future: GroupKey
    next_key_id: int
    previous: GroupKey | None = None  # the key just replaced on schedule, during its overlap


class GroupKeyServer:
    """The key distribution centre (sans-IO): groups, members, keys, pull, push, rollover."""

    def __init__(self) -> None:
        self._groups: dict[str, _Group] = {}
        self._outbox: list[Push] = []

    def create_group(
        self,
        group_id: str,
        now: datetime,
        *,
        algorithm: GroupAlgorithm = GroupAlgorithm.HMAC_SHA256_128,
        lifetime: timedelta = timedelta(hours=1),
        overlap: timedelta = timedelta(seconds=30),
        members: Iterable[str] = (),
    ) -> None:
        """A new group with fresh current and future keys."""
        _check_group_id(group_id)
        if group_id in self._groups:
            raise ConfigurationError(f"the group {group_id!r} already exists")
        if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
            raise ConfigurationError("a group key lifetime must be 1 min to 48 h")
        if not timedelta(0) <= overlap <= lifetime / 2:
            raise ConfigurationError("the key overlap must be 0 to half the lifetime")
        names = {_check_member(m) for m in members}
        group = _Group(
            group_id,
            algorithm,
            lifetime,
            overlap,
            names,
            *_fresh_pair(algorithm, lifetime, overlap, now, 1),
        )
        self._groups[group_id] = group

    def groups(self) -> tuple[str, ...]:
        return tuple(self._groups)

    def members(self, group_id: str) -> frozenset[str]:
        return frozenset(self._group(group_id).members)

    def keys(self, group_id: str) -> tuple[GroupKey, GroupKey]:
        """The current and future keys (for inspection and tests)."""
        group = self._group(group_id)
        return group.current, group.future

    def add_member(self, group_id: str, member: str, now: datetime) -> list[Push]:
        """Admit ``member`` (an end-to-end certificate subject) and push it the keys."""
        group = self._group(group_id)
        name = _check_member(member)
        self._advance(group, now)
        group.members.add(name)
        return [Push(name, group_id, self._package(group, now))]

    def remove_member(self, group_id: str, member: str, now: datetime) -> list[Push]:
        """Remove ``member`` and roll the group over: both keys dropped at once, fresh keys
        pushed to the remaining members (the removed one gets nothing)."""
        group = self._group(group_id)
        if member not in group.members:
            raise NotAMember(f"{member} is not a member of {group_id!r}")
        group.members.discard(member)
        return self._rollover(group, now)

    def revoke(self, member: str, now: datetime) -> list[Push]:
        """``member``'s certificate was revoked: remove it from every group it is in."""
        pushes: list[Push] = []
        for group in self._groups.values():
            if member in group.members:
                group.members.discard(member)
                pushes.extend(self._rollover(group, now))
        return pushes

    def rollover(self, group_id: str, now: datetime) -> list[Push]:
        """Replace both keys at once (on demand) and push them to every member."""
        return self._rollover(self._group(group_id), now)

    def tick(self, now: datetime) -> list[Push]:
        """Advance the key schedule: when the future key activates it becomes current, a new
        future key is made, and the pair is pushed to every member. Also returns the pushes
        of schedule steps taken while answering pulls since the last tick."""
        for group in self._groups.values():
            self._advance(group, now)
        pushes, self._outbox = self._outbox, []
        return pushes

    def _advance(self, group: _Group, now: datetime) -> None:
        if now < group.future.activation:
            return
        if now >= group.future.activation + group.lifetime:  # asleep for ages: start over
            group.current, group.future, group.next_key_id = _fresh_pair(
                group.algorithm, group.lifetime, group.overlap, now, group.next_key_id
            )
            group.previous = None
        else:
            group.previous = group.current
            group.current = group.future
            activation = group.current.activation + group.lifetime
            group.future = _new_key(
                group.algorithm, group.next_key_id, activation, group.lifetime, group.overlap
            )
            group.next_key_id += 1
        self._outbox.extend(self._push_all(group, now))

    def handle(self, peer: PeerIdentity, message: bytes, now: datetime) -> bytes:
        """Answer a pull that arrived in ``peer``'s end-to-end session with the key package
        (seal the answer confidential in that session). A non-member gets :class:`NotAMember`
        (answer it with :func:`refusal` if wanted); nothing changes."""
        kind, value = tokens.decode("KdcMessage", message)
        if kind != "pull":
            raise MalformedMessage(f"the key server expects a pull, got a {kind}")
        _check_time(tokens.from_millis(value["time"]), now, "pull")
        group = self._groups.get(value["groupId"])
        if group is None or peer.name not in group.members:
            raise NotAMember(f"{peer.name} is not a member of group {value['groupId']!r}")
        self._advance(group, now)
        return self._package(group, now)

    def _group(self, group_id: str) -> _Group:
        group = self._groups.get(group_id)
        if group is None:
            raise ConfigurationError(f"no group {group_id!r}")
        return group

    def _rollover(self, group: _Group, now: datetime) -> list[Push]:
        group.current, group.future, group.next_key_id = _fresh_pair(
            group.algorithm, group.lifetime, group.overlap, now, group.next_key_id
        )
        group.previous = None  # dropped at once, no overlap
        return self._push_all(group, now)

    def _push_all(self, group: _Group, now: datetime) -> list[Push]:
        package = self._package(group, now)
        return [Push(member, group.group_id, package) for member in sorted(group.members)]

    @staticmethod
    def _package(group: _Group, now: datetime) -> bytes:
        keys = [k for k in (group.previous, group.current, group.future) if k is not None]
        value = {
            "version": GROUP_VERSION,
            "groupId": group.group_id,
            "time": tokens.to_millis(now),
            "algorithm": group.algorithm.oid,
            "keys": [_key_value(k, now) for k in keys if k.expiry > now],
        }
        return tokens.encode("KdcMessage", ("package", value))


def refusal(group_id: str, reason: str) -> bytes:
    """A GroupKeyRefusal to send back (inside the session) to a refused pull."""
    value = {"groupId": group_id[:MAX_GROUP_ID] or "?", "reason": reason[:200] or "refused"}
    return tokens.encode("KdcMessage", ("refusal", value))


def _key_value(key: GroupKey, now: datetime) -> dict[str, Any]:
    remaining = max(0, int((key.expiry - now).total_seconds()))
    return {
        "keyId": key.key_id,
        "key": key.key,
        "activationTime": tokens.to_millis(key.activation),
        "remainingLifetime": remaining,
    }


def _new_key(
    algorithm: GroupAlgorithm,
    key_id: int,
    activation: datetime,
    lifetime: timedelta,
    overlap: timedelta,
) -> GroupKey:
    return GroupKey(
        key_id & 0xFFFFFFFF,
        os.urandom(algorithm.key_size),
        activation,
        activation + lifetime + overlap,
    )


def _fresh_pair(
    algorithm: GroupAlgorithm,
    lifetime: timedelta,
    overlap: timedelta,
    now: datetime,
    next_id: int,
) -> tuple[GroupKey, GroupKey, int]:
    current = _new_key(algorithm, next_id, now, lifetime, overlap)
    future = _new_key(algorithm, next_id + 1, now + lifetime, lifetime, overlap)
    return current, future, next_id + 2


def _check_group_id(group_id: str) -> str:
    if not 1 <= len(group_id.encode()) <= MAX_GROUP_ID or not group_id.isprintable():
        raise ConfigurationError(f"a group id is 1 to {MAX_GROUP_ID} printable bytes")
    return group_id


def _check_member(member: str) -> str:
    if not 1 <= len(member.encode()) <= MAX_SENDER:
        raise ConfigurationError(f"a member name is 1 to {MAX_SENDER} bytes")
    return member


def _check_time(moment: datetime, now: datetime, what: str) -> None:
    if abs(moment - now) > TIME_WINDOW:
        raise Stale(f"the {what} time {moment.isoformat()} is more than 10 min from this clock")


# -- member ------------------------------------------------------------------------------------


class GroupMember:
    """One member's view of one group: its keys, sealing, opening and anti-replay.

    ``name`` is this member's identity as the KDC knows it (its end-to-end certificate
    subject); ``kdc``, when given, is the KDC's, and :meth:`install` then accepts packages only
    from a session whose authenticated peer it is.
    """

    def __init__(
        self, name: str, group_id: str, *, kdc: str | None = None, window: int = 64
    ) -> None:
        self.name = _check_member(name)
        self.group_id = _check_group_id(group_id)
        self.kdc = kdc
        self.algorithm: GroupAlgorithm | None = None
        self._window_size = window
        ReplayWindow(window)  # validates the size
        self._keys: dict[int, GroupKey] = {}
        self._package_time: datetime | None = None
        self._windows: dict[tuple[str, int], ReplayWindow] = {}
        self._next_sequence: dict[int, int] = {}

    @property
    def key_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._keys))

    def pull_request(self, now: datetime) -> bytes:
        """A pull for this group: seal it in the session with the KDC."""
        value = {"version": GROUP_VERSION, "groupId": self.group_id, "time": tokens.to_millis(now)}
        return tokens.encode("KdcMessage", ("pull", value))

    def install(
        self, message: bytes, now: datetime, *, source: PeerIdentity | None = None
    ) -> KeysInstalled:
        """Install a key package (pull answer or push) opened from the KDC's session, whose
        authenticated peer is ``source``.

        The package replaces every key held: a key the KDC dropped is gone here too. A refusal
        raises :class:`NotAMember`; an older package than the one installed, :class:`Replay`;
        a package from a peer that is not the configured KDC, :class:`UnexpectedPeer`.
        """
        if self.kdc is not None and (source is None or source.name != self.kdc):
            raise UnexpectedPeer("a key package from a session that is not the KDC's")
        kind, value = tokens.decode("KdcMessage", message)
        if kind == "refusal":
            raise NotAMember(f"the key server refused: {value['reason']}")
        if kind != "package":
            raise MalformedMessage(f"expected a key package, got a {kind}")
        if value["groupId"] != self.group_id:
            raise WrongAssociation(f"a key package for group {value['groupId']!r}")
        issued = tokens.from_millis(value["time"])
        _check_time(issued, now, "key package")
        if self._package_time is not None and issued < self._package_time:
            raise Replay("this key package is older than the one installed")
        algorithm = _BY_OID.get(value["algorithm"])
        if algorithm is None:
            raise MalformedMessage(f"unknown group algorithm {value['algorithm']}")
        keys: dict[int, GroupKey] = {}
        for entry in value["keys"]:
            key = bytes(entry["key"])
            if len(key) != algorithm.key_size:
                raise MalformedMessage(f"a {algorithm.value} key of {len(key)} bytes")
            expiry = issued + timedelta(seconds=entry["remainingLifetime"])
            activation = tokens.from_millis(entry["activationTime"])
            keys[entry["keyId"]] = GroupKey(entry["keyId"], key, activation, expiry)
        self.algorithm = algorithm
        self._keys = keys
        self._package_time = issued
        self._windows = {k: w for k, w in self._windows.items() if k[1] in keys}
        self._next_sequence = {k: s for k, s in self._next_sequence.items() if k in keys}
        return KeysInstalled(self.group_id, tuple(sorted(keys)))

    def tick(self, now: datetime) -> tuple[GroupEvent, ...]:
        """Drop expired keys; say when a pull is due (no future key) or no key is left."""
        self._keys = {i: k for i, k in self._keys.items() if k.expiry > now}
        if not self._keys:
            return (NoValidKey(self.group_id), PullDue(self.group_id, None))
        if not any(k.activation > now for k in self._keys.values()):
            return (PullDue(self.group_id, max(k.expiry for k in self._keys.values())),)
        return ()

    def kdc_unreachable(self, now: datetime) -> KdcUnreachable:
        """The pull failed (KDC unreachable): keep the keys, and say until when they last."""
        valid = [k for k in self._keys.values() if k.expiry > now]
        if not valid:
            return KdcUnreachable(self.group_id, None, None)
        active = [k for k in valid if k.activation <= now]
        newest = max(active or valid, key=lambda k: k.activation)  # the key in use
        return KdcUnreachable(self.group_id, newest.key_id, max(k.expiry for k in valid))

    def seal(self, payload: bytes, now: datetime) -> bytes:
        """A group message from this member under the newest active key."""
        key = self._sending_key(now)
        assert self.algorithm is not None
        sequence = self._next_sequence.get(key.key_id, 0)
        confidential = self.algorithm.confidential
        nonce = os.urandom(12) if confidential else bytes(12)
        head = _head(self.group_id, self.name, confidential) + _FIXED.pack(
            key.key_id, tokens.to_millis(now), sequence, nonce, len(payload)
        )
        if confidential:
            body = AESGCM(key.key).encrypt(nonce, payload, head)
        else:
            body = payload + _hmac_tag(key.key, head + payload)
        self._next_sequence[key.key_id] = sequence + 1
        return head + body

    def open(self, message: bytes, now: datetime) -> GroupMessage:
        """The accepted message, or a typed refusal (no state changes on refusal)."""
        parsed = _parse(message)
        if parsed.group_id != self.group_id:
            raise WrongAssociation(f"a message for group {parsed.group_id!r}")
        key = self._keys.get(parsed.key_id)
        if key is None:
            raise UnknownKey(f"group key {parsed.key_id} is not held (dropped or never given)")
        if now >= key.expiry:
            raise KeyExpired(f"group key {parsed.key_id} expired")
        assert self.algorithm is not None
        if parsed.confidential != self.algorithm.confidential:
            raise Tampered("the message's protection is not the group's")
        if parsed.confidential:
            try:
                payload = AESGCM(key.key).decrypt(
                    parsed.nonce, parsed.body + parsed.tag, parsed.head
                )
            except InvalidTag:
                raise Tampered("the group message's tag does not verify") from None
        else:
            expected = _hmac_tag(key.key, parsed.head + parsed.body)
            if not hmac.compare_digest(expected, parsed.tag):
                raise Tampered("the group message's tag does not verify")
            payload = parsed.body
        moment = tokens.from_millis(parsed.time_ms)
        _check_time(moment, now, "group message")
        slot = (parsed.sender, parsed.key_id)
        window = self._windows.get(slot) or ReplayWindow(self._window_size)
        window.check(parsed.sequence)
        window.accept(parsed.sequence)
        self._windows[slot] = window
        return GroupMessage(
            parsed.group_id,
            parsed.sender,
            payload,
            parsed.key_id,
            parsed.sequence,
            moment,
            parsed.confidential,
        )

    def _sending_key(self, now: datetime) -> GroupKey:
        if not self._keys:
            raise StateError(f"no key for group {self.group_id!r}: pull one from the KDC")
        active = [k for k in self._keys.values() if k.activation <= now < k.expiry]
        if not active:
            raise KeyExpired(f"no active key for group {self.group_id!r}: pull from the KDC")
        return max(active, key=lambda k: k.activation)


@dataclass(frozen=True, slots=True)
class _Parsed:
    group_id: str
    sender: str
    confidential: bool
    key_id: int
    time_ms: int
    sequence: int
    nonce: bytes
    head: bytes
    body: bytes
    tag: bytes


def _head(group_id: str, sender: str, confidential: bool) -> bytes:
    gid, who = group_id.encode(), sender.encode()
    flags = 1 if confidential else 0
    return (
        bytes([records.CONTENT_GROUP, GROUP_VERSION, flags, len(gid)])
        + gid
        + bytes([len(who)])
        + who
    )


def _hmac_tag(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, sha256).digest()[:TAG_SIZE]


def _parse(message: bytes) -> _Parsed:
    if len(message) < 5:
        raise Truncated("group message shorter than its header")
    kind, version, flags, glen = message[0], message[1], message[2], message[3]
    if kind != records.CONTENT_GROUP or version != GROUP_VERSION or flags & ~1:
        raise MalformedMessage("not a version 1 group message")
    offset = 4
    gid = message[offset : offset + glen]
    offset += glen
    if len(message) < offset + 1:
        raise Truncated("group message cut in its header")
    slen = message[offset]
    offset += 1
    who = message[offset : offset + slen]
    offset += slen
    if len(message) < offset + _FIXED.size:
        raise Truncated("group message cut in its header")
    key_id, time_ms, sequence, nonce, length = _FIXED.unpack_from(message, offset)
    offset += _FIXED.size
    end = offset + length + TAG_SIZE
    if len(message) < end:
        raise Truncated(f"group message of {len(message)} bytes, its header says {end}")
    if len(message) > end:
        raise MalformedMessage("group message with trailing data")
    try:
        group_id, sender = gid.decode(), who.decode()
    except UnicodeDecodeError:
        raise MalformedMessage("group id or sender is not UTF-8") from None
    if not group_id or not sender:
        raise MalformedMessage("group message without group id or sender")
    return _Parsed(
        group_id,
        sender,
        bool(flags & 1),
        key_id,
        time_ms,
        sequence,
        nonce,
        message[:offset],
        message[offset : offset + length],
        message[offset + length :],
    )
