"""Retries never duplicate; concurrent writers never fork a stream."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.errors import IdempotencyKeyReused, StreamConflict
from ledger.store.application import Claim, Draft, Ledger
from ledger.verification.verify import verify_database
from tests.support import core_catalogue, ring_of


def note(stream, text="x", **kw):
    return Draft("NoteAdded", stream, {"text": text}, actor="integrator-1", **kw)


def test_same_key_same_request_returns_the_first_answer(ledger):
    stream = uuid.uuid4()
    claim = Claim("integrator-1:key-1", "digest-a", {"coi": "COI-AAAA-BBBB-C"})
    first = ledger.append([note(stream)], claim=claim)
    again = ledger.append([note(stream, text="a retry may even differ")], claim=claim)
    assert again.replayed and not first.replayed
    assert again.receipts == first.receipts
    assert again.answer == {"coi": "COI-AAAA-BBBB-C"}
    assert len(ledger.read_stream(stream)) == 1


def test_same_key_other_request_is_refused(ledger):
    stream = uuid.uuid4()
    ledger.append([note(stream)], claim=Claim("integrator-1:key-2", "digest-a"))
    with pytest.raises(IdempotencyKeyReused) as err:
        ledger.append([note(stream)], claim=Claim("integrator-1:key-2", "digest-b"))
    assert err.value.status == 409
    assert len(ledger.read_stream(stream)) == 1


def test_keys_are_scoped(ledger):
    stream = uuid.uuid4()
    ledger.append([note(stream)], claim=Claim("integrator-1:k", "d"))
    ledger.append([note(stream)], claim=Claim("integrator-2:k", "d"))
    assert len(ledger.read_stream(stream)) == 2


class CommitThenReportIntegrityError(Ledger):
    """Reproduces the library retrying an insert whose first attempt did commit."""

    failures = 1

    def _save(self, events, claim):
        recordings = super()._save(events, claim)
        if self.failures:
            self.failures -= 1
            raise IntegrityError("duplicate key value violates unique constraint (retried insert)")
        return recordings


@pytest.mark.parametrize("with_claim", [True, False])
def test_an_integrity_error_for_a_committed_write_returns_the_original_result(database, sealing_key, with_claim):
    app = CommitThenReportIntegrityError(database, sealing_key, core_catalogue(), pool_size=2)
    try:
        stream = uuid.uuid4()
        claim = Claim("device-1:k", "d") if with_claim else None
        result = app.append([note(stream), note(stream)], claim=claim)
        stored = app.read_stream(stream)
        assert len(stored) == 2
        assert [r.event_id for r in result.receipts] == [e.envelope["event_id"] for e in stored]
        assert all(r.position > 0 for r in result.receipts)
    finally:
        app.close()


def _lose_the_first_commit_acknowledgement(app) -> dict[str, int]:
    """The real library path: the first insert commits, then psycopg reports the connection
    dropped, and the library's @retry inserts again. Returns the count of inserts that returned."""
    from eventsourcing.persistence import OperationalError
    from eventsourcing.utils import retry

    from ledger.store.recorders import LedgerPostgresRecorder

    original = LedgerPostgresRecorder.insert_events.__wrapped__
    calls = {"n": 0}

    def flaky(self, stored_events, **kwargs):
        result = original(self, stored_events, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return result

    app.recorder.insert_events = retry((OperationalError,), max_attempts=3, wait=0.01)(flaky).__get__(app.recorder)
    return calls


@pytest.mark.postgres
def test_library_retry_after_a_committed_insert_is_reconciled(pg_database, sealing_key):
    app = Ledger(pg_database, sealing_key, core_catalogue(), pool_size=2)
    try:
        calls = _lose_the_first_commit_acknowledgement(app)
        stream = uuid.uuid4()
        result = app.append([note(stream)], claim=Claim("courier-1:k", "d"))
        assert calls["n"] == 1  # the second attempt raised IntegrityError inside the library
        assert len(app.read_stream(stream)) == 1
        assert result.receipts[0].event_id == app.read_stream(stream)[0].envelope["event_id"]
    finally:
        app.close()


@pytest.mark.postgres
def test_a_retried_insert_is_reconciled_when_the_server_answers_before_the_next_statement(
        pg_database, sealing_key, monkeypatch):
    """The CI flake, made certain: the duplicate key's error is already back when the client
    would send its next statement. In pipeline mode psycopg then raises it early, the library
    keeps it, and the statements queued after it came back as "pipeline aborted" from the
    pipeline's exit: an OperationalError, retried as an outage and answered 503."""
    import time

    import psycopg

    execute = psycopg.Cursor.execute

    def execute_then_wait(self, query, *args, **kwargs):
        result = execute(self, query, *args, **kwargs)
        if b"RETURNING notification_id" in (query if isinstance(query, bytes) else b""):
            time.sleep(0.3)  # the server's answer to the insert is now waiting on the socket
        return result

    app = Ledger(pg_database, sealing_key, core_catalogue(), pool_size=2)
    try:
        calls = _lose_the_first_commit_acknowledgement(app)
        monkeypatch.setattr(psycopg.Cursor, "execute", execute_then_wait)
        stream = uuid.uuid4()
        result = app.append([note(stream)], claim=Claim("courier-1:slow", "d"))
        assert calls["n"] == 1
        assert [r.event_id for r in result.receipts] == [
            e.envelope["event_id"] for e in app.read_stream(stream)]
    finally:
        app.close()


def test_many_threads_appending_at_the_head_never_fork_the_stream(ledger, database, sealing_key):
    stream = uuid.uuid4()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: ledger.append([note(stream, f"n{i}")]), range(40)))
    seqs = sorted(r.receipts[0].seq for r in results)
    assert seqs == list(range(1, 41))
    events = ledger.read_stream(stream)
    assert [e.envelope["seq"] for e in events] == list(range(1, 41))
    assert verify_database(database, ring_of(sealing_key), workers=1).intact


def test_concurrent_writers_at_the_same_expected_seq_exactly_one_wins(ledger):
    stream = uuid.uuid4()
    ledger.append([note(stream)])
    barrier = threading.Barrier(12)

    def attempt(i):
        barrier.wait()
        try:
            return ledger.append([note(stream, f"handover {i}", expected_seq=1)])
        except StreamConflict:
            return None

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(attempt, range(12)))
    assert sum(o is not None for o in outcomes) == 1
    assert len(ledger.read_stream(stream)) == 2


def test_concurrent_retries_of_one_idempotency_key_write_once(ledger):
    stream = uuid.uuid4()
    claim = Claim("integrator-1:same", "same-digest")
    barrier = threading.Barrier(8)

    def attempt(_):
        barrier.wait()
        return ledger.append([note(stream)], claim=claim)

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert len({o.receipts[0].event_id for o in outcomes}) == 1
    assert len(ledger.read_stream(stream)) == 1
