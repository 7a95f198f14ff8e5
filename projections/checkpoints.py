"""Signed checkpoints of the global log (C2SP tlog-checkpoint in a C2SP signed note).

Contract:

* A checkpoint commits to ``(origin, tree_size, root)``: the RFC 9162 root of the first
  ``tree_size`` leaves of the ``merkle`` tree (see :mod:`projections.merkle_log`). Its note is
  :func:`ledger.merkle.sign_checkpoint` signed with the ledger's Ed25519 sealing key under the
  note key name ``origin`` (``LEDGER_LOG_ORIGIN``); the row also keeps ``key_id`` (the published
  key, as in ``keyring.json``) and ``issued_at`` (RFC 3339 UTC), which are *not* signed.
* Issued at least every ``every_events`` new leaves, or when there are new leaves and
  ``every_seconds`` have passed since the newest checkpoint was issued (before the first one:
  since this publisher first saw a leaf), always inside the transaction that stored those
  leaves (or read them committed), so a checkpoint is never ahead of the stored tree. Rows are never updated or deleted.
* A tree that does not reproduce an existing checkpoint at the same size (a rebuild over a
  rewritten log, or two signers disagreeing) raises :class:`CheckpointConflict`, never overwrites.
* :func:`export_checkpoints` writes a witness file (format: :mod:`ledger.verification.verify_log`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from ledger.errors import LedgerError
from ledger.keys.sealing import SealingKey
from ledger.merkle import Checkpoint, CompactRange, Ed25519NoteSigner, sign_checkpoint
from ledger.merkle.witness import format_witness
from ledger.settings import Settings
from ledger.timefmt import format_utc, parse_utc, utc_now

from .merkle_log import b64, restore_range, stored_size

_COLUMNS = "tree_size, root, issued_at, key_id, note"


class CheckpointConflict(LedgerError):
    """The tree at a size disagrees with the checkpoint already signed for that size."""

    code = "CHECKPOINT_CONFLICT"
    status = 409


def _as_dict(row: Any) -> dict[str, Any]:
    size, root_hex, issued_at, key_id, note = row
    signature = note.rstrip("\n").rsplit("\n", 1)[-1].rsplit(" ", 1)[-1]
    return {
        "origin": note.split("\n", 1)[0],
        "tree_size": int(size),
        "root": b64(bytes.fromhex(root_hex)),
        "issued_at": issued_at,
        "key_id": key_id,
        "signature": signature,  # base64(4-byte note key hash || Ed25519 signature)
        "note": note,
    }


def latest_checkpoint(conn: Connection) -> dict[str, Any] | None:
    """The newest checkpoint: origin, tree_size, root (b64), issued_at, key_id, signature, note."""
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM checkpoints ORDER BY tree_size DESC LIMIT 1")
    ).first()
    return _as_dict(row) if row else None


def checkpoint_at(conn: Connection, size: int) -> dict[str, Any] | None:
    row = conn.execute(text(f"SELECT {_COLUMNS} FROM checkpoints WHERE tree_size = :s"), {"s": size}).first()
    return _as_dict(row) if row else None


def export_checkpoints(conn: Connection) -> str:
    """Every checkpoint note, oldest first, as a witness file (see ``ledger.verification.verify_log``)."""
    notes = conn.execute(text("SELECT note FROM checkpoints ORDER BY tree_size")).scalars()
    return format_witness(notes)


class CheckpointPublisher:
    """Signs checkpoints for the ``merkle`` follower (see the module docstring)."""

    def __init__(
        self,
        sealing_key: SealingKey,
        origin: str,
        *,
        every_events: int = 1000,
        every_seconds: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if every_events < 1 or every_seconds <= 0:
            raise ValueError("checkpoint intervals must be positive")
        self.origin = origin
        self.key_id = sealing_key.key_id
        self.signer = Ed25519NoteSigner(origin, sealing_key.private_key)
        self.every_events = every_events
        self.every_seconds = timedelta(seconds=every_seconds)
        self.clock = clock
        self._last_size = 0
        self._last_at: datetime | None = None
        self._first_seen: datetime | None = None
        self._next_known: tuple[int, str] | None = None  # a signed size the tree has not reached

    @classmethod
    def from_settings(cls, settings: Settings, sealing_key: SealingKey, **kw: Any) -> CheckpointPublisher:
        return cls(
            sealing_key,
            settings.log_origin,
            every_events=settings.checkpoint_every_events,
            every_seconds=settings.checkpoint_every_seconds,
            **kw,
        )

    # -- follower hooks (called by MerkleLog inside the runner's transaction) ------------------

    def begin_batch(self, conn: Connection, tree: CompactRange) -> None:
        """Re-read what is signed already (another process may have published)."""
        row = conn.execute(
            text("SELECT tree_size, issued_at FROM checkpoints ORDER BY tree_size DESC LIMIT 1")
        ).first()
        self._last_size, self._last_at = (int(row[0]), parse_utc(row[1])) if row else (0, None)
        self._load_next(conn, tree.size)

    def after_append(self, conn: Connection, tree: CompactRange) -> dict[str, Any] | None:
        """Check the tree against a checkpoint signed at this size; publish if one is due."""
        if self._next_known is not None and tree.size == self._next_known[0]:
            if tree.root().hex() != self._next_known[1]:
                raise CheckpointConflict(
                    f"the log no longer reproduces the checkpoint signed at size {tree.size}: "
                    "refusing to continue (run `ledger verify`)"
                )
            self._load_next(conn, tree.size)
        return self._publish(conn, tree) if self.due(tree.size) else None

    def due(self, size: int) -> bool:
        pending = size - self._last_size
        if pending <= 0:
            return False
        if pending >= self.every_events:
            return True
        now = self.clock()
        if self._last_at is None:  # nothing signed yet: time from the first leaf this process saw
            self._first_seen = self._first_seen or now
        return now - (self._last_at or self._first_seen) >= self.every_seconds

    # -- standalone (own transaction): the idle tail, tests and the CLI -------------------------

    def publish_due(self, conn: Connection, tree: CompactRange | None = None) -> dict[str, Any] | None:
        """Publish for the stored tree if a checkpoint is due by count or time."""
        tree = tree if tree is not None else restore_range(conn, stored_size(conn))
        self.begin_batch(conn, tree)
        return self._publish(conn, tree) if self.due(tree.size) else None

    def publish_now(self, conn: Connection) -> dict[str, Any] | None:
        """Sign the stored tree now, unless the newest checkpoint covers it already (then return
        that one). ``None`` while the tree is empty."""
        tree = restore_range(conn, stored_size(conn))
        self.begin_batch(conn, tree)
        if tree.size == 0:
            return None
        if tree.size <= self._last_size:
            return latest_checkpoint(conn)
        return self._publish(conn, tree)

    # -- internals ----------------------------------------------------------------------------

    def _load_next(self, conn: Connection, size: int) -> None:
        row = conn.execute(
            text("SELECT tree_size, root FROM checkpoints WHERE tree_size > :s ORDER BY tree_size LIMIT 1"),
            {"s": size},
        ).first()
        self._next_known = (int(row[0]), row[1]) if row else None

    def _publish(self, conn: Connection, tree: CompactRange) -> dict[str, Any]:
        root, issued_at = tree.root(), self.clock()
        note = sign_checkpoint(Checkpoint(self.origin, tree.size, root), self.signer)
        conn.execute(
            text(
                f"INSERT INTO checkpoints ({_COLUMNS}) VALUES (:s, :r, :t, :k, :n) "
                "ON CONFLICT (tree_size) DO NOTHING"
            ),
            {"s": tree.size, "r": root.hex(), "t": format_utc(issued_at), "k": self.key_id, "n": note},
        )
        stored = checkpoint_at(conn, tree.size)
        if stored is None or stored["root"] != b64(root):
            raise CheckpointConflict(f"a different checkpoint is already signed at size {tree.size}")
        self._last_size, self._last_at = tree.size, parse_utc(stored["issued_at"])
        return stored
