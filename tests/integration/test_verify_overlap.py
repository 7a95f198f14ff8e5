"""``ledger verify`` reads a run of partitions with one query and runs the Merkle log pass beside
the stream pass: the rows, and every finding, are what the one-by-one reads and passes give."""

from __future__ import annotations

import uuid

import pytest

from ledger.store import rawstore
from ledger.store.application import Draft
from ledger.verification.verify import verify_database
from ledger.verification.verify_log import verify_log
from ledger.verification.whole import verify_store
from tests import tamper
from tests.support import ring_of

# first bytes of the streams: partition edges (0, 15/16, 255) and the middle
FIRST_BYTES = (0x00, 0x0F, 0x10, 0x7F, 0x80, 0xFF)


@pytest.fixture
def streams(ledger) -> list[uuid.UUID]:
    streams = [uuid.UUID(f"{b:02x}" + uuid.uuid4().hex[2:]) for b in FIRST_BYTES]
    for i in range(4):
        ledger.append([Draft("NoteAdded", s, {"text": f"step {i}"}, actor="courier-7") for s in streams])
    return streams


@pytest.mark.parametrize("run", [range(0, 16), range(15, 17), range(0, 256), range(128, 256), range(1, 15)])
def test_a_run_of_partitions_reads_the_rows_of_its_partitions_in_order(database, streams, run):
    with rawstore.connect(database) as conn:
        one_by_one = [row for p in run for row in rawstore.partition_rows(database, p, conn)]
        together = list(rawstore.partitions_rows(database, run, conn))
    assert together == one_by_one
    expected = sorted((str(s), n) for s in streams if s.bytes[0] in run for n in range(1, 5))
    assert [(stream, seq) for stream, seq, _ in together] == expected


def test_a_run_of_partitions_must_be_consecutive_and_in_range(database):
    with rawstore.connect(database) as conn, pytest.raises(ValueError):
        list(rawstore.partitions_rows(database, range(0, 257), conn))


def _outcome(report, log) -> tuple:
    return (report.events, report.streams, report.findings, log.events, log.root, log.findings, log.notes)


@pytest.mark.parametrize("workers", [1, 2])
def test_both_passes_at_once_report_what_they_report_one_after_the_other(database, sealing_key, streams, workers):
    ring = ring_of(sealing_key)
    tamper.delete_event(database, streams[2], 2)
    tamper.write_state(database, streams[5], 3, tamper.read_state(database, streams[5], 3).replace(b"step", b"stop"))
    report, log = verify_store(database, ring, workers=workers)
    in_turn = verify_database(database, ring, workers=workers), verify_log(database, ring)
    assert _outcome(report, log) == _outcome(*in_turn)
    assert {(f.stream, f.seq, f.reason) for f in report.findings} >= {
        (str(streams[2]), 3, "gap in stream"), (str(streams[5]), 3, "hash mismatch")}
    assert report.events == log.events == 23


@pytest.mark.parametrize("events", [10**6, 10**8])
def test_a_large_store_is_verified_in_smaller_tasks_with_the_same_findings(database, sealing_key, streams, events):
    """The count the CLI passes sizes the tasks (1M: 43 tasks; 100M: one partition each); what
    is found does not change."""
    ring = ring_of(sealing_key)
    tamper.delete_event(database, streams[0], 2)
    tamper.write_state(database, streams[4], 1, tamper.read_state(database, streams[4], 1).replace(b"step", b"stop"))
    tasks = []
    report, log = verify_store(database, ring, workers=2, events=events, on_partition=tasks.append)
    assert _outcome(report, log) == _outcome(*verify_store(database, ring, workers=2))
    assert len(tasks) == {10**6: 43, 10**8: 256}[events]
    assert sum(t.events for t in tasks) == 23 and sum(t.streams for t in tasks) == 6


def test_a_failing_log_pass_is_raised_after_the_stream_pass(database, sealing_key, streams, monkeypatch):
    def unreadable(*args, **kwargs):
        raise rawstore.StoreUnreadable("log table gone")

    seen = []
    monkeypatch.setattr("ledger.verification.whole.verify_log", unreadable)
    with pytest.raises(rawstore.StoreUnreadable, match="log table gone"):
        verify_store(database, ring_of(sealing_key), workers=1, on_partition=seen.append)
    assert sum(part.events for part in seen) == 24  # the stream pass ran to its end
