"""The end-to-end session state machine (sans-IO), modelled on IEC 62351-4's E2E security.

Handshake: the initiator sends a HandshakeReq, the responder answers with a HandshakeAcc.
Each is a DER token (:mod:`derlink.e2e.tokens`) signed with the sender's end-to-end key and
carrying its certificate path, the association id, the time, a fresh ephemeral ECDH P-256
key, the HKDF hash and the AEAD (offered by the request, chosen by the accept, which also holds
the hash of the request). Each side verifies the other's path through a :class:`Verifier`
(derlink.pki, revocation included), the signature, and the time (±10 min).

Keys: ``salt = SHA-256(chain ‖ SHA-256(req) ‖ SHA-256(acc))`` where ``chain`` is the previous
epoch's salt (32 zero bytes at first), so every rekey is bound to the whole history;
``HKDF-SHA256(ECDH secret, salt, info = label ‖ association id ‖ epoch ‖ AEAD)`` gives the
initiator→responder and responder→initiator AES-GCM keys and nonce bases (RFC 5869).

Records (:mod:`derlink.e2e.records`) carry association id, epoch, time, sequence number and
nonce as authenticated data; the receiver refuses another association, a stale time, a replay,
a sequence number older than the window, a cut record and a bad tag, and its state changes
only when a record is accepted. Rekey is a new signed handshake on the same association (fresh
ECDH keys, the peer's certificate checked again, revocation included), on demand
(:meth:`Session.rekey`) or on schedule (:meth:`Session.tick`, every 15 min to 24 h).

Switch-over (as TLS 1.3 KeyUpdate and IPsec rekeying do it): the transport may deliver a record
the answering side seals right after its HandshakeAcc before the requester has processed that
accept (over XMPP an iq result is not ordered against a later message). So the side that
answers a rekey receives under both epochs at once but keeps *sending* under the old one until
it opens a record of the new epoch from the requester (proof the requester installed the new
keys), a newer rekey request from it (the same proof), or ``grace`` has passed since it
answered, or the old keys reach their age limit (interval + slack) — whichever comes first.
The requester switches as soon as it has processed the accept. Old receive keys are kept for
``grace`` after the peer's switch could have happened: ``2 × grace`` after the handshake,
shortened to ``grace`` after the first record of the new epoch from the peer; never past their
age limit. With ``grace`` zero both sides switch at once and keep nothing (no overlap).
While its switch-over is pending the answering side starts no rekey of its own
(:class:`StateError`; the scheduled one waits); the requester may rekey again at once, its
request completing the answerer's switch-over first. The first handshake has no old keys: both
sides send under epoch 0 as soon as they are established.
"""

from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from derlink.e2e import records, tokens
from derlink.e2e.errors import (
    BadSignature,
    ConfigurationError,
    KeyExpired,
    MalformedMessage,
    Replay,
    Stale,
    StateError,
    Tampered,
    Truncated,
    UnexpectedPeer,
    UnknownKey,
    Unsupported,
    UntrustedCertificate,
    WrongAssociation,
)
from derlink.e2e.identity import Credentials, PeerIdentity, Verifier, peer_identity
from derlink.e2e.window import MAX_WINDOW, MIN_WINDOW, ReplayWindow

#: The IEC 62351-4 bounds of the rekey interval.
MIN_REKEY = timedelta(minutes=15)
MAX_REKEY = timedelta(hours=24)
#: Accepted difference between a message's time and the receiver's clock.
TIME_WINDOW = timedelta(minutes=10)

AEAD_KEY_SIZES = {tokens.OID_AES128_GCM: 16, tokens.OID_AES256_GCM: 32}
AEAD_NAMES = {"aes-128-gcm": tokens.OID_AES128_GCM, "aes-256-gcm": tokens.OID_AES256_GCM}
_KEY_LABEL = b"derlink e2e v1 record keys"
_POINT_SIZE = 65
_MAX_SEQUENCE = 2**63


class Role(enum.Enum):
    INITIATOR = "initiator"
    RESPONDER = "responder"


class State(enum.Enum):
    IDLE = "idle"
    AWAITING_ACCEPT = "awaiting-accept"
    ESTABLISHED = "established"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Parameters of a session; out-of-range values raise :class:`ConfigurationError`.

    ``aead``: the AEADs offered (initiator, in preference order) or accepted (responder), by
    name (``aes-128-gcm``, ``aes-256-gcm``). ``rekey_interval``: 15 min to 24 h.
    ``rekey_slack``: how long after the interval the keys may still be used before sealing
    and opening refuse them (the responder rekeys itself halfway through it).
    ``grace``: how long the side that answered a rekey may keep sending under the old keys
    before switching unasked, and how long old receive keys are kept after the peer's switch
    (see the module docstring; zero: no overlap). ``window``: the anti-replay window in
    records.
    """

    aead: tuple[str, ...] = ("aes-256-gcm", "aes-128-gcm")
    rekey_interval: timedelta = timedelta(hours=1)
    rekey_slack: timedelta = timedelta(minutes=5)
    grace: timedelta = timedelta(minutes=1)
    window: int = 64
    time_window: timedelta = TIME_WINDOW

    def __post_init__(self) -> None:
        if not MIN_REKEY <= self.rekey_interval <= MAX_REKEY:
            raise ConfigurationError(
                f"the rekey interval must be 15 min to 24 h, got {self.rekey_interval}"
            )
        if not timedelta(0) < self.rekey_slack <= self.rekey_interval:
            raise ConfigurationError("the rekey slack must be positive and within the interval")
        if not timedelta(0) <= self.grace <= self.rekey_slack:
            raise ConfigurationError("the rekey grace must be 0 to the rekey slack")
        if not MIN_WINDOW <= self.window <= MAX_WINDOW:
            raise ConfigurationError(f"the replay window must be {MIN_WINDOW}..{MAX_WINDOW}")
        if not timedelta(seconds=1) <= self.time_window <= TIME_WINDOW:
            raise ConfigurationError("the time window must be 1 s to 10 min")
        if not self.aead or any(name not in AEAD_NAMES for name in self.aead):
            raise ConfigurationError(f"AEADs must be among {', '.join(AEAD_NAMES)}")

    @property
    def aead_oids(self) -> tuple[str, ...]:
        return tuple(AEAD_NAMES[name] for name in self.aead)


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Bytes to carry to the peer (a handshake token)."""

    message: bytes


@dataclass(frozen=True, slots=True)
class Established:
    """The handshake completed: the peer is authenticated and records may flow."""

    peer: PeerIdentity
    association_id: bytes
    aead: str


@dataclass(frozen=True, slots=True)
class Rekeyed:
    """A rekey completed: ``epoch`` is agreed and its keys open records. The requester seals
    under it at once; the answering side once the requester proved it has the keys (see
    :meth:`Session.sending_epoch`)."""

    epoch: int


@dataclass(frozen=True, slots=True)
class Data:
    """An accepted data record."""

    payload: bytes
    confidential: bool
    epoch: int
    sequence: int
    time: datetime


@dataclass(frozen=True, slots=True)
class Closed:
    """The peer closed the association with an authenticated close record."""

    epoch: int
    sequence: int


Event = Send | Established | Rekeyed | Data | Closed


class HandshakeReplayCache:
    """Association ids of handshake requests already answered, for twice the time window.

    One cache shared by every responder of an endpoint refuses a replayed HandshakeReq (a
    request older than the time window is refused as stale anyway).
    """

    def __init__(self, keep: timedelta = 2 * TIME_WINDOW) -> None:
        self._keep = keep
        self._seen: dict[bytes, datetime] = {}

    def check(self, association_id: bytes, now: datetime) -> None:
        self._expire(now)
        if association_id in self._seen:
            raise Replay("this handshake request was already answered")

    def add(self, association_id: bytes, now: datetime) -> None:
        self._seen[association_id] = now

    def _expire(self, now: datetime) -> None:
        for aid in [a for a, seen in self._seen.items() if now - seen > self._keep]:
            del self._seen[aid]


# -- internal state ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Epoch:
    number: int
    send: records.DirectionKey
    receive: records.DirectionKey
    window: ReplayWindow
    established_at: datetime
    next_sequence: int = 0
    retire_at: datetime | None = None


@dataclass(slots=True)
class _Pending:
    ephemeral: ec.EllipticCurvePrivateKey
    request: bytes
    epoch: int
    started_at: datetime


@dataclass(frozen=True, slots=True)
class _Verified:
    token: tokens.HandshakeToken
    peer: PeerIdentity
    peer_key: ec.EllipticCurvePublicKey


PeerCheck = Callable[[PeerIdentity], bool]


@dataclass(slots=True)
class _Keys:
    epochs: dict[int, _Epoch] = field(default_factory=dict)
    current: int = -1
    chain: bytes = bytes(32)
    #: The epoch records are sealed under: ``current``, or the one before it while the
    #: switch-over of a rekey this side answered is pending.
    sending: int = -1
    #: When a pending switch-over happens unasked (None: none pending).
    switch_at: datetime | None = None


class Session:
    """One end-to-end association with one peer, as initiator or responder.

    ``accept_peer`` (optional) is asked whether an authenticated peer is the one wanted (for
    example its xmppAddr equals the JID the transport sees); ``replay_cache`` is shared by a
    responder endpoint. Nothing here does I/O or reads the clock: ``now`` is always passed in.
    """

    def __init__(
        self,
        role: Role,
        credentials: Credentials,
        verifier: Verifier,
        config: SessionConfig | None = None,
        *,
        accept_peer: PeerCheck | None = None,
        replay_cache: HandshakeReplayCache | None = None,
    ) -> None:
        self.role = role
        self.config = config or SessionConfig()
        self._credentials = credentials
        self._verifier = verifier
        self._accept_peer = accept_peer
        self._replay_cache = replay_cache
        self._path = credentials.path_der()
        self.state = State.IDLE
        self.association_id: bytes | None = None
        self.peer: PeerIdentity | None = None
        self.aead: str | None = None
        self._pending: _Pending | None = None
        self._keys = _Keys()

    @classmethod
    def initiator(
        cls,
        credentials: Credentials,
        verifier: Verifier,
        config: SessionConfig | None = None,
        *,
        accept_peer: PeerCheck | None = None,
    ) -> Session:
        return cls(Role.INITIATOR, credentials, verifier, config, accept_peer=accept_peer)

    @classmethod
    def responder(
        cls,
        credentials: Credentials,
        verifier: Verifier,
        config: SessionConfig | None = None,
        *,
        accept_peer: PeerCheck | None = None,
        replay_cache: HandshakeReplayCache | None = None,
    ) -> Session:
        return cls(
            Role.RESPONDER,
            credentials,
            verifier,
            config,
            accept_peer=accept_peer,
            replay_cache=replay_cache,
        )

    # -- public API ------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        """The newest key generation agreed (-1 before the handshake). Records are sealed
        under it, except by the side that answered a rekey until its switch-over
        (:meth:`sending_epoch`)."""
        return self._keys.current

    @property
    def rekey_pending(self) -> bool:
        return self._pending is not None and self.state is State.ESTABLISHED

    @property
    def switch_pending(self) -> bool:
        """This side answered a rekey and has not switched its sending keys yet (a bound that
        passed takes effect at the next seal, rekey or tick; :meth:`sending_epoch` tells)."""
        return self._keys.switch_at is not None and self.state is State.ESTABLISHED

    def sending_epoch(self, now: datetime) -> int:
        """The epoch a record sealed at ``now`` would be sealed under (-1 before the
        handshake)."""
        if self.state is not State.ESTABLISHED:
            return self._keys.current
        return self._sending(now).number

    def start(self, now: datetime) -> bytes:
        """The HandshakeReq that opens the association (initiator, once)."""
        if self.role is not Role.INITIATOR or self.state is not State.IDLE:
            raise StateError("start() opens a new association on an idle initiator only")
        self.association_id = os.urandom(16)
        message = self._request(0, now)
        self.state = State.AWAITING_ACCEPT
        return message

    def rekey(self, now: datetime) -> bytes:
        """A HandshakeReq for the next epoch (either side, on demand)."""
        if self.state is not State.ESTABLISHED:
            raise StateError("rekey needs an established session")
        if self._pending is not None:
            raise StateError("a rekey is already under way")
        if self._sending(now).number != self._keys.current:
            raise StateError(
                f"the switch-over to epoch {self._keys.current} is not complete: rekey later"
            )
        self._switch_due(now)
        return self._request(self._keys.current + 1, now)

    def tick(self, now: datetime) -> bytes | None:
        """Timers: drop retired keys, abandon a lost rekey, and start a scheduled one.

        Returns a HandshakeReq to send when a rekey is due: the initiator rekeys when the
        interval has passed, the responder half a slack later if the initiator did not.
        """
        if self.state is not State.ESTABLISHED:
            return None
        self._switch_due(now)
        self._retire(now)
        if self._keys.switch_at is not None:
            return None  # the answered rekey's switch-over comes first
        pending = self._pending
        if pending is not None and now - pending.started_at > self.config.rekey_slack / 2:
            self._pending = None  # the peer never answered: try again below
        if self._pending is not None:
            return None
        age = now - self._current().established_at
        due = self.config.rekey_interval
        if self.role is Role.RESPONDER:
            due += self.config.rekey_slack / 2
        return self.rekey(now) if age >= due else None

    def receive(self, message: bytes, now: datetime) -> tuple[Event, ...]:
        """Handle a handshake token or a data record from the peer.

        Returns the events: :class:`Send` (a token to answer with), :class:`Established`,
        :class:`Rekeyed`, :class:`Data`. Raises an :class:`~derlink.e2e.errors.E2EError`
        subclass for a refused message, leaving the session as it was.
        """
        if not message:
            raise MalformedMessage("empty message")
        kind = message[0]
        if kind == records.CONTENT_RECORD:
            data = self._open(message, now)
            if self.state is State.CLOSED:
                return (Closed(data.epoch, data.sequence),)
            return (data,)
        if kind != records.CONTENT_HANDSHAKE:
            raise MalformedMessage(f"content type 0x{kind:02x} is not an end-to-end message")
        token = tokens.decode_token(message[1:])
        if token.tbs.kind == "request":
            return self._on_request(message, token, now)
        return self._on_accept(message, token, now)

    def seal(self, payload: bytes, now: datetime, *, confidential: bool = True) -> bytes:
        """A data record carrying ``payload``: encrypted and authenticated when
        ``confidential``, else authenticated only (the payload stays readable)."""
        return self._seal(payload, now, confidential, close=False)

    def close(self, now: datetime) -> bytes:
        """The authenticated close record; the session seals and opens nothing after it.

        A peer that sees the transport end without it knows the conversation was cut.
        """
        record = self._seal(b"", now, False, close=True)
        self._closed()
        return record

    def _closed(self) -> None:
        self.state = State.CLOSED
        self._pending = None
        self._keys.epochs.clear()  # no key outlives the association
        self._keys.switch_at = None

    def _seal(self, payload: bytes, now: datetime, confidential: bool, *, close: bool) -> bytes:
        if self.state is not State.ESTABLISHED:
            raise StateError("sealing needs an established, open session")
        if len(payload) > records.MAX_PAYLOAD:
            raise ConfigurationError(f"payload of {len(payload)} bytes is too large")
        epoch = self._sending(now)
        self._check_age(epoch, now)
        if epoch.next_sequence >= _MAX_SEQUENCE:
            raise KeyExpired("the sequence numbers of this epoch are used up: rekey")
        assert self.association_id is not None
        self._switch_due(now)
        sequence = epoch.next_sequence
        header = records.RecordHeader(
            confidential=confidential,
            association_id=self.association_id,
            epoch=epoch.number,
            time_ms=tokens.to_millis(now),
            sequence=sequence,
            nonce=epoch.send.nonce(sequence),
            length=len(payload),
            close=close,
        )
        record = epoch.send.seal(header, payload)
        epoch.next_sequence = sequence + 1
        return record

    def open(self, record: bytes, now: datetime) -> bytes:
        """The payload of a data record, or the typed refusal (state unchanged)."""
        return self._open(record, now).payload

    # -- records -----------------------------------------------------------------------------

    def _open(self, record: bytes, now: datetime) -> Data:
        if self.state is State.CLOSED:
            raise StateError("the association is closed")
        if self.state is not State.ESTABLISHED:
            raise StateError("a data record before the handshake completed")
        header, header_bytes, payload, tag = records.parse(record)
        if header.association_id != self.association_id:
            raise WrongAssociation("the record belongs to another association")
        epoch = self._keys.epochs.get(header.epoch)
        if epoch is None or (epoch.retire_at is not None and now >= epoch.retire_at):
            raise UnknownKey(f"no keys for epoch {header.epoch} (retired or never agreed)")
        self._check_age(epoch, now)
        clear = epoch.receive.open(header, header_bytes, payload, tag)
        moment = tokens.from_millis(header.time_ms)
        self._check_time(moment, now, "record")
        epoch.window.check(header.sequence)
        epoch.window.accept(header.sequence)
        if header.epoch == self._keys.current:
            self._peer_switched(now)
        if header.close:
            self._closed()
        return Data(clear, header.confidential, header.epoch, header.sequence, moment)

    def _current(self) -> _Epoch:
        return self._keys.epochs[self._keys.current]

    # -- switch-over ---------------------------------------------------------------------------

    def _sending(self, now: datetime) -> _Epoch:
        """The epoch to seal under at ``now`` (no state change): the old one while an
        answered rekey's switch-over is pending, unless its bound or the old keys' age
        limit has passed."""
        keys = self._keys
        if keys.switch_at is None or now >= keys.switch_at:
            return self._current()
        old = keys.epochs.get(keys.sending)
        if old is None or self._expired(old, now):
            return self._current()
        return old

    def _switch_due(self, now: datetime) -> None:
        """Commit the switch-over :meth:`_sending` decided on by time."""
        if self._keys.switch_at is not None and self._sending(now).number == self._keys.current:
            self._switch(now)

    def _switch(self, now: datetime) -> None:
        """Seal under the current epoch from now on; older receive keys live ``grace`` more."""
        keys = self._keys
        keys.sending = keys.current
        keys.switch_at = None
        self._retire_older(now + self.config.grace)

    def _peer_switched(self, now: datetime) -> None:
        """A record of the current epoch was accepted: the peer has the current keys (so a
        pending switch-over completes) and seals under them (so older keys are needed only
        for records already in flight, for ``grace``)."""
        if self._keys.switch_at is not None:
            self._switch(now)
        else:
            self._retire_older(now + self.config.grace)

    def _retire_older(self, at: datetime) -> None:
        for epoch in self._keys.epochs.values():
            if epoch.number < self._keys.current and (
                epoch.retire_at is None or at < epoch.retire_at
            ):
                epoch.retire_at = at

    def _expired(self, epoch: _Epoch, now: datetime) -> bool:
        return now - epoch.established_at > self.config.rekey_interval + self.config.rekey_slack

    def _check_age(self, epoch: _Epoch, now: datetime) -> None:
        limit = self.config.rekey_interval + self.config.rekey_slack
        if self._expired(epoch, now):
            raise KeyExpired(f"the keys of epoch {epoch.number} are older than {limit}: rekey")

    def _check_time(self, moment: datetime, now: datetime, what: str) -> None:
        skew = moment - now
        if abs(skew) > self.config.time_window:
            direction = "ahead of" if skew > timedelta(0) else "behind"
            raise Stale(
                f"the {what} time is {abs(skew)} {direction} this clock "
                f"(more than {self.config.time_window})"
            )

    def _retire(self, now: datetime) -> None:
        for number in [
            n
            for n, e in self._keys.epochs.items()
            if e.retire_at is not None and now >= e.retire_at
        ]:
            del self._keys.epochs[number]

    # -- handshake ---------------------------------------------------------------------------

    def _request(self, epoch: int, now: datetime) -> bytes:
        assert self.association_id is not None
        ephemeral = ec.generate_private_key(ec.SECP256R1())
        tbs = tokens.HandshakeTbs(
            kind="request",
            association_id=self.association_id,
            epoch=epoch,
            time_ms=tokens.to_millis(now),
            certificate_path=self._path,
            ecdh_key=_point(ephemeral.public_key()),
            hkdf_hash=tokens.OID_SHA256,
            aead=self.config.aead_oids,
        )
        message = self._signed(tbs)
        self._pending = _Pending(ephemeral, message, epoch, now)
        return message

    def _signed(self, tbs: tokens.HandshakeTbs) -> bytes:
        tbs_der = tbs.to_der()
        signature = self._credentials.private_key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
        return bytes([records.CONTENT_HANDSHAKE]) + tokens.encode_token(tbs, signature)

    def _on_request(
        self, message: bytes, token: tokens.HandshakeToken, now: datetime
    ) -> tuple[Event, ...]:
        tbs = token.tbs
        if tbs.request_hash is not None:
            raise MalformedMessage("a handshake request carries no request hash")
        if self.state is State.IDLE:
            if self.role is not Role.RESPONDER:
                raise StateError("an initiator does not answer handshake requests before start()")
            if tbs.epoch != 0:
                raise UnknownKey(f"a rekey request (epoch {tbs.epoch}) for no association")
            if self._replay_cache is not None:
                self._replay_cache.check(tbs.association_id, now)
        elif self.state is State.ESTABLISHED:
            self._check_rekey_request(tbs)
            if self._pending is not None and self.role is Role.INITIATOR:
                return ()  # both sides asked at once: the initiator's request wins
        else:
            raise StateError(f"a handshake request in state {self.state.value}")
        verified = self._verify_token(token, now)
        aead = next((a for a in tbs.aead if a in self.config.aead_oids), None)
        if aead is None:
            raise Unsupported("no AEAD in the request is acceptable here")
        ephemeral = ec.generate_private_key(ec.SECP256R1())
        shared = ephemeral.exchange(ec.ECDH(), verified.peer_key)
        accept = tokens.HandshakeTbs(
            kind="accept",
            association_id=tbs.association_id,
            epoch=tbs.epoch,
            time_ms=tokens.to_millis(now),
            certificate_path=self._path,
            ecdh_key=_point(ephemeral.public_key()),
            hkdf_hash=tokens.OID_SHA256,
            aead=(aead,),
            request_hash=hashlib.sha256(message).digest(),
        )
        reply = self._signed(accept)
        # Everything checked: from here on the state changes.
        self._pending = None
        first = self.state is State.IDLE
        if first and self._replay_cache is not None:
            self._replay_cache.add(tbs.association_id, now)
        if self._keys.switch_at is not None:
            self._switch(now)  # a request for the next epoch proves the peer has the current one
        self.association_id = tbs.association_id
        self._install(tbs.epoch, shared, message, reply, aead, verified.peer, now, answered=True)
        done: Event = (
            Established(verified.peer, tbs.association_id, _aead_name(aead))
            if first
            else Rekeyed(tbs.epoch)
        )
        return (Send(reply), done)

    def _check_rekey_request(self, tbs: tokens.HandshakeTbs) -> None:
        if tbs.association_id != self.association_id:
            raise WrongAssociation("a handshake request for another association")
        if tbs.epoch <= self._keys.current:
            raise Replay(f"a handshake request for epoch {tbs.epoch}, already agreed")
        if tbs.epoch != self._keys.current + 1:
            raise UnknownKey(f"a rekey request skips to epoch {tbs.epoch}")

    def _on_accept(
        self, message: bytes, token: tokens.HandshakeToken, now: datetime
    ) -> tuple[Event, ...]:
        tbs = token.tbs
        pending = self._pending
        if pending is None:
            if self.state is State.ESTABLISHED and tbs.epoch <= self._keys.current:
                raise Replay(f"a handshake accept for epoch {tbs.epoch}, already agreed")
            raise StateError("a handshake accept without a request of ours")
        if tbs.association_id != self.association_id:
            raise WrongAssociation("the handshake accept belongs to another association")
        if tbs.epoch != pending.epoch:
            raise Replay(f"a handshake accept for epoch {tbs.epoch}, not {pending.epoch}")
        if tbs.request_hash != hashlib.sha256(pending.request).digest():
            raise Tampered("the handshake accept does not answer our request")
        if len(tbs.aead) != 1 or tbs.aead[0] not in self.config.aead_oids:
            raise Unsupported("the accept chose an AEAD that was not offered")
        verified = self._verify_token(token, now)
        shared = pending.ephemeral.exchange(ec.ECDH(), verified.peer_key)
        first = self.state is State.AWAITING_ACCEPT
        self._pending = None
        self._install(tbs.epoch, shared, pending.request, message, tbs.aead[0], verified.peer, now)
        if first:
            assert self.association_id is not None
            return (Established(verified.peer, self.association_id, _aead_name(tbs.aead[0])),)
        return (Rekeyed(tbs.epoch),)

    def _verify_token(self, token: tokens.HandshakeToken, now: datetime) -> _Verified:
        """Signature, certificate path (revocation included), time, peer, algorithms."""
        tbs = token.tbs
        if token.signature_algorithm != tokens.OID_ECDSA_SHA256:
            raise Unsupported("the token is not signed with ECDSA-SHA256")
        if tbs.hkdf_hash != tokens.OID_SHA256:
            raise Unsupported("the only HKDF hash spoken here is SHA-256")
        path = [_certificate(der) for der in tbs.certificate_path]
        leaf = path[0]
        leaf_key = leaf.public_key()
        if not isinstance(leaf_key, ec.EllipticCurvePublicKey):
            raise UntrustedCertificate("the end-to-end certificate has no EC key")
        try:
            leaf_key.verify(token.signature, token.tbs_der, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise BadSignature("the handshake token's signature does not verify") from None
        verified = self._verifier.verify(leaf, path[1:], now)
        peer = peer_identity(leaf, verified)
        self._check_time(tokens.from_millis(tbs.time_ms), now, "handshake")
        if self.peer is not None and self.peer.certificate != leaf:
            raise UnexpectedPeer("the peer's certificate changed within the association")
        if self._accept_peer is not None and not self._accept_peer(peer):
            raise UnexpectedPeer(f"the peer {peer.name} is not accepted for this session")
        return _Verified(token, peer, _peer_key(tbs.ecdh_key))

    def _install(
        self,
        epoch: int,
        shared: bytes,
        request: bytes,
        accept: bytes,
        aead: str,
        peer: PeerIdentity,
        now: datetime,
        *,
        answered: bool = False,
    ) -> None:
        """Install ``epoch``'s keys. The side that ``answered`` a rekey keeps sealing under
        the previous epoch until the switch-over; older receive keys are kept ``2 × grace``
        (the peer's switch-over bound plus records in flight)."""
        keys = self._keys
        salt = hashlib.sha256(
            keys.chain + hashlib.sha256(request).digest() + hashlib.sha256(accept).digest()
        ).digest()
        assert self.association_id is not None
        size = AEAD_KEY_SIZES[aead]
        info = _KEY_LABEL + self.association_id + epoch.to_bytes(4, "big") + aead.encode()
        okm = HKDF(hashes.SHA256(), 2 * (size + 12), salt, info).derive(shared)
        i2r = records.DirectionKey(okm[:size], okm[size : size + 12])
        r2i = records.DirectionKey(okm[size + 12 : 2 * size + 12], okm[2 * size + 12 :])
        send, receive = (i2r, r2i) if self.role is Role.INITIATOR else (r2i, i2r)
        previous = keys.current
        keys.epochs[epoch] = _Epoch(epoch, send, receive, ReplayWindow(self.config.window), now)
        keys.current = epoch
        self._retire_older(now + 2 * self.config.grace)
        if answered and previous >= 0 and self.config.grace > timedelta(0):
            keys.sending = previous
            keys.switch_at = now + self.config.grace
        else:
            keys.sending = epoch
            keys.switch_at = None
        keys.chain = salt
        self.peer = peer
        self.aead = _aead_name(aead)
        self.state = State.ESTABLISHED


def association_of(message: bytes) -> bytes:
    """The association id a handshake token or data record belongs to, so that an endpoint
    can route it to its :class:`Session` (a new HandshakeReq names an unknown one). Nothing is
    authenticated here: the session refuses what does not belong to it."""
    if message[:1] == bytes([records.CONTENT_RECORD]):
        if len(message) < records.HEADER_SIZE:
            raise Truncated("record shorter than its header")
        return message[3:19]
    if message[:1] == bytes([records.CONTENT_HANDSHAKE]):
        return tokens.decode_token(message[1:]).tbs.association_id
    raise MalformedMessage("not an end-to-end session message")


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _peer_key(point: bytes) -> ec.EllipticCurvePublicKey:
    if len(point) != _POINT_SIZE or point[0] != 0x04:
        raise MalformedMessage("the ECDH key is not an uncompressed P-256 point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise MalformedMessage("the ECDH key is not a point on P-256") from None


def _certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion):
        raise MalformedMessage("the certificate path holds a malformed certificate") from None


def _aead_name(oid: str) -> str:
    return next(name for name, value in AEAD_NAMES.items() if value == oid)


def aead_names(oids: Sequence[str]) -> tuple[str, ...]:
    """Names of the AEAD OIDs this implementation knows (others are skipped)."""
    return tuple(_aead_name(o) for o in oids if o in AEAD_KEY_SIZES)
