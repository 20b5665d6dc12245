"""Signed tree heads: the audit key's signature over (tree size, time, Merkle root).

Modelled on RFC 6962 section 3.5: a tree head commits to every record up to ``size``. Anyone
with the audit certificate can check it; a witness that keeps a head can later prove the log
was not rewritten or truncated behind it (consistency proof, RFC 6962 section 2.1.2).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

DOMAIN = b"derlink-audit-tree-head-v1\x00"


def _signed_bytes(size: int, timestamp_ms: int, root: bytes) -> bytes:
    return DOMAIN + size.to_bytes(8, "big") + timestamp_ms.to_bytes(8, "big") + root


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A signed commitment to the first ``size`` records of the log."""

    size: int
    timestamp_ms: int
    root: bytes
    signature: bytes

    @classmethod
    def sign(
        cls, key: ec.EllipticCurvePrivateKey, size: int, timestamp_ms: int, root: bytes
    ) -> TreeHead:
        signature = key.sign(_signed_bytes(size, timestamp_ms, root), ec.ECDSA(hashes.SHA256()))
        return cls(size, timestamp_ms, root, signature)

    def verify(self, public_key: ec.EllipticCurvePublicKey) -> bool:
        try:
            public_key.verify(
                self.signature,
                _signed_bytes(self.size, self.timestamp_ms, self.root),
                ec.ECDSA(hashes.SHA256()),
            )
        except InvalidSignature:
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.size,
            "timestamp_ms": self.timestamp_ms,
            "root_hash": self.root.hex(),
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TreeHead:
        """Parse a head kept by a witness; raises ValueError on any malformed field."""
        try:
            head = cls(
                size=int(data["tree_size"]),
                timestamp_ms=int(data["timestamp_ms"]),
                root=bytes.fromhex(data["root_hash"]),
                signature=base64.b64decode(data["signature"], validate=True),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a derlink tree head: {err}") from None
        if head.size < 1 or len(head.root) != 32:
            raise ValueError("not a derlink tree head: bad size or root length")
        return head
