"""``QueuedWrites``: writes wait, reads see every earlier write, failures surface at the flush."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc, text

from projections.batching import QueuedWrites


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
