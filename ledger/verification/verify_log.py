"""Offline checks of the global log's Merkle tree and signed checkpoints (part of ``ledger verify``).

Per-stream chains cannot reveal a deleted whole stream, a deleted last event or reordered streams;
the global log can. Reading the database with SQL only (like :mod:`ledger.store.rawstore`), in one
snapshot, :func:`verify_log` recomputes the RFC 9162 tree over the event table in commit order
(notification id / rowid; leaf ``i`` = ``SHA-256(0x00 || bytes.fromhex(hash))`` of the ``i``-th
row's *stored* hash) and finds:

* against ``merkle_leaves``, merged by position: "missing from log" (a leaf's row is gone), "moved in
  log" (its stream/seq sits at another position), "log rewritten" (another event at its position),
  "inserted into log" (an event inside the tree that was never a leaf), "tree damaged";
* against stored checkpoints, each opened with the published key of its ``key_id`` valid at its
  ``issued_at`` ("unknown key", "key not valid", "bad checkpoint signature"): "checkpoint mismatch"
  (root differs from the recomputed root at its size), "log truncated" (log shorter than signed),
  and a consistency proof from the recomputed tree between consecutive checkpoints;
* against witness checkpoints exported earlier (any published key): each must be a prefix of the
  recomputed tree ("log rewritten" otherwise) and still be in the database ("missing checkpoint").

Events after the newest checkpoint are information (``notes``) unless they contradict stored
leaves. Memory: O(log n) plus the nodes the proofs need (found by a dry run), never the tree.

Witness file (``ledger checkpoints export``), UTF-8: for each checkpoint, oldest first, its signed
note as stored (body, blank line, signature lines starting "— "), then a line ``----``; blank lines
between blocks are ignored. A note's signature block only holds "— " lines, so ``----`` is unambiguous.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

import orjson

from ..envelope import parse
from ..errors import LedgerError
from ..keys.sealing import KeyRing, PublishedKey, unb64
from ..merkle import (
    EMPTY_ROOT,
    Checkpoint,
    CheckpointError,
    CompactRange,
    Ed25519NoteVerifier,
    ProofError,
    consistency_proof,
    event_leaf_hash,
    leaf_hash,
    open_checkpoint,
    verify_consistency,
)
from ..merkle.witness import TERMINATOR, WitnessError, format_witness, parse_witness
from ..store.database import Database
from ..store.rawstore import select, snapshot
from ..timefmt import parse_utc
from .verify import Finding


@dataclass
class LogReport:
    events: int = 0  # rows in the event table = size of the recomputed tree
    leaves: int = 0  # rows in merkle_leaves
    checkpoints: int = 0
    witnessed: int = 0
    root: str = ""  # recomputed root of the whole log, hex
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class _Signed:
    size: int
    root: bytes
    label: str  # "checkpoint 12" / "witness checkpoint 12"


_LEAF_COLUMNS = "leaf_index, position, event_id, stream, seq, event_hash"


class _Leaf(NamedTuple):
    index: int
    position: int
    event_id: str
    stream: str
    seq: int
    event_hash: str


class _Findings:
    """Findings, at most ``cap`` detailed ones per reason (then one summary line per reason)."""

    def __init__(self, cap: int) -> None:
        self.cap, self.items, self.counts = cap, [], Counter()

    def add(self, reason: str, detail: str, stream=None, seq=None, event_id=None) -> None:
        self.counts[reason] += 1
        if self.counts[reason] <= self.cap:
            self.items.append(Finding(stream, seq, event_id, reason, detail))

    def done(self) -> list[Finding]:
        more = [(r, n - self.cap) for r, n in self.counts.items() if n > self.cap]
        return self.items + [Finding(None, None, None, r, f"... and {n} more") for r, n in more]


_PLAIN = frozenset((str, int, bool, type(None)))  # read alike by orjson and json


def _four(record: Any) -> tuple[Any, Any, Any, Any]:
    envelope = record["envelope"]
    return envelope.get("event_id"), envelope.get("stream"), envelope.get("seq"), record["hash"]


def _decode(state: bytes) -> tuple[Any, Any, Any, Any]:
    """``(event_id, stream, seq, stored hash)`` of a row, all None if it is not a sealed record;
    exactly what :func:`~ledger.envelope.parse` (``json``) reads.

    ``orjson`` alone first: it reads every value as ``json`` does but an integer beyond 64 bits
    (a float) and what it refuses (lone surrogates, ``NaN``), so when one of the four is not a
    string, an integer, a boolean or null, or it refuses the row, the row is read by ``parse``."""
    try:
        fields = _four(orjson.loads(state))
        if _PLAIN.issuperset(map(type, fields)):
            return fields
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    try:
        return _four(parse(state))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None, None, None


def _leaf(state: bytes, stored_hash: Any) -> bytes:
    try:
        return event_leaf_hash(stored_hash)
    except ValueError:  # undecodable row: a leaf no genuine event has (reported per stream too)
        return leaf_hash(b"undecodable\x00" + state)


def open_signed(note: str, keys: Iterable[PublishedKey], origin: str | None = None) -> Checkpoint:
    """Open a checkpoint note signed under key name = its origin line by one of ``keys``."""
    name = note.split("\n", 1)[0]
    try:
        verifiers = [Ed25519NoteVerifier(name, unb64(k.public_key)) for k in keys]
    except (CheckpointError, ValueError) as exc:
        raise CheckpointError(f"unusable key or origin: {exc}") from None
    return open_checkpoint(note, verifiers, origin=origin)


class _Check:
    """One :func:`verify_log` run over one read snapshot."""

    def __init__(self, database: Database, conn: Any, ring: KeyRing, cap: int) -> None:
        self.db, self.conn, self.ring = database, conn, ring
        self.found, self.report = _Findings(cap), LogReport()
        self.sqlite = database.kind == "sqlite"
        self.pos = "rowid" if self.sqlite else "notification_id"

    def rows(self, sql: str, params: Sequence[Any] = (), name: str = "", binary: bool = False) -> Iterator:
        return select(self.db, self.conn, sql, params, name, binary=binary)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return next(iter(self.rows(sql, params)), None)

    def has_tables(self) -> bool:
        if self.sqlite:
            sql = "SELECT count(*) FROM sqlite_master WHERE name IN ('merkle_leaves', 'checkpoints')"
            return self.one(sql)[0] == 2
        return self.one("SELECT to_regclass('merkle_leaves') IS NOT NULL")[0]

    def stored(self, rows: list[tuple]) -> list[_Signed]:
        signed = []
        for size, root_hex, issued_at, key_id, note in rows:
            label, key = f"checkpoint {size}", self.ring.keys.get(key_id)
            if key is None:
                self.found.add("unknown key", f"{label}: key {key_id!r} is not in the published key ring")
                continue
            try:
                if not key.covers(parse_utc(issued_at)):
                    self.found.add("key not valid", f"{label}: key {key_id} was not valid at {issued_at}")
                    continue
                cp = open_signed(note, [key])
            except (CheckpointError, LedgerError) as exc:
                self.found.add("bad checkpoint signature", f"{label}: {exc}")
                continue
            if cp.tree_size != int(size) or cp.root.hex() != root_hex:
                self.found.add("checkpoint mismatch", f"{label}: the row differs from its signed note")
            signed.append(_Signed(cp.tree_size, cp.root, label))
        return signed

    def witnessed(self, notes: Sequence[str], rows: list[tuple]) -> list[_Signed]:
        out, stored = [], {int(r[0]): r[1] for r in rows}
        origin = rows[0][4].split("\n", 1)[0] if rows else None
        for number, note in enumerate(notes, start=1):
            try:
                cp = open_signed(note, self.ring.keys.values(), origin)
            except CheckpointError as exc:
                self.found.add("bad checkpoint signature", f"witness note {number}: {exc}")
                continue
            label = f"witness checkpoint {cp.tree_size}"
            if stored.get(cp.tree_size, cp.root.hex()) != cp.root.hex():
                self.found.add("checkpoint mismatch", f"{label}: the database signed another root")
            elif cp.tree_size not in stored and rows:
                self.found.add("missing checkpoint", f"{label}: no longer in the database")
            out.append(_Signed(cp.tree_size, cp.root, label))
        return out

    def walk(self, leaves: Iterator[_Leaf], want: set[int], keep: set, tick) -> tuple[dict, dict]:
        """One pass over the log in commit order, merged by position with the stored leaves."""
        tree, roots, kept = CompactRange(), {0: EMPTY_ROOT}, {}
        table = self.db.events_table
        sql = f"SELECT {self.pos}, state FROM {table} ORDER BY {self.pos}"
        stored = next(leaves, None)
        for position, raw in self.rows(sql, name="verify_log_events", binary=True):  # no hex text of bytea
            state = bytes(raw)
            event_id, stream, seq, stored_hash = _decode(state)
            while stored is not None and stored.position < position:
                self.gone(stored)
                stored = next(leaves, None)
            if stored is not None and stored.position == position:
                if (stored.event_id, stored.event_hash) != (event_id, stored_hash):
                    detail = f"position {position} (leaf {stored.index}) now holds another event"
                    self.found.add("log rewritten", detail, stored.stream, stored.seq, stored.event_id)
                stored = next(leaves, None)
            elif stored is not None:
                detail = f"position {position} is inside the tree but was never a leaf"
                self.found.add("inserted into log", detail, stream, seq, event_id)
            for node in tree.append(_leaf(state, stored_hash)):
                if (node.level, node.index) in keep:
                    kept[(node.level, node.index)] = node.hash
            if tree.size in want:
                roots[tree.size] = tree.root()
            if tick and tree.size % 10000 == 0:
                tick(10000)
        while stored is not None:
            self.gone(stored)
            stored = next(leaves, None)
        self.report.events, self.report.root = tree.size, tree.root().hex()
        if tick:
            tick(tree.size % 10000)
        return roots, kept

    def gone(self, leaf: _Leaf) -> None:
        """A leaf whose position no longer holds it: deleted, moved, or replaced?"""
        counts = self.found.counts
        if counts["missing from log"] + counts["moved in log"] >= 2 * self.found.cap:
            counts["missing from log"] += 1  # detail enough: count without querying
            return
        mark = "?" if self.sqlite else "%s"
        row = self.one(
            f"SELECT {self.pos}, state FROM {self.db.events_table} "
            f"WHERE originator_id = {mark} AND originator_version = {mark}",
            (UUID(leaf.stream).hex if self.sqlite else UUID(leaf.stream), leaf.seq),
        )
        if row is None:
            reason, detail = "missing from log", "deleted from the event table"
        elif _decode(bytes(row[1]))[0] == leaf.event_id:
            reason, detail = "moved in log", f"now at position {row[0]}: the log was reordered"
        else:
            reason, detail = "log rewritten", f"another event now holds its stream and seq ({row[0]})"
        where = f"leaf {leaf.index} (position {leaf.position}): {detail}"
        self.found.add(reason, where, leaf.stream, leaf.seq, leaf.event_id)

    def leaves(self) -> Iterator[_Leaf]:
        """Stored leaves, checking the table itself: indexes 0, 1, 2 ... at increasing positions."""
        sql = f"SELECT {_LEAF_COLUMNS} FROM merkle_leaves ORDER BY leaf_index"
        expected, last = 0, -1
        for row in self.rows(sql, name="verify_log_leaves"):
            leaf = _Leaf(*row)
            if leaf.index != expected or leaf.position <= last:
                detail = f"merkle_leaves: leaf {leaf.index} at position {leaf.position} is out of order"
                self.found.add("tree damaged", detail, leaf.stream, leaf.seq, leaf.event_id)
            expected, last = leaf.index + 1, leaf.position
            yield leaf

    def compare(self, signed: list[_Signed], witnessed: list[_Signed], roots: dict, kept: dict,
                pairs: list[tuple[int, int]]) -> None:
        total, found = self.report.events, self.found
        longest = max((cp.size for cp in (*signed, *witnessed)), default=0)
        if longest > total:
            found.add("log truncated", f"the log holds {total} events, a signed checkpoint commits to {longest}")
        for cp in (*signed, *witnessed):
            reason = "log rewritten" if cp.label.startswith("witness") else "checkpoint mismatch"
            if cp.size > total:
                found.add(reason, f"{cp.label}: the log now holds only {total} events")
            elif roots[cp.size] != cp.root:
                found.add(reason, f"{cp.label}: signed root {cp.root.hex()}, but the log now hashes "
                                  f"to {roots[cp.size].hex()} at that size")
        good = {cp.size: cp.root for cp in (*signed, *witnessed) if roots.get(cp.size) == cp.root}
        good[total] = bytes.fromhex(self.report.root)  # the whole log, as recomputed
        for a, b in pairs:
            if a in good and b in good:  # else the mismatching root is reported above
                try:
                    proof = consistency_proof(a, b, lambda level, idx: kept[(level, idx)])
                    verify_consistency(a, b, proof, good[a], good[b])
                except (ProofError, KeyError) as exc:
                    found.add("inconsistent checkpoints", f"{a} -> {b}: {exc}")
        newest = max((cp.size for cp in signed), default=0)
        if total > newest:
            self.report.notes.append(
                f"{total - newest} events after the newest checkpoint (size {newest}) "
                "are not yet covered by a signed checkpoint"
            )
        if self.report.leaves < total and not found.items:
            self.report.notes.append(f"{total - self.report.leaves} events are not yet in the Merkle tree")


def verify_log(
    database: Database,
    keyring: KeyRing,
    *,
    witness: Sequence[str] = (),
    max_per_reason: int = 100,
    on_events: Callable[[int], None] | None = None,
) -> LogReport:
    """Check the global log against its Merkle tree, checkpoints and ``witness`` notes."""
    with snapshot(database) as conn:  # one snapshot for every read below
        check = _Check(database, conn, keyring, max_per_reason)
        report, tables = check.report, check.has_tables()
        sql = "SELECT tree_size, root, issued_at, key_id, note FROM checkpoints ORDER BY tree_size"
        rows = list(check.rows(sql)) if tables else []
        if not tables:
            report.notes.append("no Merkle log tables: run `ledger db upgrade`")
        signed, witnessed = check.stored(rows), check.witnessed(witness, rows)
        report.checkpoints, report.witnessed = len(rows), len(witness)
        total = check.one(f"SELECT COUNT(*) FROM {database.events_table}")[0]
        report.leaves = check.one("SELECT COUNT(*) FROM merkle_leaves")[0] if tables else 0
        pairs = [(a.size, b.size) for a, b in zip(signed, signed[1:], strict=False)]
        pairs += [(w.size, total) for w in witnessed]
        pairs = [(a, b) for a, b in pairs if 0 < a < b <= total]
        keep: set[tuple[int, int]] = set()
        for a, b in pairs:  # dry run: which perfect nodes will the proofs read?
            consistency_proof(a, b, lambda level, idx: keep.add((level, idx)) or bytes(32))
        want = {cp.size for cp in (*signed, *witnessed)}
        roots, kept = check.walk(check.leaves() if tables else iter(()), want, keep, on_events)
    check.compare(signed, witnessed, roots, kept, pairs)
    report.findings = check.found.done()
    return report


__all__ = ["TERMINATOR", "LogReport", "WitnessError", "format_witness", "open_signed", "parse_witness", "verify_log"]
