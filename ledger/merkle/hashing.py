"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, defined once.

Every other module in :mod:`ledger.merkle` hashes through these functions; nothing else in the
ledger may re-implement them.

Contract (RFC 9162 §2.1.1, SHA-256, domain-separated):

* leaf hash: ``SHA-256(0x00 || entry)``
* interior node hash: ``SHA-256(0x01 || left || right)``
* root of the empty tree: ``SHA-256(b"")``

In the ledger the leaf *entry* is the 32-byte raw event hash, i.e. the hex ``hash`` field of an
event envelope decoded to bytes (see :func:`event_leaf_hash`). Leaf index = position of the event
in the global commit order.
"""

from __future__ import annotations

import hashlib

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "event_leaf_hash", "leaf_hash", "node_hash"]

HASH_SIZE = 32
"""Size in bytes of every leaf, node and root hash (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the tree of size 0: ``SHA-256(b"")`` (RFC 9162 §2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_HEX = frozenset("0123456789abcdefABCDEF")


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || entry)`` (32 raw bytes).

    ``entry`` is hashed exactly as given (no length prefix, no encoding step).
    """
    if not isinstance(entry, bytes | bytearray | memoryview):
        raise TypeError(f"leaf entry must be bytes, not {type(entry).__name__}")
    return hashlib.sha256(_LEAF_PREFIX + bytes(entry)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior hash ``SHA-256(0x01 || left || right)`` (32 raw bytes).

    ``left`` and ``right`` are the raw 32-byte child hashes, concatenated without separators.
    """
    if len(left) != HASH_SIZE or len(right) != HASH_SIZE:
        raise ValueError(f"child hashes must be {HASH_SIZE} bytes, got {len(left)} and {len(right)}")
    return hashlib.sha256(_NODE_PREFIX + bytes(left) + bytes(right)).digest()


def event_leaf_hash(event_hash_hex: str) -> bytes:
    """Return the leaf hash for a ledger event: ``SHA-256(0x00 || bytes.fromhex(event_hash_hex))``.

    ``event_hash_hex`` is the event envelope's ``hash`` field: exactly 64 hex digits (the raw
    32-byte SHA-256 event hash). Anything else raises :class:`ValueError`.
    """
    if (
        not isinstance(event_hash_hex, str)
        or len(event_hash_hex) != 2 * HASH_SIZE
        or not _HEX.issuperset(event_hash_hex)
    ):
        raise ValueError("event hash must be exactly 64 hex digits")
    return leaf_hash(bytes.fromhex(event_hash_hex))
