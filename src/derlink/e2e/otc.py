"""One-time configuration codes: a short decimal code that works once, on one device only.

GB smart metering top-up codes (REFERENCE.md): counter bits, a value, and a truncated tag keyed
by a static ECDH between the issuer and that one meter; the meter keeps a counter cache and
refuses reuse. derlink's code, sans-IO (keys and ``now`` passed in):

- **Layout**: 20 decimal digits = 19 payload digits + a Luhn check digit (ISO/IEC 7812-1), so
  a mistyped digit or a swap of neighbours is refused before any cryptography. The payload is a
  63-bit integer (10^19 > 2^63): counter (16 bits) | action (4 bits) | value (12 bits) |
  tag (31 bits).
- **Key**: ``HKDF-SHA256(ECDH(issuer key, device public key), salt="derlink-otc-v1",
  info=issuer LFDI ‖ device LFDI)``, 32 bytes. Both ends hold a P-256 key whose certificate
  allows keyAgreement (operator and 2030.5 device certificates both do). Another device derives
  another key, so the code fails there.
- **Tag**: HMAC-SHA256 over ``"DLOTC1" ‖ issuer LFDI ‖ device LFDI ‖ counter ‖ action ‖ value``
  truncated to 31 bits. Not a truncated GCM tag: NIST SP 800-38D (appendix C) shows short GCM
  tags lose more than their length against forgery; a truncated HMAC keeps its full length
  (RFC 2104 §5). 31 bits make a blind guess succeed once in 2·10^9 tries.
- **Replay**: the issuer allocates the counter per (issuer, device) pair, durably; the device
  keeps a :class:`~derlink.e2e.commands.CounterCache` per issuer with a small window
  (:data:`WINDOW`: codes may be entered out of order, each once). 16 counter bits give 65 535
  codes per issuer and device.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from derlink.e2e.commands import BadSignature, CommandError, CounterCache, MalformedCommand

DIGITS = 20
COUNTER_BITS = 16
ACTION_BITS = 4
VALUE_BITS = 12
TAG_BITS = 31
MAX_COUNTER = (1 << COUNTER_BITS) - 1
MAX_VALUE = (1 << VALUE_BITS) - 1
WINDOW = 32
SALT = b"derlink-otc-v1"
LABEL = b"DLOTC1"
#: A code never expires by time, only by use: its notAfter for the counter cache.
FOREVER = 2**62


class MalformedCode(MalformedCommand):
    """Not 20 digits, or the check digit does not match (a typo)."""

    code = "otc.malformed"


class Action(enum.IntEnum):
    """What a code sets; ``value`` is in the unit named."""

    CONNECT = 1  # value 1 connect, 0 disconnect
    ENERGIZE = 2  # value 1 energise, 0 de-energise
    EXPORT_LIMIT_100W = 3  # value x 100 W
    IMPORT_LIMIT_100W = 4  # value x 100 W
    MAX_POWER_PCT = 5  # value in percent (0..100)
    RESET_LIMITS = 6  # value 0

    @classmethod
    def parse(cls, text: str) -> Action:
        try:
            return cls[text.strip().upper().replace("-", "_")]
        except KeyError:
            names = ", ".join(a.name.lower().replace("_", "-") for a in cls)
            raise CommandError(f"unknown action {text!r} (one of {names})") from None


_VALUE_LIMITS = {Action.CONNECT: 1, Action.ENERGIZE: 1, Action.MAX_POWER_PCT: 100}


@dataclass(frozen=True, slots=True)
class CodeContent:
    counter: int
    action: Action
    value: int

    def __post_init__(self) -> None:
        if not 1 <= self.counter <= MAX_COUNTER:
            raise CommandError(f"counter {self.counter} is outside 1..{MAX_COUNTER}")
        top = _VALUE_LIMITS.get(self.action, 0 if self.action is Action.RESET_LIMITS else MAX_VALUE)
        if not 0 <= self.value <= top:
            raise CommandError(f"value {self.value} is outside 0..{top} for {self.action.name}")


def luhn_digit(digits: str) -> int:
    """The Luhn check digit to append to ``digits``."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return (10 - total % 10) % 10


def derive_key(
    own_key: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey, issuer: str, device: str
) -> bytes:
    """The pair's MAC key (same on both ends: ECDH is symmetric)."""
    shared = own_key.exchange(ec.ECDH(), peer)
    info = bytes.fromhex(issuer) + bytes.fromhex(device)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=info).derive(shared)


def _tag(key: bytes, issuer: str, device: str, content: CodeContent) -> int:
    message = (
        LABEL
        + bytes.fromhex(issuer)
        + bytes.fromhex(device)
        + content.counter.to_bytes(2, "big")
        + bytes([int(content.action)])
        + content.value.to_bytes(2, "big")
    )
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") >> (32 - TAG_BITS)


def issue(
    content: CodeContent,
    *,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer_lfdi: str,
    device_public: ec.EllipticCurvePublicKey,
    device_lfdi: str,
) -> str:
    """The 20-digit code for ``content`` on that one device."""
    key = derive_key(issuer_key, device_public, issuer_lfdi, device_lfdi)
    payload = content.counter
    payload = (payload << ACTION_BITS) | int(content.action)
    payload = (payload << VALUE_BITS) | content.value
    payload = (payload << TAG_BITS) | _tag(key, issuer_lfdi, device_lfdi, content)
    body = f"{payload:019d}"
    return body + str(luhn_digit(body))


def format_code(code: str) -> str:
    """``1234 5678 9012 3456 7890``: how a code is shown and read out."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


@dataclass(frozen=True, slots=True)
class ParsedCode:
    counter: int
    action: int
    value: int
    tag: int


def read_code(text: str) -> ParsedCode:
    """The fields of a typed code (spaces and dashes ignored); :class:`MalformedCode`."""
    digits = "".join(c for c in text if c not in " -")
    if len(digits) != DIGITS or not digits.isascii() or not digits.isdigit():
        raise MalformedCode(f"a code is {DIGITS} digits")
    if luhn_digit(digits[:-1]) != int(digits[-1]):
        raise MalformedCode("the check digit does not match: a digit was mistyped")
    payload = int(digits[:-1])
    tag = payload & ((1 << TAG_BITS) - 1)
    payload >>= TAG_BITS
    value = payload & MAX_VALUE
    payload >>= VALUE_BITS
    action = payload & ((1 << ACTION_BITS) - 1)
    counter = payload >> ACTION_BITS
    return ParsedCode(counter, action, value, tag)


def accept(
    text: str,
    *,
    device_key: ec.EllipticCurvePrivateKey,
    device_lfdi: str,
    issuer_public: ec.EllipticCurvePublicKey,
    issuer_lfdi: str,
    counters: CounterCache,
    now: int,
) -> CodeContent:
    """Check a typed code on the device and record its counter; raises and changes nothing
    when it is mistyped (:class:`MalformedCode`), not for this device or forged
    (:class:`~derlink.e2e.commands.BadSignature`) or used (``CounterReplay``)."""
    parsed = read_code(text)
    try:
        content = CodeContent(parsed.counter, Action(parsed.action), parsed.value)
    except (ValueError, CommandError):
        raise BadSignature("the code does not verify on this device") from None
    key = derive_key(device_key, issuer_public, issuer_lfdi, device_lfdi)
    if not hmac.compare_digest(
        _tag(key, issuer_lfdi, device_lfdi, content).to_bytes(4, "big"),
        parsed.tag.to_bytes(4, "big"),
    ):
        raise BadSignature("the code does not verify on this device")
    digest = hashlib.sha256(text.encode()).digest()
    counters.admit(f"otc:{issuer_lfdi}", content.counter, digest, FOREVER, now)
    return content
