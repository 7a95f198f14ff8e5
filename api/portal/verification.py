"""The case page's verification badge: the case's events checked against the latest checkpoint.

For every event of the case (the events the audit trail links to its COI), read from the event
store itself: the envelope re-hashed (RFC 8785 JCS, SHA-256) must equal the stored hash, the
ledger's seal must verify with the published key valid when it was recorded, and an RFC 9162
inclusion proof must lead from the event's leaf hash to the root of the latest checkpoint,
whose signed note is opened with the published key; and each audit-trail row shown must be what
its sealed event says (``projections.audit_evidence``, run by the case page before the badge). The
result is explained in words.

What this does not do (``ledger verify`` does): check Part 11 e-signatures and device
signatures, the per-stream ``prev`` links, and the whole log rather than this case.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from ledger.envelope import envelope_hash
from ledger.errors import LedgerError
from ledger.keys.sealing import KeyRing, unb64
from ledger.merkle import (
    CheckpointError,
    Ed25519NoteVerifier,
    ProofError,
    event_leaf_hash,
    open_checkpoint,
    verify_inclusion,
)
from ledger.store.application import Ledger
from ledger.store.records import SealedEvent
from ledger.timefmt import parse_utc
from projections.checkpoints import latest_checkpoint
from projections.merkle_log import inclusion_proof, leaf_for_event

from .text import when

MAX_CHECKED = 2000
MAX_PROBLEMS = 10


@dataclass
class Badge:
    state: str = "verified"  # verified | pending | failed | unavailable
    checked: int = 0
    included: int = 0
    pending: int = 0
    problems: list[str] = field(default_factory=list)
    checkpoint: dict[str, Any] | None = None
    truncated: bool = False

    @property
    def headline(self) -> str:
        return {"verified": "Verified against the latest checkpoint",
                "pending": "Verified so far: newest events await the next checkpoint",
                "failed": "Verification failed",
                "unavailable": "Not yet verifiable: no checkpoint signed"}[self.state]

    @property
    def explanation(self) -> list[str]:
        cp = self.checkpoint
        out = []
        if self.state == "failed":
            out.append(f"{len(self.problems)} problem(s) found among the {self.checked} events of this case. "
                       "The record shown here may have been altered or the ledger is damaged: do not rely on "
                       "it until the ledger verify command has been run and the finding explained.")
        elif cp is None:
            out.append(f"All {self.checked} events re-hash to their stored hashes and carry valid ledger seals, "
                       "but no signed checkpoint exists yet, so their place in the global log cannot be proven.")
        else:
            out.append(f"{self.included} of {self.checked} events were re-hashed from the event store, their "
                       "ledger seals checked with the published key, and each was proven by a Merkle inclusion "
                       f"proof to be in the log of {cp['tree_size']} events that checkpoint signed at "
                       f"{when(cp['issued_at'], seconds=True)} (key {cp['key_id']}) commits to.")
            if self.pending:
                out.append(f"{self.pending} event(s) were recorded after that checkpoint; their hashes and seals "
                           "are valid and the next checkpoint will cover them.")
            if self.state == "verified":
                out.append("None of these events has been changed since it was recorded, and none can be "
                           "removed or reordered without breaking a checkpoint already published. Each "
                           "audit-trail row shown was compared with the sealed event at its log position.")
        if self.truncated:
            out.append(f"Only the first {MAX_CHECKED} events were checked.")
        out.append("Part 11 e-signatures, device signatures and the whole log are checked by the "
                   "ledger verify command.")
        return out


def _open_checkpoint(cp: Mapping[str, Any], keyring: KeyRing) -> bytes:
    """The signed root of ``cp``, after opening its note with its published key."""
    key = keyring.keys.get(cp["key_id"])
    if key is None:
        raise CheckpointError(f"checkpoint key {cp['key_id']} is not in the published key ring")
    if not key.covers(parse_utc(cp["issued_at"])):
        raise CheckpointError(f"key {cp['key_id']} was not valid at {cp['issued_at']}")
    opened = open_checkpoint(cp["note"], [Ed25519NoteVerifier(cp["origin"], unb64(key.public_key))],
                             origin=cp["origin"])
    if opened.tree_size != cp["tree_size"]:
        raise CheckpointError("the checkpoint row differs from its signed note")
    return opened.root


def read_events(ledger: Ledger, streams: Iterable[str]) -> dict[str, SealedEvent]:
    """Every event of ``streams``, by event id, straight from the event store."""
    found: dict[str, SealedEvent] = {}
    for stream in sorted(set(streams)):
        for event in ledger.read_stream(UUID(stream)):
            found[str(event.envelope["event_id"])] = event
    return found


def verify_case(conn: Connection, keyring: KeyRing, rows: list[Mapping[str, Any]],
                events: Mapping[str, SealedEvent]) -> Badge:
    badge = Badge()
    badge.truncated = len(rows) > MAX_CHECKED
    rows = rows[:MAX_CHECKED]
    cp = latest_checkpoint(conn)
    root = None
    if cp is not None:
        badge.checkpoint = cp
        try:
            root = _open_checkpoint(cp, keyring)
        except (CheckpointError, LedgerError, ValueError) as exc:
            badge.problems.append(f"the latest checkpoint's signature does not verify: {exc}")
    for row in rows:
        badge.checked += 1
        problem = _check_event(conn, keyring, row, events.get(str(row["event_id"])), cp, root, badge)
        if problem:
            badge.problems.append(f"event #{row['position']} ({row['type']}): {problem}")
        elif row.get("verified") is False:
            badge.problems.append(f"event #{row['position']} ({row['type']}): the audit-trail row shown is "
                                  f"not what its sealed event says: {row['problem']}")
    if badge.problems:
        badge.state = "failed"
        badge.problems = badge.problems[:MAX_PROBLEMS]
    elif cp is None:
        badge.state = "unavailable"
    elif badge.pending:
        badge.state = "pending"
    return badge


def _check_event(conn: Connection, keyring: KeyRing, row: Mapping[str, Any], event: SealedEvent | None,
                 cp: Mapping[str, Any] | None, root: bytes | None, badge: Badge) -> str | None:
    if event is None:
        return "listed in the audit trail but missing from the event store"
    try:
        recomputed = envelope_hash(event.envelope)
    except LedgerError as exc:
        return f"the envelope cannot be hashed: {exc.detail}"
    if recomputed != event.hash:
        return "the envelope does not hash to its stored hash (altered)"
    reason = keyring.check_seal(event.key_id, event.hash, event.seal, parse_utc(event.envelope["recorded_at"]))
    if reason:
        return reason
    if cp is None or root is None:
        return None
    leaf = leaf_for_event(conn, str(row["event_id"]))
    if leaf is None or leaf["leaf_index"] >= cp["tree_size"]:
        badge.pending += 1
        return None
    try:
        proof = inclusion_proof(conn, str(row["event_id"]), cp["tree_size"])
        verify_inclusion(event_leaf_hash(recomputed), proof["leaf_index"], proof["tree_size"],
                         [base64.b64decode(p) for p in proof["proof"]], root)
    except (ProofError, LedgerError, ValueError) as exc:
        return f"the inclusion proof does not lead to the checkpoint's root: {exc}"
    badge.included += 1
    return None
