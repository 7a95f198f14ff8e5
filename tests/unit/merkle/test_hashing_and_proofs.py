"""Known answers and input validation for hashing and proof verification/generation."""

from __future__ import annotations

import hashlib

import pytest

from ledger.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    ProofError,
    TreeBuilder,
    consistency_proof,
    event_leaf_hash,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_at,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

# The RFC 6962 reference tree used by transparency-dev/merkle and Certificate Transparency.
REF_ENTRIES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
REF_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _ref_tree() -> tuple[TreeBuilder, MemoryNodeStore]:
    tree, store = TreeBuilder(), MemoryNodeStore()
    for e in REF_ENTRIES:
        store.put_all(tree.append(leaf_hash(e)))
    return tree, store


def test_hash_definitions() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    with pytest.raises(ValueError):
        node_hash(left, right[:31])
    with pytest.raises(TypeError):
        leaf_hash("text")  # type: ignore[arg-type]


def test_event_leaf_hash_decodes_the_hex_event_hash() -> None:
    event_hash = hashlib.sha256(b"event").hexdigest()
    assert event_leaf_hash(event_hash) == leaf_hash(bytes.fromhex(event_hash))
    assert event_leaf_hash(event_hash.upper()) == event_leaf_hash(event_hash)
    for bad in ["", event_hash[:-2], event_hash + "00", " " + event_hash[1:], "g" * 64, None]:
        with pytest.raises(ValueError):
            event_leaf_hash(bad)  # type: ignore[arg-type]


def test_reference_tree_roots() -> None:
    tree = TreeBuilder()
    assert tree.root() == EMPTY_ROOT
    for entry, want in zip(REF_ENTRIES, REF_ROOTS, strict=True):
        tree.append(leaf_hash(entry))
        assert tree.root().hex() == want
    _, store = _ref_tree()
    assert [root_at(n, store.get_node).hex() for n in range(1, 9)] == REF_ROOTS
    assert root_at(0, store.get_node) == EMPTY_ROOT


def test_reference_tree_proofs_verify() -> None:
    _, store = _ref_tree()
    roots = [EMPTY_ROOT] + [bytes.fromhex(r) for r in REF_ROOTS]
    for size in range(1, 9):
        for i in range(size):
            proof = inclusion_proof(i, size, store.get_node)
            verify_inclusion(leaf_hash(REF_ENTRIES[i]), i, size, proof, roots[size])
            assert root_from_inclusion_proof(leaf_hash(REF_ENTRIES[i]), i, size, proof) == roots[size]
        for m in range(1, size + 1):
            verify_consistency(m, size, consistency_proof(m, size, store.get_node), roots[m], roots[size])
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((b"\x00" * 32, 0, 0, [], EMPTY_ROOT), "not below tree size"),
        ((b"\x00" * 32, -1, 1, [], EMPTY_ROOT), "outside"),
        ((b"\x00" * 32, 0, 2**64, [], EMPTY_ROOT), "outside"),
        ((b"\x00" * 32, False, 1, [], EMPTY_ROOT), "integer"),
        ((b"\x00" * 32, 0, 1.0, [], EMPTY_ROOT), "integer"),
        ((b"\x00" * 31, 0, 1, [], EMPTY_ROOT), "leaf hash has 31 bytes"),
        (("00" * 32, 0, 1, [], EMPTY_ROOT), "leaf hash must be bytes"),
        ((b"\x00" * 32, 0, 2, b"\x00" * 32, EMPTY_ROOT), "sequence"),
        ((b"\x00" * 32, 0, 2, [b"\x00" * 33], EMPTY_ROOT), r"proof\[0\] has 33 bytes"),
        ((b"\x00" * 32, 0, 2, [], EMPTY_ROOT), "must have 1 hashes, got 0"),
        ((b"\x00" * 32, 0, 1, [], None), "must be bytes"),
        ((b"\x00" * 32, 0, 1, [], b"\x00" * 31), "has 31 bytes"),
        ((b"\x00" * 32, 0, 1, [], EMPTY_ROOT), "does not match"),
    ],
)
def test_inclusion_errors_are_proof_errors_with_reasons(args: tuple, message: str) -> None:
    with pytest.raises(ProofError, match=message):
        verify_inclusion(*args)


def test_largest_tree_size_is_handled() -> None:
    size = 2**64 - 1
    leaf = leaf_hash(b"x")
    proof = [leaf_hash(bytes([i])) for i in range(64)]
    root = root_from_inclusion_proof(leaf, 0, size, proof)
    verify_inclusion(leaf, 0, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, 0, size, proof[:-1], root)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((2, 1, [], b"a" * 32, b"a" * 32), "never shrinks"),
        ((0, 0, [], b"a" * 32, b"a" * 32), "empty tree"),
        ((0, 3, [b"a" * 32], EMPTY_ROOT, b"a" * 32), "proves nothing"),
        ((3, 3, [b"a" * 32], b"a" * 32, b"a" * 32), "not empty"),
        ((3, 3, [], b"a" * 32, b"b" * 32), "does not match"),
        ((3, 4, [], b"a" * 32, b"b" * 32), "empty consistency proof"),
        ((3, 4, [b"a" * 32], b"a" * 31, b"b" * 32), "root1 has 31 bytes"),
        ((3, 4, [b"a" * 32], b"a" * 32, b"b" * 32), "must have 3 hashes"),
        ((1, 2**64, [b"a" * 32], b"a" * 32, b"b" * 32), "outside"),
    ],
)
def test_consistency_errors_are_proof_errors_with_reasons(args: tuple, message: str) -> None:
    with pytest.raises(ProofError, match=message):
        verify_consistency(*args)


def test_generation_rejects_impossible_requests() -> None:
    _, store = _ref_tree()
    for bad in [(8, 8), (0, 0), (-1, 3), (True, 3)]:
        with pytest.raises(ValueError):
            inclusion_proof(*bad, store.get_node)
    for bad in [(0, 3), (4, 3), (-1, 3)]:
        with pytest.raises(ValueError):
            consistency_proof(*bad, store.get_node)
    assert consistency_proof(5, 5, store.get_node) == []
    assert consistency_proof(0, 0, store.get_node) == []
    with pytest.raises(KeyError):  # beyond what the store holds
        inclusion_proof(0, 9, store.get_node)
    with pytest.raises(ValueError, match="malformed"):
        root_at(3, lambda level, index: b"short")
