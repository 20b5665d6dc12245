"""Tests for derlink.audit.merkle: published CT vectors, RFC properties, edge cases."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derlink.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# ---------------------------------------------------------------------------------------------
# Published test vectors.
#
# Data only (hex strings), taken from:
#   [CT]  google/certificate-transparency, cpp/merkletree/merkle_tree_test.cc
#         (commit c25edc2cced17500dec7bdc4e1fb51e9aeca5683): kSHA256EmptyTreeHash, kInputs,
#         kSHA256Roots, kSHA256Paths, kSHA256Proofs.
#   [TD]  transparency-dev/merkle, proof/verify_test.go
#         (commit 02194e9afb6c1d95b5381350007963aa70fff472): the same leaves, roots,
#         inclusionProofs and consistencyProofs, plus the extra consistency vector (6, 7).
#   [TDC] transparency-dev/merkle, testonly/constants.go
#         (commit 582a6ad190b6848f1d26f8bf08ddef29955d9db1): NodeHashes and CompactTrees.
# Leaf indices in the path vectors are 1-based in both sources ([TD] passes ``leaf - 1``).
# ---------------------------------------------------------------------------------------------

SHA256_EMPTY_TREE_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
# [TD] sha256SomeHash, an arbitrary well-formed 32-byte value used as a wrong hash.
SHA256_SOME_HASH = "abacaba000000000000000000000000000000000000000000060061e00123456"

LEAF_INPUTS_HEX = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]

# MTH of the first n inputs, n = 1..8.
ROOTS_HEX = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# [TDC] NodeHashes: [level][index] hashes of every complete subtree of the 8-leaf tree.
NODE_HASHES_HEX = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    [
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ],
]

# [TDC] CompactTrees: (level, index) into NODE_HASHES_HEX for tree sizes 0..8.
COMPACT_TREES = [
    [],
    [(0, 0)],
    [(1, 0)],
    [(1, 0), (0, 2)],
    [(2, 0)],
    [(2, 0), (0, 4)],
    [(2, 0), (1, 2)],
    [(2, 0), (1, 2), (0, 6)],
    [(3, 0)],
]

# [CT] kSHA256Paths / [TD] inclusionProofs: (1-based leaf, tree size, audit path).
INCLUSION_VECTORS: list[tuple[int, int, list[str]]] = [
    (0, 0, []),
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        [
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        ],
    ),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# [CT] kSHA256Proofs / [TD] consistencyProofs: (old size, new size, proof).
CONSISTENCY_VECTORS: list[tuple[int, int, list[str]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

INPUTS = [bytes.fromhex(h) for h in LEAF_INPUTS_HEX]
LEAVES = [leaf_hash(d) for d in INPUTS]
ROOTS = [bytes.fromhex(SHA256_EMPTY_TREE_HASH)] + [bytes.fromhex(h) for h in ROOTS_HEX]
EMPTY = bytes.fromhex(SHA256_EMPTY_TREE_HASH)
SOME = bytes.fromhex(SHA256_SOME_HASH)


def _hx(hashes: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


def _flip(data: bytes, byte: int = 0, mask: int = 8) -> bytes:
    return data[:byte] + bytes([data[byte] ^ mask]) + data[byte + 1 :]


def _ref_mth(d: Sequence[bytes]) -> bytes:
    """Literal transcription of MTH (RFC 6962 §2.1), recursive, for cross-checking."""
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = 1
    while k * 2 < len(d):
        k *= 2
    return node_hash(_ref_mth(d[:k]), _ref_mth(d[k:]))


def _ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """Literal transcription of PATH(m, D[n]) (RFC 6962 §2.1.1)."""
    if len(d) == 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m < k:
        return [*_ref_path(m, d[:k]), _ref_mth(d[k:])]
    return [*_ref_path(m - k, d[k:]), _ref_mth(d[:k])]


def _ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """Literal transcription of SUBPROOF(m, D[n], b) (RFC 6962 §2.1.2)."""
    if m == len(d):
        return [] if b else [_ref_mth(d)]
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m <= k:
        return [*_ref_subproof(m, d[:k], b), _ref_mth(d[k:])]
    return [*_ref_subproof(m - k, d[k:], False), _ref_mth(d[:k])]


def _inclusion_corruptions(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> list[tuple[str, bytes, int, int, list[bytes], bytes]]:
    """The probes of [TD] corruptInclusionProof, each of which must fail."""
    probes = [
        ("index - 1", leaf, index - 1, size, proof, root),
        ("index + 1", leaf, index + 1, size, proof, root),
        ("index ^ 2", leaf, index ^ 2, size, proof, root),
        ("size * 2", leaf, index, size * 2, proof, root),
        ("size / 2", leaf, index, size // 2, proof, root),
        ("wrong leaf", b"WrongLeaf", index, size, proof, root),
        ("empty root", leaf, index, size, proof, EMPTY),
        ("random root", leaf, index, size, proof, SOME),
        ("trailing garbage", leaf, index, size, [*proof, b""], root),
        ("trailing root", leaf, index, size, [*proof, root], root),
        ("preceding garbage", leaf, index, size, [b"", *proof], root),
        ("preceding root", leaf, index, size, [root, *proof], root),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = _flip(wrong[i], 0, 8)
        probes.append((f"modified proof[{i}] bit 3", leaf, index, size, wrong, root))
    if proof:
        probes.append(("removed component", leaf, index, size, proof[:-1], root))
    if len(proof) > 1:
        probes.append(("inserted component", leaf, index, size, [proof[0], SOME, *proof[1:]], root))
    return probes


def _consistency_corruptions(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    """The probes of [TD] corruptConsistencyProof, each of which must fail."""
    probes = [
        ("size1 - 1", size1 - 1, size2, root1, root2, proof),
        ("size1 + 1", size1 + 1, size2, root1, root2, proof),
        ("size1 ^ 2", size1 ^ 2, size2, root1, root2, proof),
        ("size2 * 2", size1, size2 * 2, root1, root2, proof),
        ("size2 / 2", size1, size2 // 2, root1, root2, proof),
        ("wrong root1", size1, size2, b"WrongRoot", root2, proof),
        ("wrong root2", size1, size2, root1, b"WrongRoot", proof),
        ("swapped roots", size1, size2, root2, root1, proof),
        ("empty proof", size1, size2, root1, root2, []),
        ("trailing garbage", size1, size2, root1, root2, [*proof, b""]),
        ("trailing root1", size1, size2, root1, root2, [*proof, root1]),
        ("trailing root2", size1, size2, root1, root2, [*proof, root2]),
        ("preceding garbage", size1, size2, root1, root2, [b"", *proof]),
        ("preceding root1", size1, size2, root1, root2, [root1, *proof]),
        ("preceding root2", size1, size2, root1, root2, [root2, *proof]),
        ("preceding proof[0]", size1, size2, root1, root2, [proof[0], *proof]),
        ("truncated proof", size1, size2, root1, root2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = _flip(wrong[i], 0, 16)
        probes.append((f"modified proof[{i}] bit 4", size1, size2, root1, root2, wrong))
    return probes


# ---------------------------------------------------------------------------------------------
# 1. Published vectors
# ---------------------------------------------------------------------------------------------


def test_empty_tree_hash_vector() -> None:
    assert root_hash([]) == EMPTY == EMPTY_ROOT
    assert CompactRange().root() == EMPTY


def test_leaf_hash_vectors() -> None:
    assert [h.hex() for h in LEAVES] == NODE_HASHES_HEX[0]


def test_node_hash_vectors() -> None:
    for level, hashes in enumerate(NODE_HASHES_HEX):
        width = 1 << level
        for j, expected in enumerate(hashes):
            assert root_hash(LEAVES[j * width : (j + 1) * width]).hex() == expected
        if level:
            below = NODE_HASHES_HEX[level - 1]
            for j, expected in enumerate(hashes):
                left, right = bytes.fromhex(below[2 * j]), bytes.fromhex(below[2 * j + 1])
                assert node_hash(left, right).hex() == expected


@pytest.mark.parametrize("n", range(9))
def test_root_vectors(n: int) -> None:
    assert root_hash(LEAVES[:n]) == ROOTS[n]
    assert CompactRange.from_leaves(LEAVES[:n]).root() == ROOTS[n]


@pytest.mark.parametrize("n", range(9))
def test_compact_tree_vectors(n: int) -> None:
    expected = tuple(bytes.fromhex(NODE_HASHES_HEX[lv][ix]) for lv, ix in COMPACT_TREES[n])
    cr = CompactRange.from_leaves(LEAVES[:n])
    assert cr.size == n
    assert cr.hashes == expected


def test_root_vectors_incremental() -> None:
    cr = CompactRange()
    for n, leaf in enumerate(LEAVES, start=1):
        cr.append(leaf)
        assert cr.root() == ROOTS[n]
        assert CompactRange.from_bytes(cr.to_bytes()).root() == ROOTS[n]


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION_VECTORS)
def test_inclusion_vectors(leaf: int, size: int, path: list[str]) -> None:
    expected = _hx(path)
    if leaf == 0:  # the (0, 0) vector is "an invalid path": no proof exists
        with pytest.raises(ValueError):
            inclusion_proof(LEAVES[:size], leaf - 1)
        assert not verify_inclusion(LEAVES[0], 0, size, expected, ROOTS[size])
        return
    index, lh, root = leaf - 1, LEAVES[leaf - 1], ROOTS[size]
    assert inclusion_proof(LEAVES[:size], index) == expected
    assert verify_inclusion(lh, index, size, expected, root)
    for desc, p_leaf, p_index, p_size, p_proof, p_root in _inclusion_corruptions(
        lh, index, size, expected, root
    ):
        assert not verify_inclusion(p_leaf, p_index, p_size, p_proof, p_root), desc


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_VECTORS)
def test_consistency_vectors(size1: int, size2: int, proof: list[str]) -> None:
    expected = _hx(proof)
    root1, root2 = ROOTS[size1], ROOTS[size2]
    assert consistency_proof(LEAVES[:size2], size1) == expected
    assert verify_consistency(size1, size2, root1, root2, expected)
    if not expected:
        return
    for desc, s1, s2, r1, r2, pr in _consistency_corruptions(size1, size2, root1, root2, expected):
        assert not verify_consistency(s1, s2, r1, r2, pr), desc


def test_all_vector_tree_proofs_verify() -> None:
    """Every proof over the 8 reference leaves verifies against the published roots."""
    for n in range(1, 9):
        for i in range(n):
            proof = inclusion_proof(LEAVES[:n], i)
            assert verify_inclusion(LEAVES[i], i, n, proof, ROOTS[n])
        for m in range(n + 1):
            proof = consistency_proof(LEAVES[:n], m)
            assert verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)


# ---------------------------------------------------------------------------------------------
# 2. Properties
# ---------------------------------------------------------------------------------------------

leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=70, unique=True).map(
    lambda ds: [leaf_hash(d) for d in ds]
)


@given(leaf_lists)
def test_matches_rfc_reference_definitions(leaves: list[bytes]) -> None:
    n = len(leaves)
    assert root_hash(leaves) == _ref_mth(leaves)
    for i in range(n):
        assert inclusion_proof(leaves, i) == _ref_path(i, leaves)
    for m in range(1, n + 1):
        assert consistency_proof(leaves, m) == _ref_subproof(m, leaves, True)


@given(leaf_lists, st.data())
def test_inclusion_proofs_verify_and_tampering_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    n = len(leaves)
    root = root_hash(leaves)
    i = data.draw(st.integers(0, n - 1), label="index")
    proof = inclusion_proof(leaves, i)
    assert verify_inclusion(leaves[i], i, n, proof, root)

    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    byte, mask = divmod(bit, 8)
    assert not verify_inclusion(_flip(leaves[i], byte, 1 << mask), i, n, proof, root)
    assert not verify_inclusion(leaves[i], i, n, proof, _flip(root, byte, 1 << mask))
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1), label="proof element")
        bad = list(proof)
        bad[k] = _flip(bad[k], byte, 1 << mask)
        assert not verify_inclusion(leaves[i], i, n, bad, root)
        assert not verify_inclusion(leaves[i], i, n, proof[:-1], root)
    if n > 1:
        j = data.draw(st.integers(0, n - 1).filter(lambda x: x != i), label="other index")
        assert not verify_inclusion(leaves[i], j, n, proof, root)
        assert not verify_inclusion(leaves[j], i, n, proof, root)
    assert not verify_inclusion(leaves[i], i, n * 2, proof, root)
    assert not verify_inclusion(leaves[i], i, n // 2, proof, root)
    assert not verify_inclusion(leaves[i], i, n, [*proof, root], root)
    assert not verify_inclusion(leaves[i], i, n, [root, *proof], root)


@given(leaf_lists, st.data())
def test_consistency_proofs_verify_and_tampering_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    n = len(leaves)
    m = data.draw(st.integers(0, n), label="old size")
    old_root, new_root = root_hash(leaves[:m]), root_hash(leaves)
    proof = consistency_proof(leaves, m)
    assert verify_consistency(m, n, old_root, new_root, proof)

    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    byte, mask = divmod(bit, 8)
    assert not verify_consistency(m, n, _flip(old_root, byte, 1 << mask), new_root, proof)
    if m > 0:  # the empty tree is a prefix of every tree, whatever its root
        assert not verify_consistency(m, n, old_root, _flip(new_root, byte, 1 << mask), proof)
    assert not verify_consistency(m, n, old_root, new_root, [*proof, new_root])
    if 0 < m < n:
        k = data.draw(st.integers(0, len(proof) - 1), label="proof element")
        bad = list(proof)
        bad[k] = _flip(bad[k], byte, 1 << mask)
        assert not verify_consistency(m, n, old_root, new_root, bad)
        assert not verify_consistency(m, n, old_root, new_root, proof[:-1])
        assert not verify_consistency(m, n, old_root, new_root, [proof[0], *proof])
        assert not verify_consistency(m, n, new_root, old_root, proof)
        assert not verify_consistency(m, n * 2, old_root, new_root, proof)
        assert not verify_consistency(m, n // 2, old_root, new_root, proof)
        m2 = data.draw(st.integers(1, n).filter(lambda x: x != m), label="other old size")
        assert not verify_consistency(m2, n, old_root, new_root, proof)


@given(leaf_lists)
@settings(max_examples=50)
def test_every_proof_of_a_tree_verifies(leaves: list[bytes]) -> None:
    n = len(leaves)
    roots = [root_hash(leaves[:k]) for k in range(n + 1)]
    for i in range(n):
        assert verify_inclusion(leaves[i], i, n, inclusion_proof(leaves, i), roots[n])
    for m in range(n + 1):
        assert verify_consistency(m, n, roots[m], roots[n], consistency_proof(leaves, m))


@given(leaf_lists)
def test_compact_range_matches_root_hash_for_every_prefix(leaves: list[bytes]) -> None:
    cr = CompactRange()
    assert cr.root() == root_hash([])
    for k, leaf in enumerate(leaves, start=1):
        cr.append(leaf)
        assert cr.size == k
        assert len(cr.hashes) == k.bit_count()
        assert cr.root() == root_hash(leaves[:k])


@given(leaf_lists, st.data())
def test_compact_range_serialisation_round_trips(leaves: list[bytes], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(leaves)), label="cut")
    cr = CompactRange.from_leaves(leaves[:cut])
    blob = cr.to_bytes()
    assert len(blob) == 9 + HASH_SIZE * cut.bit_count()
    restored = CompactRange.from_bytes(blob)
    assert restored == cr
    assert restored.size == cut and restored.root() == cr.root()
    assert restored.to_bytes() == blob
    # Resume appending from the stored frontier, as between two database transactions.
    restored.extend(leaves[cut:])
    assert restored.root() == root_hash(leaves)
    assert restored == CompactRange.from_leaves(leaves)


# ---------------------------------------------------------------------------------------------
# 3. Edge cases
# ---------------------------------------------------------------------------------------------


def test_single_leaf_tree() -> None:
    lh = leaf_hash(b"data")
    assert root_hash([lh]) == lh
    assert inclusion_proof([lh], 0) == []
    assert verify_inclusion(lh, 0, 1, [], lh)
    assert not verify_inclusion(lh, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], lh)
    assert not verify_inclusion(lh, 1, 1, [], lh)
    assert consistency_proof([lh], 0) == []
    assert consistency_proof([lh], 1) == []
    assert verify_consistency(0, 1, EMPTY_ROOT, lh, [])
    assert verify_consistency(1, 1, lh, lh, [])


@pytest.mark.parametrize(("size", "index"), [(0, 0), (1, 1), (1, -1), (5, 5), (5, 99), (8, -8)])
def test_inclusion_proof_index_out_of_range(size: int, index: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(LEAVES[:size], index)


def test_inclusion_proof_index_wrong_type() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(LEAVES, True)
    with pytest.raises(ValueError):
        inclusion_proof(LEAVES, 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("size", "old_size"), [(0, 1), (3, 4), (8, 9), (8, -1)])
def test_consistency_proof_bad_old_size(size: int, old_size: int) -> None:
    with pytest.raises(ValueError, match="old tree size"):
        consistency_proof(LEAVES[:size], old_size)


def test_verify_inclusion_garbage() -> None:
    proof = inclusion_proof(LEAVES, 2)
    root = ROOTS[8]
    # [TD] TestVerifyInclusion probes (index, size) with an empty proof and wrong-sized hashes.
    for index, size in [(0, 0), (0, 1), (1, 0), (2, 1)]:
        assert not verify_inclusion(SOME, index, size, [], b"")
        assert not verify_inclusion(b"", index, size, [], EMPTY)
        assert not verify_inclusion(SOME, index, size, [], EMPTY)
    assert not verify_inclusion(LEAVES[2], 2, 8, [b"x" * 31, *proof[1:]], root)
    assert not verify_inclusion(LEAVES[2], 2, 8, [*proof, *proof], root)
    assert not verify_inclusion(LEAVES[2], -1, 8, proof, root)
    assert not verify_inclusion(LEAVES[2], 2, -8, proof, root)
    assert not verify_inclusion(LEAVES[2], 2, 0, proof, root)
    assert not verify_inclusion(LEAVES[2], 2**70, 2**71, proof, root)
    assert not verify_inclusion(LEAVES[2], 2, 8, [None, "ab", 3], root)  # type: ignore[list-item]
    assert not verify_inclusion(LEAVES[2], 2, 8, "not a proof", root)  # type: ignore[arg-type]
    assert not verify_inclusion(LEAVES[2], "2", 8, proof, root)  # type: ignore[arg-type]
    assert not verify_inclusion(None, 2, 8, proof, root)  # type: ignore[arg-type]
    assert not verify_inclusion(LEAVES[2], 2, 8, proof, None)  # type: ignore[arg-type]
    assert verify_inclusion(LEAVES[2], 2, 8, tuple(proof), root)


def test_verify_consistency_trivial_and_garbage() -> None:
    root1, root2 = ROOTS[3], ROOTS[7]
    proof = consistency_proof(LEAVES[:7], 3)
    # Trivially consistent sizes with empty proofs.
    assert verify_consistency(0, 0, EMPTY, EMPTY, [])
    assert verify_consistency(0, 7, EMPTY, root2, [])
    assert verify_consistency(7, 7, root2, root2, [])
    # Roots do not match.
    assert not verify_consistency(0, 0, EMPTY, root2, [])
    assert not verify_consistency(7, 7, root1, root2, [])
    assert not verify_consistency(0, 7, root1, root2, [])  # an empty tree has one root
    # Roots match but the proof is not empty.
    for s1, s2 in [(0, 0), (0, 1), (1, 1)]:
        assert not verify_consistency(s1, s2, EMPTY, EMPTY, [EMPTY])
    # Time travel to the past.
    assert not verify_consistency(1, 0, root1, root2, [])
    assert not verify_consistency(7, 3, root2, root1, proof)
    # Empty proof for a non-trivial pair.
    assert not verify_consistency(1, 2, ROOTS[1], ROOTS[2], [])
    # Malformed arguments.
    assert not verify_consistency(-3, 7, root1, root2, proof)
    assert not verify_consistency(3, 2**80, root1, root2, proof)
    assert not verify_consistency(3, 7, root1[:-1], root2, proof)
    assert not verify_consistency(3, 7, root1, root2, [p[:16] for p in proof])
    assert not verify_consistency(3, 7, root1, root2, [None])  # type: ignore[list-item]
    assert not verify_consistency(3, 7, root1, root2, b"".join(proof))  # type: ignore[arg-type]
    assert not verify_consistency(3.0, 7, root1, root2, proof)  # type: ignore[arg-type]
    assert verify_consistency(3, 7, root1, root2, tuple(proof))


def test_compact_range_rejects_malformed_input() -> None:
    blob = CompactRange.from_leaves(LEAVES[:7]).to_bytes()
    with pytest.raises(ValueError, match="too short"):
        CompactRange.from_bytes(blob[:5])
    with pytest.raises(ValueError, match="version"):
        CompactRange.from_bytes(b"\x02" + blob[1:])
    with pytest.raises(ValueError, match="hash bytes"):
        CompactRange.from_bytes(blob[:-1])
    with pytest.raises(ValueError, match="hash bytes"):
        CompactRange.from_bytes(blob + b"\x00" * HASH_SIZE)
    with pytest.raises(ValueError, match="expected bytes"):
        CompactRange.from_bytes("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="subtree hashes"):
        CompactRange(3, [LEAVES[0]])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange(1, [b"short"])
    with pytest.raises(ValueError, match="out of range"):
        CompactRange(-1)
    with pytest.raises(ValueError, match="leaf hash"):
        CompactRange().append(b"short")


def test_compact_range_copy_is_independent() -> None:
    cr = CompactRange.from_leaves(LEAVES[:5])
    other = cr.copy()
    other.append(LEAVES[5])
    assert cr.size == 5 and cr.root() == ROOTS[5]
    assert other.size == 6 and other.root() == ROOTS[6]
    assert cr != other
    assert "size=5" in repr(cr)


def test_large_tree_is_not_quadratic() -> None:
    """A 2**14 + 3 leaf tree: all operations agree and stay fast (linear algorithms)."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range((1 << 14) + 3)]
    n = len(leaves)
    root = root_hash(leaves)
    assert CompactRange.from_leaves(leaves).root() == root
    for i in (0, 1, n // 2, n - 2, n - 1):
        assert verify_inclusion(leaves[i], i, n, inclusion_proof(leaves, i), root)
    for m in (1, 2, 1 << 14, (1 << 14) + 1, n - 1):
        old = root_hash(leaves[:m])
        assert verify_consistency(m, n, old, root, consistency_proof(leaves, m))
