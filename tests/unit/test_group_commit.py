"""GroupCommit's contract, with a commit function standing in for the database (the real one
is exercised on PostgreSQL in tests/integration/test_group_commit.py)."""

from __future__ import annotations

import threading
import time

from ledger.store.group_commit import GroupCommit


class Outage(Exception):
    pass


class Store:
    """Commits lists of events; the first commit waits until the others have queued up."""

    def __init__(self) -> None:
        self.commits: list[list[str]] = []
        self.release = threading.Event()
        self.outage = False

    def commit(self, events: list[str], claims: list[str]) -> list[str]:
        if not self.commits and not self.release.is_set():
            self.release.wait(5)
        if self.outage:
            raise Outage("database unavailable")
        if any(e.startswith("bad") for e in events):
            raise ValueError(f"refused: {[e for e in events if e.startswith('bad')]}")
        self.commits.append(list(events))
        return [f"recorded {e}" for e in events]


def run_all(group: GroupCommit, store: Store, batches: list[list[str]]) -> list[object]:
    results: list[object] = [None] * len(batches)

    def submit(i: int) -> None:
        try:
            results[i] = group.submit(batches[i], [f"claim-{i}"])
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(batches))]
    threads[0].start()
    time.sleep(0.05)  # the first one leads and blocks in commit
    for t in threads[1:]:
        t.start()
    while len(group._queue) < len(batches) - 1:  # noqa: SLF001 - wait until all have queued
        time.sleep(0.005)
    store.release.set()
    for t in threads:
        t.join(5)
    return results


def test_waiting_appends_share_one_commit_and_get_their_own_recordings():
    store = Store()
    group = GroupCommit(store.commit, outage=(Outage,))
    batches = [["a1"], ["b1", "b2"], ["c1"], ["d1", "d2", "d3"], ["e1"]]
    results = run_all(group, store, batches)
    assert results == [[f"recorded {e}" for e in b] for b in batches]
    assert store.commits == [["a1"], ["b1", "b2", "c1", "d1", "d2", "d3", "e1"]]


def test_a_failing_member_fails_alone():
    store = Store()
    group = GroupCommit(store.commit, outage=(Outage,))
    results = run_all(group, store, [["a1"], ["b1"], ["bad-c1"], ["d1"]])
    assert results[:2] == [["recorded a1"], ["recorded b1"]] and results[3] == ["recorded d1"]
    assert isinstance(results[2], ValueError)
    assert store.commits == [["a1"], ["b1"], ["d1"]]  # the group failed; its members went alone


def test_an_outage_reaches_every_member_of_the_group():
    store = Store()
    store.outage = True
    group = GroupCommit(store.commit, outage=(Outage,))
    results = run_all(group, store, [["a1"], ["b1"], ["c1"]])
    assert all(isinstance(r, Outage) for r in results)
    store.outage = False
    assert group.submit(["after"], []) == ["recorded after"]  # the group is free again


def test_groups_are_bounded():
    store = Store()
    group = GroupCommit(store.commit, max_events=3)
    results = run_all(group, store, [["a1"], ["b1", "b2"], ["c1", "c2"], ["d1"]])
    assert all(isinstance(r, list) for r in results)
    assert store.commits == [["a1"], ["b1", "b2"], ["c1", "c2", "d1"]]


def test_many_threads_no_lost_or_doubled_append():
    threads = 16
    seen: list[str] = []
    lock = threading.Lock()

    def commit(events, claims):
        with lock:
            seen.extend(events)
        time.sleep(0.001)
        return events

    group = GroupCommit(commit)
    out: list[list[str]] = []

    def worker(k: int) -> None:
        for i in range(50):
            out.append(group.submit([f"{k}-{i}"], []))

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    assert sorted(seen) == sorted(f"{k}-{i}" for k in range(threads) for i in range(50))
    assert sorted(e for r in out for e in r) == sorted(seen)
