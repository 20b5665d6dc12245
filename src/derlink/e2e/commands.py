"""Signed commands: an operator's ECDSA signature over a control, verified by the device itself.

Sans-IO: :func:`sign` and :func:`verify` take bytes, keys, certificates and ``now`` (Unix
seconds); :class:`CounterCache` is the device's replay state as a value (the caller persists it
with :func:`save_counters` *before* acting on a command). Only :func:`load_counters` and
:func:`save_counters` touch files.

Design (GB smart metering signed commands, REFERENCE.md; IEEE 2030.5 has no signed control):

- **What is signed** (:class:`CommandContent`): the message code, the originator id, the
  recipient (one device LFDI, or the groups a program targets), a 64-bit originator counter, the
  validity window ``notBefore``/``notAfter``, and the whole control: mRID, program id, primacy,
  creation time, start, duration, both randomisation bounds, description and every
  :class:`~derlink.domain.ControlBase` field that is set. The encoding is a deterministic binary
  one (``DLSC`` v1, big-endian, length-prefixed UTF-8, IEEE 754 binary64 for envelope values with
  ``-0.0`` folded to ``0.0``): envelope fields are written by *name*, sorted, only when set, so
  a field added to the domain later is signed (or refused by an old decoder) rather than silently
  dropped. Decoding is strict (no trailing bytes, bounded lengths), so one content has one
  encoding and the signature covers exactly what the device applies.
- **Who signs**: an operator certificate of derlink's PKI holding an IEC 62351-8 role with the
  CONTROL right (OPERATOR), with ECDSA P-256 / SHA-256. The signer's certificate path (leaf, then
  issuing CA) travels inside the :class:`SignedCommand`, so the command is self-contained: the
  device verifies it with :func:`derlink.pki.verify_certificate` against its own trust anchors
  and CRLs, whoever relayed it. The originator id is the signer certificate's subject, so the
  counter survives certificate renewal and cannot be claimed by another operator.
- **Replay** (:class:`CounterCache`): the head-end allocates a strictly increasing counter per
  originator (durable, table ``originator_counter``); the device keeps, per originator, the
  highest counter seen and the digests of the commands it accepted that are still inside their
  validity window, and refuses a counter at or below the highest (GB: a counter cache refusing
  reuse). ``window`` relaxes this for pull protocols: IEEE 2030.5 devices read several lists at
  different times and may meet counter 7 before counter 6; a counter up to ``window`` below the
  highest is accepted once when it was never seen. Field tools and one-time codes use
  ``window=0`` (strictly increasing) or a small cache. ``allow_repeat`` accepts the *same*
  command again (a 2030.5 device re-reads its list every poll; the event rules already run an
  mRID once), never a different command with a used counter.
- **Validity**: a command is accepted in ``[notBefore - skew, notAfter]``; a device that first
  meets it after ``notAfter`` refuses it as expired. Once accepted, an event runs to its own end.

The content is the domain's own :class:`~derlink.domain.Control` (``derlink.domain`` imports
nothing of derlink), so what is signed is the control itself, whatever protocol carries it.

Refusals are typed (:class:`BadSignature`, :class:`Expired`, :class:`NotYetValid`,
:class:`CounterReplay`, :class:`WrongRecipient`, :class:`UntrustedSigner`); each carries a
``code`` for the audit record. A refused command changes no state.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import json
import math
import os
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from derlink.domain import Control, ControlBase, DomainError
from derlink.e2e.errors import E2EError
from derlink.pki import (
    CertificateError,
    PkiError,
    Profile,
    Role,
    VerifiedCertificate,
    certificate_der,
    lfdi_of_certificate,
    verify_certificate,
)

CONTENT_MAGIC = b"DLSC"
SIGNED_MAGIC = b"DLSG"
VERSION = 1
MAX_COUNTER = 2**64 - 1
MAX_TEXT = 1024
MAX_CERTS = 4
MAX_DOCUMENT = 16 * 1024
PEM_LABEL = "DERLINK SIGNED COMMAND"
MEDIA_TYPE = "application/vnd.derlink.signed-command"
DEFAULT_SKEW = 60
#: IEC 62351-8 roles whose rights include CONTROL (clause 6 role table: OPERATOR only; SECADM
#: has every right but CONTROL).
CONTROL_ROLES = frozenset({Role.OPERATOR})
_MRID_RE = re.compile(r"^[0-9A-F]{32}$")
_LFDI_RE = re.compile(r"^[0-9A-F]{40}$")
_BASE_FIELDS = {f.name: f for f in dataclasses.fields(ControlBase)}


# --- errors -----------------------------------------------------------------------------------


class CommandError(E2EError):
    """A signed command was refused (or could not be built)."""

    code = "command.error"


class MalformedCommand(CommandError):
    """The bytes are not a signed command of this version."""

    code = "command.malformed"


class BadSignature(CommandError):
    """The signature does not verify over the content, or the content does not name the
    signer, or what arrived differs from what was signed."""

    code = "command.bad-signature"


class UntrustedSigner(CommandError):
    """The signer's certificate path does not verify, or the signer may not control."""

    code = "command.untrusted-signer"


class WrongRecipient(CommandError):
    """The command is addressed to another device or to groups this device is not in."""

    code = "command.wrong-recipient"


class NotYetValid(CommandError):
    """``now`` is before the command's ``notBefore``."""

    code = "command.not-yet-valid"


class Expired(CommandError):
    """``now`` is after the command's ``notAfter``."""

    code = "command.expired"


class CounterReplay(CommandError):
    """The originator counter was already used (or is older than the device accepts)."""

    code = "command.replay"


# --- content ----------------------------------------------------------------------------------


class MessageCode(enum.IntEnum):
    """What the command asks (GB: the message code that selects the use case)."""

    DER_CONTROL = 0x0101


class RecipientKind(enum.IntEnum):
    DEVICE = 1
    GROUP = 2


@dataclass(frozen=True, slots=True)
class Recipient:
    """One device (by LFDI) or the groups of a program (sorted, unique)."""

    kind: RecipientKind
    ids: tuple[str, ...]

    @classmethod
    def device(cls, lfdi: str) -> Recipient:
        value = lfdi.strip().upper()
        if not _LFDI_RE.match(value):
            raise CommandError(f"{lfdi!r} is not an LFDI (40 hex digits)")
        return cls(RecipientKind.DEVICE, (value,))

    @classmethod
    def groups(cls, groups: Iterable[str]) -> Recipient:
        ids = tuple(sorted(set(groups)))
        if not ids:
            raise CommandError("a group-addressed command needs at least one group")
        return cls(RecipientKind.GROUP, ids)

    def accepts(self, lfdi: str, groups: frozenset[str] | None) -> bool:
        """Whether a device with ``lfdi`` in ``groups`` (None: groups not known locally, any
        group is taken as the server states it) is a recipient."""
        if self.kind is RecipientKind.DEVICE:
            return self.ids == (lfdi.upper(),)
        return groups is None or bool(groups & set(self.ids))

    def describe(self) -> str:
        kind = "device" if self.kind is RecipientKind.DEVICE else "group"
        return f"{kind} {','.join(self.ids)}"


@dataclass(frozen=True, slots=True)
class CommandContent:
    """Everything the signature covers (see the module docstring for the encoding)."""

    message_code: MessageCode
    originator: str
    recipient: Recipient
    counter: int
    not_before: int
    not_after: int
    mrid: str
    program: str
    primacy: int
    created: int
    start: int
    duration: int
    base: ControlBase
    randomize_start: int = 0
    randomize_duration: int = 0
    description: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.counter <= MAX_COUNTER:
            raise CommandError(f"counter {self.counter} is outside 1..2^64-1")
        if self.not_after < self.not_before:
            raise CommandError("the validity window ends before it starts")
        if not self.originator or not self.program:
            raise CommandError("a command names its originator and program")
        for text in (self.originator, self.program, self.description, *self.recipient.ids):
            if len(text.encode()) > MAX_TEXT:
                raise CommandError("a text field of the command is too long")
        try:
            self.control()  # the domain's own rules: mRID, duration, randomisation, envelope
        except DomainError as err:
            raise CommandError(f"not a valid control: {err}") from None
        if not 0 <= self.primacy <= 255:
            raise CommandError(f"primacy {self.primacy} must be 0..255")

    @classmethod
    def of_control(
        cls,
        control: Control,
        *,
        primacy: int,
        originator: str,
        recipient: Recipient,
        counter: int,
        not_before: int,
        not_after: int,
        message_code: MessageCode = MessageCode.DER_CONTROL,
    ) -> CommandContent:
        return cls(
            message_code=message_code,
            originator=originator,
            recipient=recipient,
            counter=counter,
            not_before=not_before,
            not_after=not_after,
            mrid=control.mrid,
            program=control.program,
            primacy=primacy,
            created=control.created,
            start=control.start,
            duration=control.duration,
            base=control.base,
            randomize_start=control.randomize_start,
            randomize_duration=control.randomize_duration,
            description=control.description,
        )

    def control(self) -> Control:
        """The control this command carries (as scheduled: status is not signed)."""
        return Control(
            mrid=self.mrid,
            program=self.program,
            start=self.start,
            duration=self.duration,
            base=self.base,
            created=self.created,
            description=self.description,
            randomize_start=self.randomize_start,
            randomize_duration=self.randomize_duration,
        )

    def encode(self) -> bytes:
        out = _Writer()
        out.raw(CONTENT_MAGIC)
        out.pack(">BH", VERSION, int(self.message_code))
        out.text(self.originator)
        out.pack(">BB", int(self.recipient.kind), len(self.recipient.ids))
        for rid in self.recipient.ids:
            out.text(rid)
        out.pack(">Qqq", self.counter, self.not_before, self.not_after)
        out.raw(bytes.fromhex(self.mrid))
        out.text(self.program)
        out.pack(">Bqq", self.primacy, self.created, self.start)
        out.pack(">Ihh", self.duration, self.randomize_start, self.randomize_duration)
        out.text(self.description)
        present = sorted(self.base.set_fields().items())
        out.pack(">B", len(present))
        for name, value in present:
            out.text(name)
            _write_value(out, value)
        return out.bytes()

    @classmethod
    def decode(cls, data: bytes) -> CommandContent:
        """Strict inverse of :meth:`encode`; :class:`MalformedCommand` on anything else."""
        try:
            return _decode_content(_Reader(data))
        except (struct.error, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
            raise MalformedCommand(f"not a signed command content: {err}") from None
        except DomainError as err:
            raise MalformedCommand(f"not a valid control: {err}") from None
        except CommandError as err:
            if isinstance(err, MalformedCommand):
                raise
            raise MalformedCommand(str(err)) from None


def _write_value(out: _Writer, value: object) -> None:
    if isinstance(value, bool):
        out.pack(">BB", 1, int(value))
    elif isinstance(value, int | float):
        number = float(value)
        out.pack(">Bd", 2, 0.0 if number == 0 else number)
    elif isinstance(value, str):
        out.pack(">B", 3)
        out.text(value)
    else:
        raise CommandError(f"cannot sign an envelope value of type {type(value).__name__}")


def _read_value(src: _Reader, name: str) -> object:
    tag = src.unpack(">B")[0]
    expected = _BASE_FIELDS[name].type
    if tag == 1:
        value: object = {0: False, 1: True}[src.unpack(">B")[0]]
        kind = "bool"
    elif tag == 2:
        number = src.unpack(">d")[0]
        if not math.isfinite(number) or (number == 0 and math.copysign(1, number) < 0):
            raise ValueError(f"{name} is not a canonical number")
        value, kind = number, "float"
    elif tag == 3:
        value, kind = src.text(), "str"
    else:
        raise ValueError(f"unknown value tag {tag}")
    if kind not in str(expected):
        raise ValueError(f"{name} holds a {kind}")
    return value


def _decode_content(src: _Reader) -> CommandContent:
    if src.take(4) != CONTENT_MAGIC:
        raise ValueError("wrong magic")
    version, code = src.unpack(">BH")
    if version != VERSION:
        raise ValueError(f"version {version} is not supported")
    originator = src.text()
    kind, count = src.unpack(">BB")
    recipient = Recipient(RecipientKind(kind), tuple(src.text() for _ in range(count)))
    if recipient.kind is RecipientKind.DEVICE:
        if recipient != Recipient.device(recipient.ids[0] if count == 1 else ""):
            raise ValueError("a device recipient is one upper-case LFDI")
    elif recipient != Recipient.groups(recipient.ids) or count != len(recipient.ids):
        raise ValueError("group recipients must be sorted and unique")
    counter, not_before, not_after = src.unpack(">Qqq")
    mrid = src.take(16).hex().upper()
    program = src.text()
    primacy, created, start = src.unpack(">Bqq")
    duration, randomize_start, randomize_duration = src.unpack(">Ihh")
    description = src.text()
    fields: dict[str, object] = {}
    last = ""
    for _ in range(src.unpack(">B")[0]):
        name = src.text()
        if name not in _BASE_FIELDS or name <= last:
            raise ValueError(f"envelope field {name!r} is unknown or out of order")
        fields[name] = _read_value(src, name)
        last = name
    src.end()
    return CommandContent(
        message_code=MessageCode(code),
        originator=originator,
        recipient=recipient,
        counter=counter,
        not_before=not_before,
        not_after=not_after,
        mrid=mrid,
        program=program,
        primacy=primacy,
        created=created,
        start=start,
        duration=duration,
        base=ControlBase(**fields),  # type: ignore[arg-type]
        randomize_start=randomize_start,
        randomize_duration=randomize_duration,
        description=description,
    )


# --- signed command ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signer:
    """An operator's key and certificate path (leaf first; a self-signed root is left out)."""

    key: ec.EllipticCurvePrivateKey
    certificates: tuple[x509.Certificate, ...]

    def __post_init__(self) -> None:
        if not self.certificates:
            raise CommandError("the signer needs its certificate")
        leaf_key = self.certificates[0].public_key()
        mine = self.key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        if not isinstance(leaf_key, ec.EllipticCurvePublicKey) or mine != leaf_key.public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        ):
            raise CommandError("the signing key does not belong to the signer certificate")
        path = tuple(c for c in self.certificates if c.issuer != c.subject)
        object.__setattr__(self, "certificates", path[:MAX_CERTS])

    @property
    def originator(self) -> str:
        return originator_of(self.certificates[0])

    @property
    def lfdi(self) -> str:
        return lfdi_of_certificate(self.certificates[0])


def originator_of(cert: x509.Certificate) -> str:
    """The originator id a certificate signs as: its subject (RFC 4514), or its LFDI when the
    subject is empty (2030.5 device certificates)."""
    return cert.subject.rfc4514_string() or f"lfdi:{lfdi_of_certificate(cert)}"


@dataclass(frozen=True, slots=True)
class SignedCommand:
    """Canonical content, its ECDSA-SHA256 signature (DER) and the signer's path (DER)."""

    content: bytes
    signature: bytes
    certificates: tuple[bytes, ...]

    def encode(self) -> bytes:
        out = _Writer()
        out.raw(SIGNED_MAGIC)
        out.pack(">BI", VERSION, len(self.content))
        out.raw(self.content)
        out.pack(">B", len(self.signature))
        out.raw(self.signature)
        out.pack(">B", len(self.certificates))
        for cert in self.certificates:
            out.pack(">H", len(cert))
            out.raw(cert)
        return out.bytes()

    @classmethod
    def decode(cls, data: bytes) -> SignedCommand:
        if len(data) > MAX_DOCUMENT:
            raise MalformedCommand(f"a signed command has at most {MAX_DOCUMENT} bytes")
        try:
            src = _Reader(data)
            if src.take(4) != SIGNED_MAGIC:
                raise ValueError("wrong magic")
            version, size = src.unpack(">BI")
            if version != VERSION:
                raise ValueError(f"version {version} is not supported")
            content = src.take(size)
            signature = src.take(src.unpack(">B")[0])
            count = src.unpack(">B")[0]
            if not 1 <= count <= MAX_CERTS:
                raise ValueError("1 to 4 certificates")
            certs = tuple(src.take(src.unpack(">H")[0]) for _ in range(count))
            src.end()
        except (struct.error, ValueError) as err:
            raise MalformedCommand(f"not a signed command: {err}") from None
        return cls(content, signature, certs)

    def to_pem(self) -> bytes:
        """The command as a text file a field tool carries (PEM armour of :meth:`encode`)."""
        body = base64.encodebytes(self.encode()).decode().replace("\n", "")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return "\n".join(
            [f"-----BEGIN {PEM_LABEL}-----", *lines, f"-----END {PEM_LABEL}-----", ""]
        ).encode()

    @classmethod
    def from_pem(cls, data: bytes) -> SignedCommand:
        match = re.search(
            rf"-----BEGIN {PEM_LABEL}-----(.*?)-----END {PEM_LABEL}-----".encode(), data, re.S
        )
        if match is None:
            raise MalformedCommand("no signed command in the file")
        try:
            raw = base64.b64decode(b"".join(match.group(1).split()), validate=True)
        except ValueError:
            raise MalformedCommand("the signed command is not valid base64") from None
        return cls.decode(raw)

    @property
    def digest(self) -> bytes:
        """SHA-256 of the content: what the counter cache remembers."""
        return hashlib.sha256(self.content).digest()

    def command(self) -> CommandContent:
        """The content, decoded but NOT verified."""
        return CommandContent.decode(self.content)


def sign(content: CommandContent, signer: Signer) -> SignedCommand:
    """Sign ``content`` as ``signer``; the originator must be the signer's."""
    if content.originator != signer.originator:
        raise CommandError("the command's originator is not the signer")
    data = content.encode()
    signature = signer.key.sign(data, ec.ECDSA(hashes.SHA256()))
    return SignedCommand(data, signature, tuple(certificate_der(c) for c in signer.certificates))


@dataclass(frozen=True, slots=True)
class Trust:
    """What a device trusts: root certificates and (optionally) current CRLs."""

    roots: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...] = ()


@dataclass(frozen=True, slots=True)
class Verified:
    """A command whose signature, signer, recipient and window were checked."""

    content: CommandContent
    signer: VerifiedCertificate
    digest: bytes


def verify_signer(
    certificates: Sequence[bytes], trust: Trust, now: int
) -> tuple[x509.Certificate, VerifiedCertificate]:
    """The signer's leaf and what it says, if its path verifies and it may control."""
    try:
        leaf, *rest = [x509.load_der_x509_certificate(c) for c in certificates]
    except ValueError:
        raise UntrustedSigner("the signer's certificate path is not DER X.509") from None
    try:
        found = verify_certificate(
            leaf,
            intermediates=rest,
            trust_roots=trust.roots,
            crls=trust.crls,
            now=datetime.fromtimestamp(now, UTC),
            profiles={Profile.OPERATOR},
        )
    except (CertificateError, PkiError) as err:
        raise UntrustedSigner(f"signer not trusted: {err}") from None
    if not CONTROL_ROLES & set(found.roles):
        roles = ",".join(r.name for r in found.roles) or "none"
        raise UntrustedSigner(f"signer {found.subject} has no role with CONTROL (has {roles})")
    return leaf, found


def verify(
    signed: SignedCommand,
    *,
    trust: Trust,
    now: int,
    lfdi: str,
    groups: frozenset[str] | None = None,
    skew: int = DEFAULT_SKEW,
) -> Verified:
    """Check the signer's path and role, the signature, the recipient and the window.

    The counter is not checked here (it is state): pass the result to :meth:`CounterCache.admit`.
    """
    leaf, found = verify_signer(signed.certificates, trust, now)
    key = leaf.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)  # verify_certificate checked P-256
    try:
        key.verify(signed.signature, signed.content, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise BadSignature("the signature does not verify over the command") from None
    content = CommandContent.decode(signed.content)
    if content.originator != originator_of(leaf):
        raise BadSignature("the command's originator is not its signer")
    if not content.recipient.accepts(lfdi, groups):
        raise WrongRecipient(f"the command is for {content.recipient.describe()}")
    check_window(content, now, skew)
    return Verified(content, found, signed.digest)


def check_window(content: CommandContent, now: int, skew: int = DEFAULT_SKEW) -> None:
    if now < content.not_before - skew:
        raise NotYetValid(f"the command is valid from {_iso(content.not_before)}")
    if now > content.not_after:
        raise Expired(f"the command expired at {_iso(content.not_after)}")


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- replay -----------------------------------------------------------------------------------


@dataclass
class OriginatorState:
    highest: int = 0
    # counter -> (content digest hex, notAfter): accepted commands still inside their window
    seen: dict[int, tuple[str, int]] = field(default_factory=dict)


@dataclass
class CounterCache:
    """Per originator: the highest counter seen and the commands still valid (see module)."""

    window: int = 0
    originators: dict[str, OriginatorState] = field(default_factory=dict)

    def admit(
        self,
        originator: str,
        counter: int,
        digest: bytes,
        not_after: int,
        now: int,
        *,
        allow_repeat: bool = False,
    ) -> bool:
        """Record the command; True when new, False for an allowed repeat of the same command.

        Raises :class:`CounterReplay` (and changes nothing) for a used or too old counter.
        """
        state = self.originators.get(originator, OriginatorState())
        known = state.seen.get(counter)
        if known is not None:
            if allow_repeat and known[0] == digest.hex():
                return False
            raise CounterReplay(f"counter {counter} of {originator} was already used")
        if counter <= state.highest and state.highest - counter >= self.window:
            raise CounterReplay(
                f"counter {counter} of {originator} is not above {state.highest}"
                + (f" - {self.window}" if self.window else "")
            )
        state.seen = {c: v for c, v in state.seen.items() if v[1] >= now}
        state.seen[counter] = (digest.hex(), not_after)
        state.highest = max(state.highest, counter)
        self.originators[originator] = state
        return True

    def admit_verified(self, verified: Verified, now: int, *, allow_repeat: bool = False) -> bool:
        content = verified.content
        return self.admit(
            content.originator,
            content.counter,
            verified.digest,
            content.not_after,
            now,
            allow_repeat=allow_repeat,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "window": self.window,
            "originators": {
                name: {
                    "highest": s.highest,
                    "seen": {str(c): [d, t] for c, (d, t) in sorted(s.seen.items())},
                }
                for name, s in sorted(self.originators.items())
            },
        }

    @classmethod
    def from_json(cls, data: Any, window: int | None = None) -> CounterCache:
        try:
            states = {
                str(name): OriginatorState(
                    int(s["highest"]),
                    {int(c): (str(d), int(t)) for c, (d, t) in s["seen"].items()},
                )
                for name, s in data["originators"].items()
            }
            stored = int(data.get("window", 0))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CommandError(f"the counter state is damaged: {err}") from None
        return cls(stored if window is None else window, states)


def load_counters(path: Path, window: int = 0) -> CounterCache:
    """The counter cache stored at ``path`` (empty when the file does not exist yet)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return CounterCache(window)
    except OSError as err:
        raise CommandError(f"cannot read the counter state {path}: {err.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise CommandError(f"the counter state {path} is not JSON") from None
    return CounterCache.from_json(data, window)


def save_counters(path: Path, cache: CounterCache) -> None:
    """Write the cache durably (temporary file, fsync, rename) before the command is acted on."""
    write_durably(path, json.dumps(cache.to_json(), sort_keys=True).encode())


def write_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with temp.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror}") from None


# --- byte plumbing ----------------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def raw(self, data: bytes) -> None:
        self._parts.append(data)

    def pack(self, fmt: str, *values: int | float) -> None:
        try:
            self._parts.append(struct.pack(fmt, *values))
        except struct.error as err:
            raise CommandError(f"a command value is out of range: {err}") from None

    def text(self, value: str) -> None:
        data = value.encode()
        if len(data) > MAX_TEXT:
            raise CommandError("a text field of the command is too long")
        self.pack(">H", len(data))
        self.raw(data)

    def bytes(self) -> bytes:
        return b"".join(self._parts)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self._at + size > len(self._data):
            raise ValueError("truncated")
        chunk = self._data[self._at : self._at + size]
        self._at += size
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def text(self) -> str:
        size = self.unpack(">H")[0]
        if size > MAX_TEXT:
            raise ValueError("text too long")
        return self.take(size).decode("utf-8", errors="strict")

    def end(self) -> None:
        if self._at != len(self._data):
            raise ValueError("trailing bytes")
