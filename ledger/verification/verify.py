"""Offline verification of the whole event store (``ledger verify``).

For every stream, in seq order: the row's position matches the envelope, no seq is
missing, ``prev`` links to the previous event's hash, the hash recomputes from the
envelope's JCS bytes, the seal verifies with a published key valid at ``recorded_at``, and
device signatures and Part 11 e-signatures verify with the keys registered in the ledger.
Streams are verified in parallel, one partition of the stream-id space per task.

The hash is checked on the stored bytes where that is sound (see
:func:`~ledger.store.rawstore.hashed_record`); any other row takes the general path (parse the
whole record, re-serialise the envelope, hash), so an altered row is found either way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from ..envelope import GENESIS_PREV, check_shape, envelope_hash, esign_digest, submission_of
from ..errors import LedgerError
from ..keys.keydir import KeyDirectory
from ..keys.sealing import KeyRing
from ..store.database import Database
from ..store.rawstore import PARTITIONS, connect, count_events, hashed_record, key_event_envelopes, partitions_rows
from ..timefmt import parse_utc


@dataclass(frozen=True)
class Finding:
    stream: str
    seq: int | None
    event_id: str | None
    reason: str  # hash mismatch | broken link | bad seal | unknown key | gap in stream ...
    detail: str = ""

    def line(self) -> str:
        where = f"stream {self.stream} seq {self.seq if self.seq is not None else '-'}"
        event = f" event {self.event_id}" if self.event_id else ""
        return f"{where}{event}: {self.reason}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Report:
    events: int = 0
    streams: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings

    def add(self, other: Report) -> None:
        self.events += other.events
        self.streams += other.streams
        self.findings.extend(other.findings)


def verify_rows(
    rows: Iterable[tuple[str, int, bytes]], keyring: KeyRing, keys: KeyDirectory, *, signatures: bool = True
) -> Report:
    """Verify rows ordered by (stream, seq); see the module docstring for the checks.

    ``signatures=False`` (``ledger verify --fast``) checks order, links and hashes only: no seal,
    device signature or e-signature is verified."""
    report = Report()
    stream: str | None = None
    expected_seq = 1
    prev: str | None = GENESIS_PREV
    for row_stream, row_seq, state in rows:
        if row_stream != stream:
            stream, expected_seq, prev = row_stream, 1, GENESIS_PREV
            report.streams += 1
        report.events += 1
        if row_seq != expected_seq:
            missing = f"{expected_seq}" if row_seq == expected_seq + 1 else f"{expected_seq}..{row_seq - 1}"
            gap = Finding(row_stream, row_seq, None, "gap in stream", f"seq {missing} missing")
            report.findings.append(gap)
        expected_seq = row_seq + 1
        findings, prev = _check_event(row_stream, row_seq, state, prev, keyring, keys, signatures)
        report.findings.extend(findings)
    return report


def _check_event(
    stream: str, seq: int, state: bytes, prev: str | None, keyring: KeyRing, keys: KeyDirectory,
    signatures: bool = True,
) -> tuple[list[Finding], str | None]:
    hashed = hashed_record(state)
    if hashed is not None:
        envelope, stored_hash, key_id, seal = hashed
    else:
        try:
            record = json.loads(state)
            envelope, stored_hash = record["envelope"], record["hash"]
            seal, key_id = record["seal"], record["key_id"]
        except (ValueError, KeyError, TypeError) as exc:
            detail = f"stored state is not a sealed record ({exc})"
            return [Finding(stream, seq, None, "undecodable", detail)], None
    event_id = envelope.get("event_id") if isinstance(envelope, dict) else None

    def found(reason: str, detail: str = "") -> Finding:
        return Finding(stream, seq, event_id, reason, detail)

    shape = check_shape(envelope)
    if shape is not None:
        return [found("malformed envelope", shape)], stored_hash
    out: list[Finding] = []
    if envelope["stream"] != stream or envelope["seq"] != seq:
        out.append(found("moved event", f"envelope says stream {envelope['stream']} seq {envelope['seq']}"))
    if prev is not None and envelope["prev"] != prev:
        out.append(found("broken link", "prev does not match the previous event's hash"))
    try:
        recomputed = stored_hash if hashed is not None else envelope_hash(envelope)
        recorded_at = parse_utc(envelope["recorded_at"])
    except LedgerError as exc:
        return [*out, found("malformed envelope", exc.detail)], stored_hash
    if recomputed != stored_hash:
        out.append(found("hash mismatch", "the envelope does not hash to the stored hash"))
    if not signatures:
        return out, stored_hash
    reason = keyring.check_seal(str(key_id), str(stored_hash), str(seal), recorded_at)
    if reason is not None:
        out.append(found(reason.split(":")[0], reason))
    if envelope["device_sig"] is not None:
        reason = keys.check_device_sig(envelope["device_sig"], submission_of(envelope), recorded_at)
        if reason is not None:
            out.append(found("bad device signature", reason))
    if envelope["esign"] is not None:
        reason = keys.check_esign(envelope["esign"], esign_digest(envelope))
        if reason is not None:
            out.append(found("bad e-signature", reason))
    return out, stored_hash


def _verify_partitions(args: tuple[Database, dict, KeyDirectory, range, bool]) -> Report:
    """Verify a run of partitions with one connection and one query (a connection, or a query,
    per partition cost more than the verification itself on small ledgers). A stream lies in
    one partition, so the run's rows are whole streams."""
    database, ring_json, keys, partitions, signatures = args
    keyring = KeyRing.from_json(ring_json)
    with connect(database) as conn:
        return verify_rows(partitions_rows(database, partitions, conn), keyring, keys, signatures=signatures)


TASK_EVENTS = 25_000  # events a task holds at most, about (streams are spread evenly over partitions)


def _partitions_per_task(workers: int, events: int | None) -> int:
    """A few tasks per worker (balance and progress), and on a large store tasks of at most
    ~TASK_EVENTS events: every task of a worker costs a connection and a query, and the last
    task run alone leaves the other cores idle (16 tasks of a 1M store idled one of two cores
    for its last ~6 s)."""
    tasks = max(workers * 8, -(-(events or 0) // TASK_EVENTS))
    return max(1, PARTITIONS // tasks)


def verify_database(
    database: Database,
    keyring: KeyRing,
    *,
    workers: int | None = None,
    on_partition: Callable[[Report], None] | None = None,
    signatures: bool = True,
    started: Callable[[], None] | None = None,
    events: int | None = None,
) -> Report:
    """Verify every stream; ``on_partition`` is called as each run of partitions completes.

    ``started`` is called once the worker processes exist, before any result is awaited: work
    to overlap with the pass may start threads there (forking after threads start is unsafe).
    ``events``, the number of events when the caller knows it, sizes the tasks."""
    keys = KeyDirectory()
    if signatures:
        with connect(database) as conn:
            keys = KeyDirectory.from_envelopes(key_event_envelopes(database, conn))
    workers = workers or os.cpu_count() or 1
    step = _partitions_per_task(workers, events)
    ring = keyring.to_json()
    tasks = [(database, ring, keys, range(p, min(p + step, PARTITIONS)), signatures)
             for p in range(0, PARTITIONS, step)]
    total = Report()
    results: Iterator[Report]
    if workers == 1:
        if started:
            started()
        results = map(_verify_partitions, tasks)
        for part in results:
            total.add(part)
            if on_partition:
                on_partition(part)
        return total
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_verify_partitions, tasks)  # forks every worker before it returns
        if started:
            started()
        for part in results:
            total.add(part)
            if on_partition:
                on_partition(part)
    total.findings.sort(key=lambda f: (f.stream, f.seq or 0))
    return total


def total_events(database: Database) -> int:
    with connect(database) as conn:
        return count_events(database, conn)


__all__ = ["Finding", "Report", "verify_database", "verify_rows"]
