"""RFC 6962 Merkle tree hashing, proofs and proof verification (pure, sans-IO).

This module implements the Merkle Hash Tree of RFC 6962 section 2.1 (Certificate
Transparency), as restated without change in RFC 9162 section 2.1.1:

* leaf and interior node hashing with domain separation (RFC 6962 §2.1, RFC 9162 §2.1.1);
* the Merkle Tree Hash ``MTH(D[n])`` over a list of leaf hashes (RFC 6962 §2.1);
* audit paths ``PATH(m, D[n])`` (RFC 6962 §2.1.1, RFC 9162 §2.1.3.1);
* consistency proofs ``PROOF(m, D[n])`` / ``SUBPROOF(m, D[n], b)`` (RFC 6962 §2.1.2,
  RFC 9162 §2.1.4.1);
* verification of both proof kinds with the iterative bit algorithms of RFC 9162 §2.1.3.2
  and §2.1.4.2;
* :class:`CompactRange`, the "frontier" of a growing log: the roots of the perfect subtrees on
  its right edge, which is enough to append a leaf and to compute the root in O(log n), and
  which serialises to a small byte string that can live in a database row between appends.

All functions take and return raw 32-byte SHA-256 digests. The proof *generators* work on the
full list of leaf hashes (``leaf_hash(entry)`` for every log entry, in order) and run in O(n)
time per call with an iterative, level-by-level computation, so they stay usable for logs of
around a million records. The verifiers never raise on malformed input: a proof of the wrong
length, an index outside the tree, a hash of the wrong size or an object of the wrong type
simply makes them return ``False``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
"""Size in bytes of every hash in the tree (SHA-256, RFC 6962 §2.1)."""

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""``MTH({}) = SHA-256()``: the hash of the empty tree is the hash of the empty string
(RFC 6962 §2.1)."""


# --------------------------------------------------------------------------------------------
# Hashing (RFC 6962 §2.1)
# --------------------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """Hash one log entry: ``MTH({d(0)}) = SHA-256(0x00 || d(0))`` (RFC 6962 §2.1).

    The 0x00 prefix separates leaves from interior nodes, as required for second-preimage
    resistance (RFC 6962 §2.1, RFC 9162 §2.1.1).
    """
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two children: ``SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`` (RFC 6962 §2.1)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split_point(n: int) -> int:
    """Return ``k``, the largest power of two strictly smaller than ``n`` (RFC 6962 §2.1).

    ``n`` must be at least 2, so that ``k < n <= 2k``.
    """
    return 1 << ((n - 1).bit_length() - 1)


def _range_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """Return ``MTH(D[lo:hi])`` for ``lo < hi``, computed level by level in O(hi - lo).

    Pairing nodes left to right and carrying an unpaired last node up unchanged builds
    exactly the left-balanced tree that the recursive definition of RFC 6962 §2.1 describes
    (split at the largest power of two smaller than n), without recursion or slicing.
    """
    if hi - lo == 1:
        return leaves[lo]
    level: list[bytes] = [node_hash(leaves[i], leaves[i + 1]) for i in range(lo, hi - 1, 2)]
    if (hi - lo) % 2:
        level.append(leaves[hi - 1])
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash ``MTH(D[n])`` of a list of leaf hashes (RFC 6962 §2.1).

    ``leaf_hashes[i]`` must be :func:`leaf_hash` of entry ``i``. The empty tree hashes to
    :data:`EMPTY_ROOT`; a one-leaf tree hashes to its leaf hash; otherwise
    ``MTH(D[n]) = node_hash(MTH(D[0:k]), MTH(D[k:n]))`` with ``k`` the largest power of two
    smaller than ``n``. Runs in O(n) time and O(n / 2) extra memory.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


# --------------------------------------------------------------------------------------------
# Proof generation (RFC 6962 §2.1.1 and §2.1.2)
# --------------------------------------------------------------------------------------------


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return the audit path ``PATH(index, D[n])`` of leaf ``index`` (RFC 6962 §2.1.1).

    The path lists the sibling subtree hashes from the leaf up to (excluding) the root, i.e.
    for ``m < k``: ``PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])`` and for ``m >= k``:
    ``PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])``; ``PATH(0, {d(0)}) = {}``.
    The recursion is unrolled into a loop; the sibling subtrees are disjoint, so the total
    work is O(n).

    Raises:
        ValueError: if ``index`` is not in ``[0, len(leaf_hashes))`` (there is no audit path
            in an empty tree, RFC 9162 §2.1.3.1).
    """
    n = len(leaf_hashes)
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"leaf index must be an int, got {type(index).__name__}")
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} out of range for a tree of size {n}")
    siblings: list[bytes] = []  # collected root-first, reversed at the end
    lo, hi, m = 0, n, index
    while hi - lo > 1:
        k = _split_point(hi - lo)
        if m < k:
            siblings.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            siblings.append(_range_root(leaf_hashes, lo, lo + k))
            lo, m = lo + k, m - k
    siblings.reverse()
    return siblings


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Return ``PROOF(old_size, D[n])``: the old tree is a prefix of this one (RFC 6962 §2.1.2).

    ``PROOF(m, D[n]) = SUBPROOF(m, D[n], true)`` where, with ``k`` the largest power of two
    smaller than ``n``:

    * ``SUBPROOF(m, D[m], true) = {}`` and ``SUBPROOF(m, D[m], false) = {MTH(D[m])}``;
    * for ``m <= k``: ``SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])``;
    * for ``m > k``: ``SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])``.

    The ``b`` flag records whether the subtree being proven is the old tree's own root, which
    the verifier already knows. The proof is empty when ``old_size`` is 0 or ``n`` (trivial
    consistency, RFC 9162 §2.1.4.1 covers ``0 < m < n``). O(n) total work.

    Raises:
        ValueError: if ``old_size`` is negative or larger than ``len(leaf_hashes)``.
    """
    n = len(leaf_hashes)
    if isinstance(old_size, bool) or not isinstance(old_size, int):
        raise ValueError(f"old tree size must be an int, got {type(old_size).__name__}")
    if old_size < 0:
        raise ValueError(f"old tree size {old_size} is negative")
    if old_size > n:
        raise ValueError(f"old tree size {old_size} exceeds the current tree size {n}")
    if old_size in (0, n):
        return []
    nodes: list[bytes] = []  # collected root-first, reversed at the end
    lo, hi, m, b = 0, n, old_size, True
    while m != hi - lo:
        k = _split_point(hi - lo)
        if m <= k:
            nodes.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            nodes.append(_range_root(leaf_hashes, lo, lo + k))
            lo, m, b = lo + k, m - k, False
    if not b:
        nodes.append(_range_root(leaf_hashes, lo, hi))
    nodes.reverse()
    return nodes


# --------------------------------------------------------------------------------------------
# Proof verification (RFC 9162 §2.1.3.2 and §2.1.4.2)
# --------------------------------------------------------------------------------------------


def _is_hash(value: object) -> bool:
    """Whether ``value`` is a byte string of exactly :data:`HASH_SIZE` bytes."""
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    """Whether ``value`` is a non-negative int (bools excluded)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_path(value: object) -> bool:
    """Whether ``value`` is a list or tuple of well-formed hashes."""
    return isinstance(value, list | tuple) and all(_is_hash(p) for p in value)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` with ``root``.

    Implements RFC 9162 §2.1.3.2 step by step:

    1. fail if ``leaf_index >= tree_size``;
    2. ``fn = leaf_index``, ``sn = tree_size - 1``, ``r = hash``;
    3. for each ``p`` in the path: fail if ``sn == 0``; if ``LSB(fn)`` is set or ``fn == sn``,
       ``r = HASH(0x01 || p || r)`` and, if ``LSB(fn)`` was not set, right-shift ``fn`` and
       ``sn`` until ``LSB(fn)`` is set or ``fn == 0``; otherwise ``r = HASH(0x01 || r || p)``;
       then right-shift ``fn`` and ``sn`` once;
    4. succeed iff ``sn == 0`` and ``r == root_hash``.

    Never raises: malformed arguments (wrong proof length or hash size, negative or
    out-of-range index, wrong types) make it return ``False``.
    """
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_path(proof)):
        return False
    if not (_is_size(index) and _is_size(tree_size)) or index >= tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(bytes(p), r)
            while fn and not fn & 1:  # only runs when LSB(fn) was not set
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, bytes(p))
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == bytes(root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check that the tree (``new_size``, ``new_root``) extends (``old_size``, ``old_root``).

    For ``0 < first < second`` this is RFC 9162 §2.1.4.2 step by step:

    1. fail if the consistency path is empty;
    2. if ``first`` is an exact power of 2, prepend ``first_hash`` to the path;
    3. ``fn = first - 1``, ``sn = second - 1``;
    4. while ``LSB(fn)`` is set, right-shift ``fn`` and ``sn``;
    5. ``fr = sr = path[0]``;
    6. for each later ``c``: fail if ``sn == 0``; if ``LSB(fn)`` is set or ``fn == sn``,
       ``fr = HASH(0x01 || c || fr)``, ``sr = HASH(0x01 || c || sr)`` and, if ``LSB(fn)`` was
       not set, right-shift ``fn`` and ``sn`` until ``LSB(fn)`` is set or ``fn == 0``;
       otherwise ``sr = HASH(0x01 || sr || c)``; then right-shift ``fn`` and ``sn`` once;
    7. succeed iff ``fr == first_hash``, ``sr == second_hash`` and ``sn == 0``.

    The trivial cases outside ``0 < first < second`` (RFC 6962 §2.1.2 gives them empty
    proofs) are decided directly: equal sizes need equal roots and an empty proof; an old
    size of 0 needs an empty proof and ``old_root`` equal to :data:`EMPTY_ROOT`, the only
    hash an empty tree can have (RFC 6962 §2.1). ``old_size > new_size`` always fails.

    Never raises: malformed arguments make it return ``False``.
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and _is_path(proof)):
        return False
    if not (_is_size(old_size) and _is_size(new_size)) or old_size > new_size:
        return False
    old_root, new_root = bytes(old_root), bytes(new_root)
    if old_size == new_size:
        return not proof and old_root == new_root and (old_size > 0 or old_root == EMPTY_ROOT)
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = [bytes(p) for p in proof]
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:  # only runs when LSB(fn) was not set
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# --------------------------------------------------------------------------------------------
# Compact range / frontier for incremental appends
# --------------------------------------------------------------------------------------------

_FORMAT_VERSION: Final = 1
_HEADER_SIZE: Final = 1 + 8  # version byte, big-endian uint64 size


class CompactRange:
    """The right-edge "frontier" of a growing RFC 6962 tree, for O(log n) appends.

    A tree of ``size`` leaves decomposes into perfect subtrees, one per set bit of ``size``,
    largest (leftmost) first: e.g. 6 = 4 + 2 gives ``MTH(D[0:4])`` and ``MTH(D[4:6])``. Those
    ``popcount(size)`` hashes are all that is needed to append a leaf (merge equal-sized
    subtrees, as the left-balanced shape of RFC 6962 §2.1 requires) and to compute the root
    (fold them right to left with :func:`node_hash`, which is the recursive split at the
    largest power of two of RFC 6962 §2.1). :meth:`root` equals :func:`root_hash` of all
    appended leaf hashes.

    Serialised form (:meth:`to_bytes`): one version byte (1), the size as a big-endian
    unsigned 64-bit integer, then the subtree hashes left to right, 32 bytes each.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        """Create a frontier for a tree of ``size`` leaves from its subtree hashes.

        ``hashes`` are the roots of the perfect subtrees of the tree, left (largest) to right.

        Raises:
            ValueError: if ``size`` is negative or too large, if a hash is not 32 bytes, or if
                the number of hashes differs from the number of set bits of ``size``.
        """
        if isinstance(size, bool) or not isinstance(size, int):
            raise ValueError(f"size must be an int, got {type(size).__name__}")
        if not 0 <= size < 1 << 64:
            raise ValueError(f"size {size} out of range [0, 2**64)")
        stack = [bytes(h) for h in hashes]
        for h in stack:
            if len(h) != HASH_SIZE:
                raise ValueError(f"subtree hash must be {HASH_SIZE} bytes, got {len(h)}")
        if len(stack) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} subtree hashes, got {len(stack)}"
            )
        self._size = size
        self._hashes = stack

    @classmethod
    def from_leaves(cls, leaf_hashes: Iterable[bytes]) -> CompactRange:
        """Build the frontier of the tree whose leaf hashes are ``leaf_hashes``."""
        cr = cls()
        cr.extend(leaf_hashes)
        return cr

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees, left (largest) to right (smallest)."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash in O(log n).

        The new leaf is a perfect subtree of height 0; while the rightmost existing subtree
        has the same height (the corresponding low bit of ``size`` is set), the two are merged
        into ``node_hash(left, right)`` (RFC 6962 §2.1).

        Raises:
            ValueError: if ``leaf_hash`` is not 32 bytes or the tree is full (2**64 - 1).
        """
        if not _is_hash(leaf_hash):
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        if self._size >= (1 << 64) - 1:
            raise ValueError("tree size limit of 2**64 - 1 leaves reached")
        h = bytes(leaf_hash)
        s = self._size
        while s & 1:
            h = node_hash(self._hashes.pop(), h)
            s >>= 1
        self._hashes.append(h)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """Return ``MTH(D[size])`` in O(log n) (RFC 6962 §2.1).

        Folding the subtree roots from right to left reproduces the split at the largest
        power of two: the leftmost subtree is ``D[0:k]`` and the rest is ``D[k:n]``.
        """
        if not self._hashes:
            return EMPTY_ROOT
        r = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            r = node_hash(h, r)
        return r

    def copy(self) -> CompactRange:
        """Return an independent copy."""
        return CompactRange(self._size, self._hashes)

    def to_bytes(self) -> bytes:
        """Serialise to ``version || size (uint64 BE) || hashes`` (see the class docstring)."""
        return bytes([_FORMAT_VERSION]) + self._size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> CompactRange:
        """Parse the output of :meth:`to_bytes`.

        Raises:
            ValueError: on an unknown version, a truncated header, or a body whose length
                does not match ``popcount(size)`` hashes.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError(f"expected bytes, got {type(data).__name__}")
        raw = bytes(data)
        if len(raw) < _HEADER_SIZE:
            raise ValueError(f"compact range encoding too short: {len(raw)} bytes")
        if raw[0] != _FORMAT_VERSION:
            raise ValueError(f"unsupported compact range encoding version {raw[0]}")
        size = int.from_bytes(raw[1:_HEADER_SIZE], "big")
        body = raw[_HEADER_SIZE:]
        expected = size.bit_count() * HASH_SIZE
        if len(body) != expected:
            raise ValueError(
                f"compact range of size {size} needs {expected} hash bytes, got {len(body)}"
            )
        hashes = [body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE)]
        return cls(size, hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
