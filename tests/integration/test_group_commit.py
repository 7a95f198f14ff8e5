"""Group commit on PostgreSQL: concurrent appends share transactions, yet each caller gets
exactly its own receipts or its own error, and nothing is lost or written twice."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from ledger.errors import IdempotencyKeyReused, StreamConflict
from ledger.store.application import Claim, Draft, Ledger
from ledger.verification.verify import verify_database
from tests.support import core_catalogue, ring_of

pytestmark = pytest.mark.postgres


def note(stream, text="x", **kw):
    return Draft("NoteAdded", stream, {"text": text}, actor="integrator-1", **kw)


class CountingLedger(Ledger):
    """Counts the transactions the ledger commits and how many events each carried."""

    def __init__(self, *args, **kwargs) -> None:
        self.commits: list[int] = []
        self._count_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def _save(self, events, claims):
        recordings = super()._save(events, claims)
        with self._count_lock:
            self.commits.append(len(events))
        return recordings


@pytest.fixture
def counting(pg_database, sealing_key):
    app = CountingLedger(pg_database, sealing_key, core_catalogue(), pool_size=8)
    yield app
    app.close()


def test_concurrent_appends_share_commits_and_each_gets_its_own_receipts(counting, pg_database, sealing_key):
    streams = [uuid.uuid4() for _ in range(200)]
    start = threading.Barrier(32)

    def append(i: int):
        if i < 32:
            start.wait()
        stream = streams[i]
        return stream, counting.append([note(stream, f"n{i}"), note(stream, f"m{i}")],
                                       claim=Claim(f"integrator-1:k{i}", f"d{i}", {"i": i}))

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(append, range(len(streams))))
    for stream, result in results:
        stored = counting.read_stream(stream)
        assert [e.envelope["event_id"] for e in stored] == [r.event_id for r in result.receipts]
        i = result.answer["i"]
        assert streams[i] == stream and [e.envelope["data"]["text"] for e in stored] == [f"n{i}", f"m{i}"]
    positions = [r.position for _, result in results for r in result.receipts]
    assert len(set(positions)) == 400
    assert sum(counting.commits) == 400
    assert len(counting.commits) < len(streams)  # appends did share transactions
    again = counting.append([note(streams[7], "retry")], claim=Claim("integrator-1:k7", "d7"))
    assert again.replayed and again.receipts == results[7][1].receipts
    assert verify_database(pg_database, ring_of(sealing_key)).intact


def test_a_conflict_in_a_group_reaches_only_its_own_caller(counting):
    contested = uuid.uuid4()
    counting.append([note(contested)])
    start = threading.Barrier(24)

    def append(i: int):
        start.wait()
        if i % 3 == 0:  # eight writers at the same expected seq: exactly one may win
            return "contested", counting.append([note(contested, f"c{i}", expected_seq=1)])
        if i % 3 == 1:  # a claim reused for a different request
            return "claim", counting.append([note(uuid.uuid4())], claim=Claim("integrator-1:shared", f"d{i}"))
        return "free", counting.append([note(uuid.uuid4(), f"f{i}")])

    outcomes: dict[str, list] = {"contested": [], "claim": [], "free": []}
    errors: dict[str, list] = {"contested": [], "claim": [], "free": []}

    def run(i: int) -> None:
        kind = "contested" if i % 3 == 0 else "claim" if i % 3 == 1 else "free"
        try:
            outcomes[kind].append(append(i)[1])
        except (StreamConflict, IdempotencyKeyReused) as exc:
            errors[kind].append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes["free"]) == 8 and not errors["free"]
    assert len(outcomes["contested"]) == 1 and len(errors["contested"]) == 7
    assert all(isinstance(e, StreamConflict) for e in errors["contested"])
    assert len(outcomes["claim"]) == 1 and len(errors["claim"]) == 7
    assert all(isinstance(e, IdempotencyKeyReused) for e in errors["claim"])
    assert len(counting.read_stream(contested)) == 2
