"""``ledger verify`` hashes the stored envelope bytes instead of re-serialising them, and reads
PostgreSQL pages ahead in a thread: tampering is still found, and nothing is lost or reordered."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from ledger.envelope import canonical, envelope_hash
from ledger.store import rawstore
from ledger.store.application import Draft
from ledger.store.rawstore import hashed_record
from ledger.verification.verify import verify_database
from tests import tamper
from tests.support import fixed_key, ring_of


@pytest.fixture
def journey(ledger):
    stream = uuid.uuid4()
    for i in range(5):
        ledger.append([Draft("NoteAdded", stream, {"text": f"step {i}"}, actor="courier-7")])
    return stream


def spliced(envelope_bytes: bytes, record: dict) -> bytes:
    """A record in the store's own layout around the given envelope bytes."""
    return b"".join((b'{"envelope":', envelope_bytes, b',"hash":', canonical(record["hash"]),
                     b',"key_id":', canonical(record["key_id"]), b',"seal":', canonical(record["seal"]), b"}"))


def reasons(database, sealing_key, **kw) -> list[tuple[int, str]]:
    return [(f.seq, f.reason) for f in verify_database(database, ring_of(sealing_key), workers=1, **kw).findings]


def test_stored_records_take_the_byte_path_and_read_as_the_general_parser_reads_them(database, journey):
    state = tamper.read_state(database, journey, 3)
    record = json.loads(state)
    assert hashed_record(state) == (record["envelope"], record["hash"], record["key_id"], record["seal"])
    assert envelope_hash(record["envelope"]) == record["hash"]


@pytest.mark.parametrize("fast", [False, True])
def test_a_changed_byte_in_the_canonical_bytes_is_a_hash_mismatch(database, sealing_key, journey, fast):
    state = tamper.read_state(database, journey, 3)
    changed = state.replace(b"step 2", b"step 7")
    assert changed != state and hashed_record(changed) is None  # the slice no longer hashes to the hash
    tamper.write_state(database, journey, 3, changed)
    assert reasons(database, sealing_key, signatures=not fast) == [(3, "hash mismatch")]


def test_a_rehashed_envelope_under_the_old_seal_is_a_bad_seal(database, sealing_key, journey):
    record = json.loads(tamper.read_state(database, journey, 5))
    record["envelope"]["data"]["text"] = "rewritten"
    jcs = canonical(record["envelope"])
    record["hash"] = hashlib.sha256(jcs).hexdigest()  # consistent bytes and hash: the seal is what fails
    forged = spliced(jcs, record)
    assert hashed_record(forged) is not None
    tamper.write_state(database, journey, 5, forged)
    assert reasons(database, sealing_key) == [(5, "bad seal")]


def test_a_non_canonical_slice_with_its_own_hash_breaks_the_seal_and_the_chain(database, sealing_key, journey):
    record = json.loads(tamper.read_state(database, journey, 2))
    loose = json.dumps(record["envelope"], indent=1).encode()  # same meaning, other bytes
    record["hash"] = hashlib.sha256(loose).hexdigest()
    tamper.write_state(database, journey, 2, spliced(loose, record))
    assert reasons(database, sealing_key) == [(2, "bad seal"), (3, "broken link")]
    assert reasons(database, sealing_key, signatures=False) == [(3, "broken link")]


def test_a_second_envelope_after_the_sealed_one_is_a_hash_mismatch(database, sealing_key, journey):
    state = tamper.read_state(database, journey, 4)
    record = json.loads(state)
    other = {**record["envelope"], "data": {"text": "smuggled"}}
    # the slice ends where "hash" starts, so it now holds both envelopes: it no longer hashes
    smuggled = state.replace(b',"hash":', b',"envelope":' + canonical(other) + b',"hash":', 1)
    assert hashed_record(smuggled) is None
    tamper.write_state(database, journey, 4, smuggled)
    assert reasons(database, sealing_key) == [(4, "hash mismatch")]


def test_a_seal_tampered_in_place_is_a_bad_seal(database, sealing_key, journey):
    state = tamper.read_state(database, journey, 1)
    record = json.loads(state)
    record["seal"] = fixed_key(seed=66).seal(record["hash"])
    tamper.write_state(database, journey, 1, spliced(canonical(record["envelope"]), record))
    assert reasons(database, sealing_key) == [(1, "bad seal")]


def test_pages_read_ahead_keep_every_row_in_order(database, sealing_key, ledger, monkeypatch):
    streams = [uuid.uuid4() for _ in range(3)]
    for i in range(7):
        ledger.append([Draft("NoteAdded", s, {"text": f"{i}"}, actor="qa-1") for s in streams])
    monkeypatch.setattr(rawstore, "PAGE_ROWS", 2)  # PostgreSQL: many pages per partition
    with rawstore.connect(database) as conn:
        rows = [(stream, seq) for p in range(rawstore.PARTITIONS)
                for stream, seq, _ in rawstore.partition_rows(database, p, conn)]
    assert rows == sorted((str(s), n) for s in streams for n in range(1, 8))
    report = verify_database(database, ring_of(sealing_key), workers=1)
    assert report.intact and report.events == 21


class _Cursor:
    """A driver cursor's ``fetchmany`` (the only call the read-ahead makes)."""

    def __init__(self, pages: list, fail_after: int | None = None) -> None:
        self.pages, self.fail_after, self.calls = list(pages), fail_after, 0

    def fetchmany(self, size: int) -> list:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise OSError("connection lost")
        return self.pages.pop(0) if self.pages else []


def test_read_ahead_hands_over_the_readers_error():
    pages = rawstore.prefetched_pages(_Cursor([[1], [2]], fail_after=2), 1)
    assert next(pages) == [1] and next(pages) == [2]
    with pytest.raises(OSError, match="connection lost"):
        next(pages)


def test_read_ahead_stops_its_thread_when_the_reader_stops_early():
    cursor = _Cursor([[i] for i in range(100)])
    pages = rawstore.prefetched_pages(cursor, 1)
    assert next(pages) == [0]
    pages.close()  # the thread was blocked on a full queue: it must end, not hang
    assert cursor.calls <= 4
