"""``QueuedWrites``: writes wait, reads see every earlier write, failures surface at the flush."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc, text

from projections.batching import CopyPlan, QueuedWrites, UpdatePlan, Waiting
from projections.common import InsertOnce


@pytest.fixture
def scratch(engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS qw_scratch (k VARCHAR(20) PRIMARY KEY, v VARCHAR(40))"))
        conn.execute(text("DELETE FROM qw_scratch"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE qw_scratch"))


def test_reads_see_earlier_writes_in_order(scratch) -> None:
    insert = text("INSERT INTO qw_scratch (k, v) VALUES (:k, :v)")
    with scratch.begin() as conn:
        writes = QueuedWrites(conn)
        assert writes.execute(insert, {"k": "a", "v": "50% off"}) is None  # a literal % survives
        writes.execute(insert, [{"k": "b", "v": "1"}, {"k": "c", "v": "2"}])
        writes.execute(text("UPDATE qw_scratch SET v = :v WHERE k = :k"), {"k": "b", "v": "updated"})
        writes.execute(text("DELETE FROM qw_scratch WHERE k = 'c'"))
        seen = writes.execute(text("SELECT k, v FROM qw_scratch ORDER BY k")).all()
        assert [tuple(r) for r in seen] == [("a", "50% off"), ("b", "updated")]
        writes.execute(text("UPDATE qw_scratch SET v = v || '!' WHERE k = 'a'"))
        writes.flush()
    with scratch.connect() as conn:
        assert conn.execute(text("SELECT v FROM qw_scratch WHERE k = 'a'")).scalar_one() == "50% off!"


def test_a_failing_write_fails_the_flush_and_the_transaction(scratch) -> None:
    insert = text("INSERT INTO qw_scratch (k, v) VALUES (:k, :v)")
    # SQLite through SQLAlchemy; PostgreSQL straight from psycopg's pipeline
    with pytest.raises((exc.IntegrityError, psycopg.errors.UniqueViolation)), scratch.begin() as conn:
        writes = QueuedWrites(conn)
        writes.execute(insert, {"k": "x", "v": "first"})
        writes.execute(insert, {"k": "x", "v": "duplicate key"})
        writes.flush()
    with scratch.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM qw_scratch")).scalar_one() == 0


def test_append_only_rows_wait_for_the_batch_end_yet_reads_and_updates_see_them(scratch) -> None:
    """Rows of an append-only table go out last on PostgreSQL (with COPY), but a read naming the
    table, or an update queued after them, still finds them; literals in VALUES are kept."""
    insert = text("INSERT INTO qw_scratch (k, v) VALUES (:k, 'literal')")
    with scratch.begin() as conn:
        writes = QueuedWrites(conn, append_only=("qw_scratch",))
        writes.execute(insert, {"k": "a"})
        writes.execute(text("UPDATE qw_scratch SET v = :v WHERE k = :k"), {"k": "a", "v": "updated"})
        writes.execute(insert, [{"k": "b"}, {"k": "c"}])
        assert writes.execute(text("SELECT COUNT(*) FROM qw_scratch")).scalar_one() == 3
        writes.execute(insert, {"k": "d"})
        writes.execute(text("UPDATE qw_scratch SET v = v || '!' WHERE k = 'd'"))
        writes.execute(insert, {"k": "e"})  # nothing reads it: sent at the flush, with COPY on PostgreSQL
        writes.flush()
    with scratch.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT k, v FROM qw_scratch ORDER BY k"))]
    assert rows == [("a", "updated"), ("b", "literal"), ("c", "literal"), ("d", "literal!"), ("e", "literal")]


def test_only_plain_inserts_are_copied() -> None:
    tables = ("t",)
    plan = CopyPlan.of(text("INSERT INTO t (a, b, c, d, e) VALUES (:a, NULL, FALSE, 'open', 0)"), tables)
    assert plan is not None and plan.columns == ("a", "b", "c", "d", "e")
    assert plan.rows([{"a": 1}, {"a": 2}]) == [[1, None, False, "open", 0], [2, None, False, "open", 0]]
    mixed = CopyPlan.of(text("INSERT INTO t (x, a, b, y, c) VALUES ('l', :a, :b, NULL, :c)"), tables)
    assert mixed.rows({"c": 3, "a": 1, "b": 2, "z": 9}) == [["l", 1, 2, None, 3]]
    assert CopyPlan.of(text("INSERT INTO t (a, b) VALUES (:b, :a)"), tables).rows([{"a": 1, "b": 2}]) == [[2, 1]]
    assert CopyPlan.of(text("INSERT INTO t (a) VALUES (TRUE)"), tables).rows(None) == [[True]]
    for statement in ("INSERT INTO t (a) VALUES (:a) ON CONFLICT (a) DO NOTHING",  # order matters
                      "INSERT INTO u (a) VALUES (:a)",  # not append-only
                      "INSERT INTO t (a, b) VALUES (:a, COALESCE(:b, 1))",  # an expression
                      "INSERT INTO t (a) SELECT a FROM u"):
        assert CopyPlan.of(text(statement), tables) is None, statement


def test_an_update_of_a_waiting_row_is_applied_to_it() -> None:
    """The update's equality conditions find the row by its key; ``IS NULL`` is judged on the row."""
    tables = ("t",)
    insert = text("INSERT INTO t (k, n, closed, state) VALUES (:k, :n, NULL, 'open')")
    waiting = Waiting(CopyPlan.of(insert, tables))
    waiting.add([{"k": "a", "n": 1}, {"k": "a", "n": 2}, {"k": "b", "n": 1}])
    close = UpdatePlan.of(text("UPDATE t SET closed = :at, state = 'closed' WHERE k = :k AND n = :n "
                               "AND closed IS NULL"), tables)
    assert close.apply([waiting], {"k": "a", "n": 2, "at": "t1"})
    assert close.apply([waiting], {"k": "a", "n": 2, "at": "t2"})  # found, already closed: nothing to do
    assert not close.apply([waiting], {"k": "c", "n": 1, "at": "t3"})  # not waiting: to be sent
    waiting.add({"k": "c", "n": 1})  # rows added after the first update are found too
    assert close.apply([waiting], {"k": "c", "n": 1, "at": "t4"})
    assert waiting.rows == [["a", 1, None, "open"], ["a", 2, "t1", "closed"], ["b", 1, None, "open"],
                            ["c", 1, "t4", "closed"]]
    for statement in ("UPDATE t SET n = n + 1 WHERE k = :k",  # an expression
                      "UPDATE t SET k = :new WHERE k = :k",  # changes the key
                      "UPDATE t SET n = :n WHERE k = :k OR n = :m",
                      "UPDATE t SET n = :n WHERE k = 'a'",  # a literal key: not one row by its key
                      "UPDATE u SET n = :n WHERE k = :k"):  # not append-only
        assert UpdatePlan.of(text(statement), tables) is None, statement


def test_updates_of_waiting_rows_keep_the_order_of_writes(scratch) -> None:
    """Folded or sent, each row ends as the statements in their order make it, on both databases:
    an update of a row stored by an earlier batch is sent, and once another write to the table is
    queued, later updates queue behind it."""
    insert = text("INSERT INTO qw_scratch (k, v) VALUES (:k, NULL)")
    set_v = text("UPDATE qw_scratch SET v = :v WHERE k = :k AND v IS NULL")
    overwrite = text("UPDATE qw_scratch SET v = :v WHERE k = :k")
    with scratch.begin() as conn:
        writes = QueuedWrites(conn, append_only=("qw_scratch",))
        writes.execute(insert, [{"k": "stored"}, {"k": "read"}])
        writes.flush()
    with scratch.begin() as conn:
        writes = QueuedWrites(conn, append_only=("qw_scratch",))
        writes.execute(set_v, {"k": "stored", "v": "sent"})  # stored in the last batch
        writes.execute(insert, [{"k": "a"}, {"k": "b"}, {"k": "c"}])
        writes.execute(set_v, [{"k": "a", "v": "first"}, {"k": "a", "v": "second"}])  # the second finds v set
        writes.execute(text("UPDATE qw_scratch SET v = v || '!' WHERE k = :k"), {"k": "b"})  # not foldable
        writes.execute(overwrite, {"k": "b", "v": "after !"})  # queued behind it
        writes.execute(insert, {"k": "d"})
        assert writes.execute(text("SELECT v FROM qw_scratch WHERE k = 'a'")).scalar_one() == "first"
        writes.execute(overwrite, {"k": "d", "v": "mid-batch"})  # d went out with the read: sent
        writes.execute(insert, {"k": "e"})
        writes.execute(set_v, {"k": "e", "v": "folded"})
        writes.flush()
    with scratch.connect() as conn:
        rows = dict(conn.execute(text("SELECT k, v FROM qw_scratch")).all())
    assert rows == {"stored": "sent", "read": None, "a": "first", "b": "after !", "c": None,
                    "d": "mid-batch", "e": "folded"}


def _insert_once_batches(scratch, once: InsertOnce, batches: list[list[dict]]) -> list[tuple]:
    for rows in batches:
        with scratch.begin() as conn:
            once.begin_batch()
            writes = QueuedWrites(conn, once.append_only)
            once.insert(writes, *rows)
            writes.flush()
    with scratch.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT k, v FROM qw_scratch ORDER BY k"))]


def test_insert_once_keeps_the_first_row_of_each_key(scratch) -> None:
    """A follower (keys forgotten between batches: ON CONFLICT keeps the first) and a rebuild's sole
    writer (keys remembered: plain inserts, COPY on PostgreSQL) store the same rows."""
    batches = [[{"k": "a", "v": "1"}, {"k": "a", "v": "again"}, {"k": "b", "v": "2"}],
               [{"k": "b", "v": "later"}, {"k": "c", "v": "3"}]]
    follower = InsertOnce("qw_scratch", ("k", "v"), ("k",))
    assert follower.append_only == ()
    assert _insert_once_batches(scratch, follower, batches) == [("a", "1"), ("b", "2"), ("c", "3")]
    with scratch.begin() as conn:
        conn.execute(text("DELETE FROM qw_scratch"))
    sole = InsertOnce("qw_scratch", ("k", "v"), ("k",))
    sole.sole_writer()
    assert sole.append_only == ("qw_scratch",)
    assert _insert_once_batches(scratch, sole, batches) == [("a", "1"), ("b", "2"), ("c", "3")]
