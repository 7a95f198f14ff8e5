"""The ``merkle`` follower: an RFC 9162 Merkle tree over the global log, and its proofs.

Contract (docs/DESIGN.md "The global log and checkpoints"; hashing only through :mod:`ledger.merkle`):

* Leaf ``i`` is the ``i``-th event of the global log in commit order (leaf indexes 0, 1, 2 ...;
  gaps in positions are skipped). Its *entry* is the 32 raw bytes of the event's hex ``hash``, so
  its leaf hash is ``SHA-256(0x00 || bytes.fromhex(hash))`` (:func:`ledger.merkle.event_leaf_hash`).
* ``merkle_leaves`` maps leaf index <-> position, event id, stream, seq and event hash;
  ``merkle_nodes`` holds every *perfect* subtree hash (level 0 = leaf hashes) and is write-once.
* Appending costs O(log n): a :class:`~ledger.merkle.CompactRange` (the right edge) is restored
  from ``popcount(size)`` stored nodes, kept in memory between batches and re-validated against
  the database at the start of each batch (another process may have advanced the tree, or a
  failed batch may have advanced the memory). Every write goes through the runner's connection,
  so leaves, nodes, checkpoints and the tracking position commit together: exactly once.
* Proofs read O(log n) perfect nodes by primary key, fetched in one query.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, text

from ledger.errors import LedgerError
from ledger.merkle import (
    CompactRange,
    event_leaf_hash,
    right_edge,
    root_at,
)
from ledger.merkle import consistency_proof as _consistency_proof
from ledger.merkle import inclusion_proof as _inclusion_proof
from ledger.store.records import SealedEvent

T = TypeVar("T")
GetNode = Callable[[int, int], bytes]
_PLACEHOLDER = bytes(32)


class ProofUnavailable(LedgerError):
    """No proof can be given: unknown event, or a tree size the log has not reached."""

    code = "PROOF_UNAVAILABLE"
    status = 404


class InvalidProofRequest(LedgerError):
    code = "INVALID_PROOF_REQUEST"
    status = 400


class CheckpointPublisher(Protocol):
    """Signs checkpoints inside the follower's batches (``projections.checkpoints``, which
    builds on this module: this one never imports it)."""

    def begin_batch(self, conn: Connection, tree: CompactRange) -> None: ...

    def after_append(self, conn: Connection, tree: CompactRange) -> dict[str, Any] | None: ...

    def publish_due(self, conn: Connection, tree: CompactRange | None = None) -> dict[str, Any] | None: ...


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def stored_size(conn: Connection) -> int:
    """Number of leaves in the stored tree (an index-only lookup)."""
    last = conn.execute(text("SELECT MAX(leaf_index) FROM merkle_leaves")).scalar()
    return 0 if last is None else int(last) + 1


def fetch_nodes(conn: Connection, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Read the given perfect nodes in one query (each an index lookup on the primary key)."""
    keys = sorted(set(keys))
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        where = " OR ".join(f"(level = :l{i} AND idx = :i{i})" for i in range(len(chunk)))
        params: dict[str, int] = {}
        for i, (level, idx) in enumerate(chunk):
            params[f"l{i}"], params[f"i{i}"] = level, idx
        rows = conn.execute(text(f"SELECT level, idx, hash FROM merkle_nodes WHERE {where}"), params)
        found.update({(r[0], r[1]): bytes(r[2]) for r in rows})
    return found


def with_nodes(conn: Connection, compute: Callable[[GetNode], T]) -> T:
    """Run ``compute(get_node)`` with every node it reads fetched in one round trip.

    The proof generators never branch on hash values, so a first pass with placeholder hashes
    records exactly the nodes the real pass will read.
    """
    wanted: set[tuple[int, int]] = set()

    def record(level: int, idx: int) -> bytes:
        wanted.add((level, idx))
        return _PLACEHOLDER

    compute(record)
    nodes = fetch_nodes(conn, wanted)

    def get_node(level: int, idx: int) -> bytes:
        try:
            return nodes[(level, idx)]
        except KeyError:
            raise ProofUnavailable(f"Merkle node ({level}, {idx}) is missing: rebuild the tree") from None

    return compute(get_node)


def restore_range(conn: Connection, size: int) -> CompactRange:
    """The compact range of the first ``size`` leaves, from ``popcount(size)`` stored nodes."""
    return with_nodes(conn, lambda get: CompactRange.restore(size, get))


# Plain single-row INSERTs, so the runner's QueuedWrites sends them with COPY at the end of the
# batch on PostgreSQL (both tables are write-once) and as one executemany each on SQLite.
_LEAF = text("INSERT INTO merkle_leaves (leaf_index, position, event_id, stream, seq, event_hash) "
             "VALUES (:i, :p, :e, :s, :q, :h)")
_NODE = text("INSERT INTO merkle_nodes (level, idx, hash) VALUES (:v, :x, :h)")


class MerkleLog:
    """Projection ``merkle`` for :class:`projections.runner.ProjectionRunner`.

    With a ``publisher``, signed checkpoints are issued inside the same batch, after the leaves
    they commit to, so a checkpoint is never ahead of the stored tree.
    """

    name = "merkle"
    append_only = ("merkle_leaves", "merkle_nodes")

    def __init__(self, publisher: CheckpointPublisher | None = None) -> None:
        self.publisher = publisher
        self._range: CompactRange | None = None
        self._batch: object | None = None  # the transaction the in-memory range was validated in

    @property
    def size(self) -> int | None:
        return None if self._range is None else self._range.size

    def apply(self, conn: Connection, position: int, event: SealedEvent) -> None:
        tree = self._tree(conn)
        index = tree.size
        nodes = tree.append(event_leaf_hash(event.hash))
        env = event.envelope
        conn.execute(_LEAF, {"i": index, "p": position, "e": env["event_id"], "s": env["stream"],
                             "q": env["seq"], "h": event.hash})
        conn.execute(_NODE, [{"v": node.level, "x": node.index, "h": node.hash} for node in nodes])
        if self.publisher is not None:
            self.publisher.after_append(conn, tree)

    def finish_batch(self, conn: Connection) -> None:
        """End-of-batch hook: publish a checkpoint if one is due by time (idle tail)."""
        if self.publisher is not None:
            self.publisher.publish_due(conn, self._tree(conn))

    def reset(self, conn: Connection) -> None:
        """Forget the tree (a rebuild replays the log). Signed checkpoints are kept: the
        rebuilt tree must reproduce them (:class:`CheckpointPublisher` refuses otherwise)."""
        conn.execute(text("DELETE FROM merkle_nodes"))
        conn.execute(text("DELETE FROM merkle_leaves"))
        self._range, self._batch = None, None

    def _tree(self, conn: Connection) -> CompactRange:
        """The in-memory range, re-validated once per transaction (i.e. per runner batch)."""
        batch = conn.get_transaction()
        if self._range is not None and batch is self._batch:
            return self._range
        size = stored_size(conn)
        tree = self._range
        if tree is None or tree.size != size or not self._edge_matches(conn, tree):
            tree = restore_range(conn, size)
        self._range, self._batch = tree, batch
        if self.publisher is not None:
            self.publisher.begin_batch(conn, tree)
        return tree

    @staticmethod
    def _edge_matches(conn: Connection, tree: CompactRange) -> bool:
        edge = right_edge(tree.size)
        if not edge:
            return True
        level, idx = edge[-1]
        return fetch_nodes(conn, [(level, idx)]).get((level, idx)) == tree.hashes[-1]


# --- proofs (used by the API) -----------------------------------------------------------------


def leaf_for_event(conn: Connection, event_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        text(
            "SELECT leaf_index, position, event_id, stream, seq, event_hash FROM merkle_leaves "
            "WHERE event_id = :e"
        ),
        {"e": str(event_id)},
    ).first()
    return dict(row._mapping) if row else None


def _check_size(conn: Connection, name: str, size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidProofRequest(f"{name} must be a non-negative integer")
    have = stored_size(conn)
    if size > have:
        raise ProofUnavailable(f"{name} {size} is beyond the tree ({have} leaves so far)")


def inclusion_proof(conn: Connection, event_id: str, tree_size: int | None = None) -> dict[str, Any]:
    """Audit path proving ``event_id`` is leaf ``leaf_index`` of the tree of ``tree_size``.

    ``tree_size`` defaults to the newest checkpoint's. Hashes are base64; verify with
    ``ledger.merkle.verify_inclusion(leaf_hash, leaf_index, tree_size, proof, root)``.
    """
    leaf = leaf_for_event(conn, event_id)
    if leaf is None:
        raise ProofUnavailable(f"event {event_id} is not in the Merkle tree (yet)")
    if tree_size is None:
        signed = conn.execute(text("SELECT MAX(tree_size) FROM checkpoints")).scalar()
        if signed is None:
            raise ProofUnavailable("no checkpoint has been signed yet")
        tree_size = int(signed)
    _check_size(conn, "tree_size", tree_size)
    index = leaf["leaf_index"]
    if index >= tree_size:
        raise ProofUnavailable(f"event {event_id} is leaf {index}, not in a tree of {tree_size} leaves")
    proof, root, leaf_hash = with_nodes(
        conn,
        lambda get: (_inclusion_proof(index, tree_size, get), root_at(tree_size, get), get(0, index)),
    )
    return {
        "event_id": leaf["event_id"],
        "leaf_index": index,
        "tree_size": tree_size,
        "leaf_hash": b64(leaf_hash),
        "proof": [b64(h) for h in proof],
        "root": b64(root),
    }


def consistency_proof(conn: Connection, first: int, second: int) -> dict[str, Any]:
    """RFC 9162 ``PROOF(first, D[0:second])`` with both roots (base64); verify with
    ``ledger.merkle.verify_consistency(first, second, proof, first_root, second_root)``."""
    _check_size(conn, "first", first)
    _check_size(conn, "second", second)
    if first > second:
        raise InvalidProofRequest("first must not be greater than second")
    if first == 0 and second > 0:
        raise InvalidProofRequest("a consistency proof from the empty tree proves nothing")
    try:
        proof, root1, root2 = with_nodes(
            conn,
            lambda get: (_consistency_proof(first, second, get), root_at(first, get), root_at(second, get)),
        )
    except ValueError as exc:  # ProofError included
        raise InvalidProofRequest(str(exc)) from None
    return {
        "first": first,
        "second": second,
        "proof": [b64(h) for h in proof],
        "first_root": b64(root1),
        "second_root": b64(root2),
    }
