"""``rebuild_read_models``: fresh tables swapped in at once while readers keep reading the old ones;
events appended during the rebuild are not lost; other followers' rows are left alone."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from projections.read_models import GROUP_NAME, read_models
from projections.rebuild import rebuild_read_models
from projections.scratch import RebuildRunning, scratch_set
from projections.verify_read_models import verify_read_models
from tests import tamper

from .conftest import dump_tables
from .journeys import allogeneic, autologous

COUNTS = text("SELECT (SELECT COUNT(*) FROM audit_trail), (SELECT COUNT(*) FROM audit_links), "
              "(SELECT COUNT(*) FROM cases), (SELECT COUNT(*) FROM custody_intervals), "
              "(SELECT COUNT(*) FROM genealogy_edges)")


def _tracked(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT position FROM projection_tracking WHERE name = :n"),
                            {"n": GROUP_NAME}).scalar_one()


def test_rebuild_swaps_in_the_same_rows_and_leaves_other_followers_rows(database, journey, runner, engine):
    autologous(journey)
    allogeneic(journey)
    runner.catch_up()
    head = journey.ledger.last_position()
    before = dump_tables(engine)
    assert tamper.edit_read_model(database, "INSERT INTO stream_directory (owner, stream, coi, role) "
                                  "VALUES ('webhooks', 'some-stream', 'COI-X', 'case')") == 1
    assert tamper.edit_read_model(database, "DELETE FROM custody_intervals WHERE idx = 1") > 0  # damage

    rebuilt = rebuild_read_models(database, processes=2, batch_size=13)

    assert (rebuilt.events, rebuilt.position) == (head, head)
    assert rebuilt.processes == (1 if database.kind == "sqlite" else 2)
    after = dump_tables(engine)
    webhook_rows = [r for r in after["stream_directory"] if r[0] == "webhooks"]
    assert webhook_rows == [("webhooks", "some-stream", "COI-X", "case", None)]  # not the read models'
    after["stream_directory"] = [r for r in after["stream_directory"] if r[0] != "webhooks"]
    assert after == before  # the damage is repaired, every row as the live follower made it
    assert _tracked(engine) == head
    assert verify_read_models(database).intact
    with engine.connect() as conn:  # no scratch set left behind
        tables = {r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'" if database.kind == "sqlite" else
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"))}
    assert not any("rebuild_next" in t for t in tables), tables
    assert runner.catch_up() == 0  # the service's follower carries on from the swapped position


def test_readers_see_the_old_or_the_new_read_models_never_a_partial_one(database, journey, runner, engine):
    autologous(journey)
    allogeneic(journey)
    runner.catch_up()
    with engine.connect() as conn:
        new = tuple(conn.execute(COUNTS).one())
    # The old set differs from what the rebuild makes in two tables, so a mix would show.
    assert tamper.edit_read_model(database, "DELETE FROM audit_trail WHERE position = "
                                  "(SELECT MAX(position) FROM audit_trail)") == 1
    assert tamper.edit_read_model(database, "DELETE FROM cases WHERE enrolled_position = "
                                  "(SELECT MIN(enrolled_position) FROM cases)") == 1
    with engine.connect() as conn:
        old = tuple(conn.execute(COUNTS).one())
    assert old != new and 0 not in old

    seen: list[tuple] = []
    started, stop = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                with engine.connect() as conn:
                    seen.append(tuple(conn.execute(COUNTS).one()))
                if len(seen) >= 3:
                    started.set()
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)
            started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(30)
    during = len(seen)
    try:
        rebuild_read_models(database, processes=2, batch_size=5)  # small batches: a long rebuild
        rebuilt_at = len(seen)
        while len(seen) < rebuilt_at + 3 and not failures:
            stop.wait(0.01)
    finally:
        stop.set()
        reader.join(30)
    assert not failures, failures
    assert rebuilt_at > during  # the reader kept answering during the rebuild
    assert set(seen) <= {old, new}, set(seen) - {old, new}
    assert seen[0] == old and seen[-1] == new


def test_events_appended_during_the_rebuild_are_in_the_rebuilt_models(database, journey, runner, engine):
    autologous(journey)
    runner.catch_up()
    appended = []

    def meanwhile(_n: int) -> None:
        if len(appended) < 2:  # the service keeps working: new events, applied to the old tables
            appended.append(journey.enrol("autologous", f"MRN-7700900{len(appended)}"))
            runner.run_once()

    rebuild_read_models(database, processes=2, batch_size=10, on_events=meanwhile)
    assert len(appended) == 2
    journey.enrol("autologous", "MRN-77009100")  # after the swap: the follower applies it
    runner.catch_up()
    head = journey.ledger.last_position()
    assert _tracked(engine) == head
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM audit_trail")).scalar_one() == head
        assert conn.execute(text("SELECT COUNT(*) FROM cases")).scalar_one() == 4
    rebuilt = dump_tables(engine)
    report = verify_read_models(database)
    assert report.intact and report.position == head, [d.line() for d in report.differences]
    rebuild_read_models(database, processes=1)
    assert dump_tables(engine) == rebuilt


def test_a_second_rebuild_while_one_runs_is_refused(database, journey, runner, engine):
    autologous(journey)
    runner.catch_up()
    before = dump_tables(engine)
    tables = [t for model in read_models() for t in model.tables]
    with scratch_set(database, tables).exclusive(), pytest.raises(RebuildRunning):
        rebuild_read_models(database, processes=1)
    assert dump_tables(engine) == before
    assert rebuild_read_models(database, processes=1).position == journey.ledger.last_position()


def test_a_rebuild_answers_its_own_lookups_from_memory_and_makes_the_same_rows(database, journey, runner, engine,
                                                                                monkeypatch):
    """Each share is the sole writer of tables that start empty: its read models look up what they
    wrote themselves in memory, across batches, instead of reading it back mid-batch (a round trip
    each; left: the rare reads of corrections and of the review queue), and the rows are the follower's."""
    from projections import batching

    autologous(journey)
    allogeneic(journey)
    runner.catch_up()
    before = dump_tables(engine)
    reads: list[str] = []
    execute = batching.QueuedWrites.execute

    def spy(self, statement, parameters=None):  # noqa: ANN001, ANN202
        if not batching._is_write(statement):
            reads.append(getattr(statement, "text", str(statement)))
        return execute(self, statement, parameters)

    monkeypatch.setattr(batching.QueuedWrites, "execute", spy)
    rebuilt = rebuild_read_models(database, processes=1, batch_size=7)

    assert rebuilt.position == journey.ledger.last_position()
    remembered = ("stream_directory", "excursions", "custody_units", "genealogy_nodes", "FROM cases",
                  "review_exceptions")
    assert not [r for r in reads if any(name in r for name in remembered)], "\n".join(reads)
    assert dump_tables(engine) == before


@pytest.mark.parametrize("database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_rebuild_sends_rows_added_once_per_key_with_copy(database, journey, runner, engine, monkeypatch):
    """A share knows every key it wrote: rows added once per key (and the plain inserts of tables
    updated only by key) go by COPY, not as one pipelined statement each. One event a batch: a read
    mid-batch (a correction's original values) sends the rows waiting before it as statements."""
    from projections import batching

    autologous(journey)
    allogeneic(journey)
    runner.catch_up()
    before = dump_tables(engine)
    copied: set[str] = set()
    pipelined: list[str] = []
    copy_waiting, send = batching.QueuedWrites._copy_waiting, batching.QueuedWrites._send_pipelined

    def spy_copy(self):  # noqa: ANN001, ANN202
        copied.update(waiting.plan.table for waiting in self._waiting.values())
        return copy_waiting(self)

    def spy_send(self, queue):  # noqa: ANN001, ANN202
        pipelined.extend(getattr(statement, "text", statement) for statement, _ in queue)
        return send(self, queue)

    monkeypatch.setattr(batching.QueuedWrites, "_copy_waiting", spy_copy)
    monkeypatch.setattr(batching.QueuedWrites, "_send_pipelined", spy_send)
    rebuild_read_models(database, processes=1, batch_size=1)
    once = {"scope_units", "scope_sites", "plan_cases", "plan_actuals", "search_keys", "queue_cases",
            "queue_products", "condition_units"}
    assert once <= copied
    assert not [s for s in pipelined if s.startswith("INSERT") and s.split()[2] in once], pipelined
    assert dump_tables(engine) == before


def _indexes(engine, database) -> list[tuple]:
    """Every index and key of the database, by name, with its definition."""
    queries = (["SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY 1"] if database.kind == "sqlite" else
               ["SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE connamespace = 'public'::regnamespace ORDER BY 1"])
    with engine.connect() as conn:
        return [tuple(r) for query in queries for r in conn.execute(text(query))]


def test_the_swapped_in_tables_have_every_index_and_key_the_live_ones_had(database, journey, runner, engine):
    """A rebuild's twins get the live tables' keys and indexes under their own names (a migration
    drops an index by name), those that only serve reads built after the replay."""
    autologous(journey)
    runner.catch_up()
    before = _indexes(engine, database)
    assert "ix_exceptions_state" in dict(before)  # one of the indexes a migration created by name
    rebuild_read_models(database, processes=1)
    assert _indexes(engine, database) == before


@pytest.mark.parametrize("database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_reader_holding_a_table_the_swap_waits_for_is_not_deadlocked(database, journey, runner, engine):
    """The swap takes the live tables one by one: a reader holding ``audit_trail`` that then asks for
    ``cases`` (which the swap already holds) closes a cycle. PostgreSQL would break it after its
    1 s ``deadlock_timeout`` by failing one side (a reader's request, in CI); the swap instead gives
    its locks back within SWAP_LOCK_TIMEOUT and tries again, so the reader just waits a little."""
    autologous(journey)
    runner.catch_up()
    swap_waits = text("SELECT COUNT(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                      "WHERE NOT l.granted AND l.mode = 'AccessExclusiveLock' AND c.relname = 'audit_trail'")
    with engine.connect() as reader, engine.connect() as watcher, ThreadPoolExecutor(1) as pool:
        reader.execute(text("SELECT COUNT(*) FROM audit_trail")).one()  # held until the reader's commit
        rebuilt = pool.submit(rebuild_read_models, database, processes=1)
        deadline = time.monotonic() + 60
        while not watcher.execute(swap_waits).scalar_one():  # the swap holds cases, waits for audit_trail
            watcher.rollback()
            assert time.monotonic() < deadline and not rebuilt.done(), "the swap never waited for audit_trail"
            time.sleep(0.01)
        started = time.monotonic()
        reader.execute(text("SELECT COUNT(*) FROM cases")).one()
        waited = time.monotonic() - started
        reader.commit()
        assert rebuilt.result(timeout=60).position == journey.ledger.last_position()
    assert waited < 0.7, waited  # the swap's give-up (0.2 s), not PostgreSQL's deadlock check (1 s)
