"""RFC 9162 inclusion and consistency proofs: verification and store-backed generation.

Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) with the same
structure as transparency-dev/merkle ``proof/verify.go``. Every failure raises :class:`ProofError`
(a :class:`ValueError`) whose message says what was wrong; the functions never return ``False``.

Proof elements and roots are raw 32-byte SHA-256 hashes (see :mod:`ledger.merkle.hashing`),
ordered from the leaf level upwards exactly as RFC 9162 ``PATH`` / ``PROOF`` produce them.

Edge cases (all fixed by the vectors in ``tests/vectors/rfc9162``):

* inclusion requires ``0 <= index < size``; so nothing is provably included in the empty tree;
* consistency requires ``size1 <= size2``; ``size1 == size2`` needs an empty proof and equal roots
  (for size 0 both roots must be :data:`EMPTY_ROOT`); ``0 == size1 < size2`` is rejected because
  a proof from the empty tree proves nothing;
* extra or missing proof elements, elements that are not 32 bytes, and sizes outside
  ``[0, 2**64)`` are rejected before any hashing.

Generation (:func:`inclusion_proof`, :func:`consistency_proof`, :func:`root_at`) reads only
*perfect* subtree hashes through ``get_node(level, index)`` (level 0 = leaf hashes; node
``(L, i)`` covers leaves ``[i * 2**L, (i + 1) * 2**L)``). Hashes of the non-perfect subtrees on
the right edge of a tree are recomputed on the fly, so a node store only ever holds immutable
perfect-subtree nodes.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence

from .hashing import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = [
    "MAX_TREE_SIZE",
    "GetNode",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "root_at",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]

MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size / index accepted (checkpoints carry sizes as unsigned 64-bit integers)."""

GetNode = Callable[[int, int], bytes]
_BYTES = bytes | bytearray | memoryview


class ProofError(ValueError):
    """A Merkle proof, or the sizes/hashes it was checked against, failed verification."""


def _size(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProofError(f"{name} must be an integer, not {type(value).__name__}")
    if not 0 <= value <= MAX_TREE_SIZE:
        raise ProofError(f"{name} {value} is outside [0, 2**64)")
    return value


def _hash(name: str, value: object) -> bytes:
    if not isinstance(value, _BYTES):
        raise ProofError(f"{name} must be bytes, not {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} has {len(value)} bytes, want {HASH_SIZE}")
    return bytes(value)


def _proof(proof: Sequence[bytes] | None) -> list[bytes]:
    if proof is None:
        return []
    if isinstance(proof, _BYTES | str) or not isinstance(proof, Sequence):
        raise ProofError("proof must be a sequence of 32-byte hashes")
    return [_hash(f"proof[{i}]", p) for i, p in enumerate(proof)]


def _match(calculated: bytes, expected: object, what: str) -> None:
    if not isinstance(expected, _BYTES):
        raise ProofError(f"expected {what} must be bytes, not {type(expected).__name__}")
    if len(expected) != len(calculated):
        raise ProofError(f"expected {what} has {len(expected)} bytes, want {len(calculated)}")
    if not hmac.compare_digest(calculated, bytes(expected)):
        raise ProofError(
            f"calculated {what} {calculated.hex()} does not match expected {bytes(expected).hex()}"
        )


def _decomp_inclusion(index: int, size: int) -> tuple[int, int]:
    """Split the proof for ``index`` in a tree of ``size`` into (inner, border) lengths."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes] | None
) -> bytes:
    """Return the root implied by an inclusion proof (RFC 9162 §2.1.3.2), or raise ProofError.

    ``leaf_hash`` is the 32-byte RFC 9162 leaf hash (not the entry), ``index`` its 0-based leaf
    index, ``size`` the tree size, ``proof`` the audit path from the leaf level upwards.
    """
    index, size = _size("leaf index", index), _size("tree size", size)
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    leaf = _hash("leaf hash", leaf_hash)
    path = _proof(proof)
    inner, border = _decomp_inclusion(index, size)
    if len(path) != inner + border:
        raise ProofError(
            f"inclusion proof for leaf {index} in a tree of {size} must have "
            f"{inner + border} hashes, got {len(path)}"
        )
    return _chain_border_right(_chain_inner(leaf, path[:inner], index), path[inner:])


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes] | None, root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    Recomputes the root from the 32-byte leaf hash and the audit path
    (``SHA-256(0x01 || left || right)`` at every level) and compares it with ``root``
    (32 raw bytes). Returns ``None`` on success and raises :class:`ProofError` otherwise.
    """
    _match(root_from_inclusion_proof(leaf_hash, index, size, proof), root, "root")


def root_from_consistency_proof(size1: int, size2: int, proof: Sequence[bytes] | None, root1: bytes) -> bytes:
    """Check ``proof`` against the old root and return the new root it implies (RFC 9162 §2.1.4.2).

    Raises :class:`ProofError` if the sizes are not ``0 < size1 <= size2`` (or both zero), the
    proof has the wrong length, or the proof does not reproduce ``root1``.
    """
    size1, size2 = _size("size1", size1), _size("size2", size2)
    path = _proof(proof)
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1}): a log never shrinks")
    if size1 == size2:
        if path:
            raise ProofError(f"size1 == size2 ({size1}) but the proof is not empty")
        if not isinstance(root1, _BYTES):
            raise ProofError(f"root1 must be bytes, not {type(root1).__name__}")
        if size1 == 0:
            _match(EMPTY_ROOT, root1, "root1 of the empty tree")
        return bytes(root1)
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree (size1 = 0) proves nothing")
    if not path:
        raise ProofError(f"empty consistency proof for {size1} < {size2}")
    old_root = _hash("root1", root1)

    inner, border = _decomp_inclusion(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # trailing zero bits of size1
    inner -= shift
    # The proof starts with the hash of the 2**shift subtree ending at size1 unless the whole
    # old tree is that perfect subtree, in which case root1 itself is the seed.
    seed, start = (old_root, 0) if size1 == 1 << shift else (path[0], 1)
    if len(path) != start + inner + border:
        raise ProofError(
            f"consistency proof {size1} -> {size2} must have {start + inner + border} hashes, got {len(path)}"
        )
    path = path[start:]
    mask = (size1 - 1) >> shift
    hash1 = _chain_border_right(_chain_inner_right(seed, path[:inner], mask), path[inner:])
    _match(hash1, old_root, "root1")
    return _chain_border_right(_chain_inner(seed, path[:inner], mask), path[inner:])


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes] | None, root1: bytes, root2: bytes
) -> None:
    """Check that tree ``size2``/``root2`` is an append-only extension of ``size1``/``root1``.

    Roots and proof elements are raw 32-byte hashes. Returns ``None`` on success and raises
    :class:`ProofError` with the reason otherwise.
    """
    _match(root_from_consistency_proof(size1, size2, proof, root1), root2, "root2")


# --- generation from a perfect-subtree node store ---------------------------------------------


def _node(get_node: GetNode, level: int, index: int) -> bytes:
    value = get_node(level, index)
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ValueError(f"node store returned a malformed hash for node ({level}, {index})")
    return value


def _range_hash(begin: int, end: int, get_node: GetNode) -> bytes:
    """MTH of leaves ``[begin, end)``; perfect aligned ranges come from the store."""
    n = end - begin
    if n & (n - 1) == 0 and begin % n == 0:
        level = n.bit_length() - 1
        return _node(get_node, level, begin >> level)
    k = 1 << ((n - 1).bit_length() - 1)  # largest power of two < n
    return node_hash(_range_hash(begin, begin + k, get_node), _range_hash(begin + k, end, get_node))


def _check_gen_size(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TREE_SIZE:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {value!r}")


def root_at(size: int, get_node: GetNode) -> bytes:
    """Return the RFC 9162 root hash of the first ``size`` leaves, from perfect-subtree nodes."""
    _check_gen_size("size", size)
    return EMPTY_ROOT if size == 0 else _range_hash(0, size, get_node)


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """Return RFC 9162 ``PATH(index, D[0:size])``: sibling hashes from the leaf level upwards."""
    _check_gen_size("index", index)
    _check_gen_size("size", size)
    if index >= size:
        raise ValueError(f"leaf index {index} is not below tree size {size}")
    begin, end, path = 0, size, []
    while end - begin > 1:
        k = 1 << ((end - begin - 1).bit_length() - 1)
        if index < begin + k:
            path.append(_range_hash(begin + k, end, get_node))
            end = begin + k
        else:
            path.append(_range_hash(begin, begin + k, get_node))
            begin += k
    path.reverse()
    return path


def consistency_proof(size1: int, size2: int, get_node: GetNode) -> list[bytes]:
    """Return RFC 9162 ``PROOF(size1, D[0:size2])`` (empty when ``size1 == size2``)."""
    _check_gen_size("size1", size1)
    _check_gen_size("size2", size2)
    if size1 > size2:
        raise ValueError(f"size1 ({size1}) > size2 ({size2})")
    if size1 == size2:
        return []
    if size1 == 0:
        raise ValueError("no consistency proof exists from the empty tree")
    m, begin, end, complete, path = size1, 0, size2, True, []
    while m != end - begin:
        k = 1 << ((end - begin - 1).bit_length() - 1)
        if m <= k:
            path.append(_range_hash(begin + k, end, get_node))
            end = begin + k
        else:
            path.append(_range_hash(begin, begin + k, get_node))
            m, begin, complete = m - k, begin + k, False
    if not complete:
        path.append(_range_hash(begin, end, get_node))
    path.reverse()
    return path
