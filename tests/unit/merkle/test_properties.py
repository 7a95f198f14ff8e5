"""Property tests: store-backed proofs vs the naive RFC reference, bit flips, restore."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    MemoryNodeStore,
    ProofError,
    TreeBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    right_edge,
    root_at,
    verify_consistency,
    verify_inclusion,
)

from .naive import naive_consistency, naive_inclusion, naive_leaf, naive_root

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _entries(n: int, salt: bytes) -> list[bytes]:
    return [salt + i.to_bytes(4, "big") for i in range(n)]


def _build(entries: list[bytes]) -> tuple[MemoryNodeStore, list[bytes], list[list]]:
    """Append all entries; return the store, roots[size] for every size and the nodes per append."""
    tree, store = TreeBuilder(), MemoryNodeStore()
    roots, emitted = [tree.root()], []
    for e in entries:
        nodes = tree.append(leaf_hash(e))
        store.put_all(nodes)
        emitted.append(nodes)
        roots.append(tree.root())
    return store, roots, emitted


def _flips(value: bytes):
    for i in range(len(value) * 8):
        b = bytearray(value)
        b[i // 8] ^= 1 << (i % 8)
        yield bytes(b)


tree_sizes = st.integers(min_value=1, max_value=300)
salts = st.binary(max_size=6)


@SETTINGS
@given(n=tree_sizes, salt=salts, data=st.data())
def test_store_proofs_equal_naive_reference_and_verify(n: int, salt: bytes, data) -> None:
    entries = _entries(n, salt)
    store, roots, _ = _build(entries)
    assert roots[n] == naive_root(entries)
    size = data.draw(st.integers(1, n), label="size")
    assert roots[size] == naive_root(entries[:size]) == root_at(size, store.get_node)
    for index in {0, size - 1, data.draw(st.integers(0, size - 1), label="index")}:
        proof = inclusion_proof(index, size, store.get_node)
        assert proof == naive_inclusion(entries[:size], index)
        verify_inclusion(naive_leaf(entries[index]), index, size, proof, roots[size])
    for m in {1, size, data.draw(st.integers(1, size), label="m")}:
        proof = consistency_proof(m, size, store.get_node)
        assert proof == naive_consistency(entries[:size], m)
        verify_consistency(m, size, proof, roots[m], roots[size])


@SETTINGS
@given(n=tree_sizes, salt=salts, data=st.data())
def test_every_stored_node_is_the_perfect_subtree_hash(n: int, salt: bytes, data) -> None:
    entries = _entries(n, salt)
    store, _, emitted = _build(entries)
    keys = [(node.level, node.index) for nodes in emitted for node in nodes]
    assert len(keys) == len(set(keys)) == len(store) == 2 * n - n.bit_count()
    level, index = data.draw(st.sampled_from(keys))
    covered = entries[index << level : (index + 1) << level]
    assert len(covered) == 1 << level
    assert store.get_node(level, index) == naive_root(covered)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 300), salt=salts, data=st.data())
def test_every_single_bit_flip_breaks_an_inclusion_proof(n: int, salt: bytes, data) -> None:
    entries = _entries(n, salt)
    store, roots, _ = _build(entries)
    size = data.draw(st.integers(2, n), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    leaf, root = naive_leaf(entries[index]), roots[size]
    proof = inclusion_proof(index, size, store.get_node)
    verify_inclusion(leaf, index, size, proof, root)
    for bad_leaf in _flips(leaf):
        _rejects(verify_inclusion, bad_leaf, index, size, proof, root)
    for bad_root in _flips(root):
        _rejects(verify_inclusion, leaf, index, size, proof, bad_root)
    for k, element in enumerate(proof):
        for bad in _flips(element):
            _rejects(verify_inclusion, leaf, index, size, [*proof[:k], bad, *proof[k + 1 :]], root)
    _rejects(verify_inclusion, leaf, index, size, proof[:-1], root)
    _rejects(verify_inclusion, leaf, index, size, [*proof, root], root)
    _rejects(verify_inclusion, leaf, index, size, [root, *proof], root)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 300), salt=salts, data=st.data())
def test_every_single_bit_flip_breaks_a_consistency_proof(n: int, salt: bytes, data) -> None:
    entries = _entries(n, salt)
    store, roots, _ = _build(entries)
    size2 = data.draw(st.integers(2, n), label="size2")
    size1 = data.draw(st.integers(1, size2 - 1), label="size1")
    root1, root2 = roots[size1], roots[size2]
    proof = consistency_proof(size1, size2, store.get_node)
    verify_consistency(size1, size2, proof, root1, root2)
    for bad in _flips(root1):
        _rejects(verify_consistency, size1, size2, proof, bad, root2)
    for bad in _flips(root2):
        _rejects(verify_consistency, size1, size2, proof, root1, bad)
    for k, element in enumerate(proof):
        for bad in _flips(element):
            bad_proof = [*proof[:k], bad, *proof[k + 1 :]]
            _rejects(verify_consistency, size1, size2, bad_proof, root1, root2)
    _rejects(verify_consistency, size1, size2, proof[:-1], root1, root2)
    _rejects(verify_consistency, size1, size2, [*proof, root1], root1, root2)
    _rejects(verify_consistency, size1, size2, [root1, *proof], root1, root2)
    _rejects(verify_consistency, size1, size2, proof, root2, root1)


def _rejects(fn, *args) -> None:
    try:
        fn(*args)
    except ProofError:
        return
    raise AssertionError(f"{fn.__name__} accepted a tampered input")


@SETTINGS
@given(n=tree_sizes, salt=salts, data=st.data())
def test_restore_from_right_edge_nodes_continues_identically(n: int, salt: bytes, data) -> None:
    entries = _entries(n, salt)
    full_store, roots, emitted = _build(entries)
    k = data.draw(st.integers(0, n), label="restart_at")
    # A follower that crashed after k appends kept only the right-edge nodes it needs.
    survivor = MemoryNodeStore()
    for level, index in right_edge(k):
        survivor.put(level, index, full_store.get_node(level, index))
    resumed = TreeBuilder.restore(k, survivor.get_node)
    assert resumed.size == k and resumed.root() == roots[k]
    for i in range(k, n):
        assert resumed.append(leaf_hash(entries[i])) == emitted[i]
        assert resumed.root() == roots[i + 1]
    assert TreeBuilder.from_hashes(n, resumed.hashes).root() == roots[n]


def test_restore_rejects_wrong_right_edge() -> None:
    tree = TreeBuilder()
    tree.extend(leaf_hash(bytes([i])) for i in range(5))
    with pytest.raises(ValueError):
        TreeBuilder.from_hashes(5, tree.hashes[:1])
    with pytest.raises(ValueError):
        TreeBuilder.from_hashes(5, [b"x", b"y"])
    with pytest.raises(ValueError):
        tree.append(b"short")
    store = MemoryNodeStore()
    store.put(0, 0, leaf_hash(b"a"))
    store.put(0, 0, leaf_hash(b"a"))  # idempotent
    with pytest.raises(ValueError, match="different hash"):
        store.put(0, 0, leaf_hash(b"b"))
