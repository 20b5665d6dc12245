"""Data records of an end-to-end session: the binary layout and AES-GCM protection.

Layout (big-endian, 71 bytes of overhead)::

    offset  size  field
    0       1     content type 0x17 (0x16 is a handshake token, 0x18 a group message)
    1       1     record version 1
    2       1     flags: bit 0 confidential (payload encrypted), bit 1 close; others zero
    3       16    association id
    19      4     epoch (key generation: 0 after the handshake, +1 per rekey)
    23      8     time, milliseconds since 1970 UTC
    31      8     sequence number (per direction and epoch, from 0)
    39      12    nonce (= the direction's nonce base XOR the sequence number)
    51      4     payload length n
    55      n     payload: ciphertext when confidential, else the clear text
    55+n    16    AES-GCM tag

The 55-byte header is the AEAD's associated data, so association id, time, sequence number
and nonce are all authenticated (IEC 62351-4 puts the same fields in the AAD). A confidential
record encrypts the payload; an integrity-only record authenticates header and clear payload
as associated data (GMAC), so both use one key. The nonce is derived, never random, so it
cannot repeat under one key; the receiver recomputes it and refuses a record that differs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from derlink.e2e.errors import MalformedMessage, Tampered, Truncated

CONTENT_HANDSHAKE = 0x16
CONTENT_RECORD = 0x17
CONTENT_GROUP = 0x18
RECORD_VERSION = 1
FLAG_CONFIDENTIAL = 0x01
#: The sender's last record of the association: what follows it is refused, and a stream
#: that ends without it was cut (truncation of the conversation, not only of a record).
FLAG_CLOSE = 0x02
_KNOWN_FLAGS = FLAG_CONFIDENTIAL | FLAG_CLOSE

_HEADER = struct.Struct(">BBB16sIQQ12sI")
HEADER_SIZE = _HEADER.size  # 55
TAG_SIZE = 16
OVERHEAD = HEADER_SIZE + TAG_SIZE
NONCE_SIZE = 12
#: Largest payload a record carries (an XMPP stanza is far smaller in practice).
MAX_PAYLOAD = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RecordHeader:
    """The authenticated header of a data record."""

    confidential: bool
    association_id: bytes
    epoch: int
    time_ms: int
    sequence: int
    nonce: bytes
    length: int
    close: bool = False

    def pack(self) -> bytes:
        flags = (FLAG_CONFIDENTIAL if self.confidential else 0) | (FLAG_CLOSE if self.close else 0)
        return _HEADER.pack(
            CONTENT_RECORD,
            RECORD_VERSION,
            flags,
            self.association_id,
            self.epoch,
            self.time_ms,
            self.sequence,
            self.nonce,
            self.length,
        )


def parse(record: bytes) -> tuple[RecordHeader, bytes, bytes, bytes]:
    """(header, header bytes, payload, tag) of a record; refuses cut or padded records."""
    if len(record) < HEADER_SIZE:
        raise Truncated(f"record of {len(record)} bytes is shorter than its header")
    kind, version, flags, aid, epoch, time_ms, sequence, nonce, length = _HEADER.unpack_from(record)
    if kind != CONTENT_RECORD:
        raise MalformedMessage(f"content type 0x{kind:02x} is not a data record")
    if version != RECORD_VERSION:
        raise MalformedMessage(f"record version {version} is not {RECORD_VERSION}")
    if flags & ~_KNOWN_FLAGS:
        raise MalformedMessage(f"record flags 0x{flags:02x} hold unknown bits")
    if length > MAX_PAYLOAD:
        raise MalformedMessage(f"record payload length {length} is too large")
    expected = HEADER_SIZE + length + TAG_SIZE
    if len(record) < expected:
        raise Truncated(f"record of {len(record)} bytes, its header says {expected}")
    if len(record) > expected:
        raise MalformedMessage(f"record of {len(record)} bytes has trailing data")
    header = RecordHeader(
        bool(flags & FLAG_CONFIDENTIAL),
        aid,
        epoch,
        time_ms,
        sequence,
        nonce,
        length,
        bool(flags & FLAG_CLOSE),
    )
    payload = record[HEADER_SIZE : HEADER_SIZE + length]
    return header, record[:HEADER_SIZE], payload, record[HEADER_SIZE + length :]


class DirectionKey:
    """The AES-GCM key and nonce base of one direction of one epoch."""

    __slots__ = ("_aead", "nonce_base")

    def __init__(self, key: bytes, nonce_base: bytes) -> None:
        self._aead = AESGCM(key)
        self.nonce_base = int.from_bytes(nonce_base, "big")

    def nonce(self, sequence: int) -> bytes:
        return (self.nonce_base ^ sequence).to_bytes(NONCE_SIZE, "big")

    def seal(self, header: RecordHeader, payload: bytes) -> bytes:
        """The whole record: header, payload (encrypted when confidential), tag."""
        header_bytes = header.pack()
        if header.confidential:
            sealed = self._aead.encrypt(header.nonce, payload, header_bytes)
            return header_bytes + sealed
        tag = self._aead.encrypt(header.nonce, b"", header_bytes + payload)
        return header_bytes + payload + tag

    def open(self, header: RecordHeader, header_bytes: bytes, payload: bytes, tag: bytes) -> bytes:
        """The clear payload, or :class:`Tampered` when the tag does not verify."""
        if header.nonce != self.nonce(header.sequence):
            raise Tampered("the record nonce is not the one its sequence number gives")
        try:
            if header.confidential:
                return self._aead.decrypt(header.nonce, payload + tag, header_bytes)
            self._aead.decrypt(header.nonce, tag, header_bytes + payload)
        except InvalidTag:
            raise Tampered("the record's authentication tag does not verify") from None
        return payload
