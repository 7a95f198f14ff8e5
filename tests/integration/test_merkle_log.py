"""The global log: Merkle follower, signed checkpoints, proofs, and what only the log can reveal."""

from __future__ import annotations

import base64
import random
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from ledger.merkle import (
    Ed25519NoteVerifier,
    event_leaf_hash,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from ledger.store.application import Draft
from ledger.verification.verify import verify_database
from ledger.verification.verify_log import parse_witness, verify_log
from projections.checkpoints import (
    CheckpointConflict,
    CheckpointPublisher,
    checkpoint_at,
    export_checkpoints,
    latest_checkpoint,
)
from projections.db import make_engine
from projections.merkle_log import MerkleLog, ProofUnavailable, consistency_proof, inclusion_proof
from projections.runner import ProjectionRunner
from tests import tamper
from tests.support import EPOCH, ring_of
from tests.unit.merkle.naive import naive_root

ORIGIN = "coi-ledger.example/log"


class Clock:
    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def engine(database):
    engine = make_engine(database)
    yield engine
    engine.dispose()


def follower(ledger, engine, key, *, batch_size=500, every_events=1000, every_seconds=3600, clock=None):
    publisher = CheckpointPublisher(
        key, ORIGIN, every_events=every_events, every_seconds=every_seconds, clock=clock or Clock()
    )
    merkle = MerkleLog(publisher)
    return ProjectionRunner(ledger, engine, [merkle], batch_size=batch_size), merkle, publisher


def append(ledger, count, streams=None):
    streams = streams or [uuid.uuid4() for _ in range(4)]
    for i in range(count):
        ledger.append([Draft("NoteAdded", streams[i % len(streams)], {"text": f"n{i}"}, actor="a")])
    return streams


def log_hashes(ledger):
    return [bytes.fromhex(e.hash) for _, e in ledger.read_log(after=0, limit=100_000)]


def sizes(engine):
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT tree_size FROM checkpoints ORDER BY tree_size")).scalars())


def test_follower_builds_the_naive_root_in_commit_order(ledger, engine, sealing_key):
    streams = append(ledger, 20)
    ledger.append([Draft("NoteAdded", s, {"text": "batch"}, actor="a") for s in streams])  # one txn
    append(ledger, 13, streams)
    runner, _, publisher = follower(ledger, engine, sealing_key, batch_size=7)
    assert runner.catch_up() == 37
    with engine.begin() as conn:
        checkpoint = publisher.publish_now(conn)
        leaves = conn.execute(text("SELECT leaf_index, position FROM merkle_leaves ORDER BY leaf_index")).all()
    assert checkpoint["tree_size"] == 37
    assert base64.b64decode(checkpoint["root"]) == naive_root(log_hashes(ledger))
    assert leaves == [(i, p) for i, (p, _) in enumerate(ledger.read_log(after=0, limit=1000))]
    cp = open_checkpoint(checkpoint["note"], [Ed25519NoteVerifier(ORIGIN, sealing_key.public_key_raw)])
    assert (cp.origin, cp.tree_size) == (ORIGIN, 37) and checkpoint["key_id"] == sealing_key.key_id


def test_inclusion_proofs_of_random_events_verify_against_checkpoint_roots(ledger, engine, sealing_key):
    append(ledger, 41)
    runner, _, _ = follower(ledger, engine, sealing_key, every_events=16)
    runner.catch_up()
    events = [e for _, e in ledger.read_log(after=0, limit=1000)]
    rng = random.Random(7)
    with engine.connect() as conn:
        assert [c for c in sizes(engine)] == [16, 32]
        for size in (16, 32):
            root = base64.b64decode(checkpoint_at(conn, size)["root"])
            for event in rng.sample(events[:size], 8):
                got = inclusion_proof(conn, event.envelope["event_id"], size)
                leaf = base64.b64decode(got["leaf_hash"])
                assert leaf == event_leaf_hash(event.hash)
                proof = [base64.b64decode(h) for h in got["proof"]]
                verify_inclusion(leaf, got["leaf_index"], size, proof, root)
                assert base64.b64decode(got["root"]) == root
        assert inclusion_proof(conn, events[0].envelope["event_id"])["tree_size"] == 32  # newest
        with pytest.raises(ProofUnavailable):
            inclusion_proof(conn, events[40].envelope["event_id"], 32)  # not in that tree
        with pytest.raises(ProofUnavailable):
            inclusion_proof(conn, str(uuid.uuid4()), 32)
        with pytest.raises(ProofUnavailable):
            inclusion_proof(conn, events[0].envelope["event_id"], 42)  # beyond the tree


@pytest.mark.req("URS-ALCOA-END")
def test_consistency_proofs_between_checkpoints_verify(ledger, engine, sealing_key):
    append(ledger, 23)
    runner, _, _ = follower(ledger, engine, sealing_key, every_events=5, batch_size=4)
    runner.catch_up()
    signed = sizes(engine)
    assert signed == [5, 10, 15, 20]
    with engine.connect() as conn:
        roots = {s: base64.b64decode(checkpoint_at(conn, s)["root"]) for s in signed}
        for first, second in [*zip(signed, signed[1:], strict=False), (5, 20), (20, 20)]:
            got = consistency_proof(conn, first, second)
            proof = [base64.b64decode(h) for h in got["proof"]]
            verify_consistency(first, second, proof, roots[first], roots[second])
    assert naive_root(log_hashes(ledger)[:15]) == roots[15]


def test_a_follower_killed_mid_batch_resumes_without_duplicating_leaves(ledger, engine, sealing_key):
    append(ledger, 30)

    class Killed(MerkleLog):
        left = 12

        def apply(self, conn, position, event):
            super().apply(conn, position, event)
            self.left -= 1
            if self.left == 0:
                raise RuntimeError("killed")

    publisher = CheckpointPublisher(sealing_key, ORIGIN, every_events=5, clock=Clock())
    killed = Killed(publisher)
    runner = ProjectionRunner(ledger, engine, [killed], batch_size=8)
    with pytest.raises(RuntimeError):
        runner.catch_up()  # the first batch (8) committed, the second died after 4 more
    assert runner.position("merkle") == 8 and sizes(engine) == [5]
    killed.left = -1
    assert runner.catch_up() == 22  # same instance: its in-memory tree is re-validated
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT leaf_index FROM merkle_leaves ORDER BY leaf_index")).scalars()
        assert list(rows) == list(range(30))
        assert base64.b64decode(latest_checkpoint(conn)["root"]) == naive_root(log_hashes(ledger)[:30])
    assert sizes(engine) == [5, 10, 15, 20, 25, 30]


def test_two_followers_take_turns_and_each_restores_what_the_other_stored(ledger, engine, sealing_key):
    append(ledger, 10)
    first, _, _ = follower(ledger, engine, sealing_key, batch_size=3)
    second, _, _ = follower(ledger, engine, sealing_key, batch_size=3)
    for runner in (first, second, first, second):
        runner.run_once()
    first.catch_up()
    with engine.begin() as conn:
        root = base64.b64decode(first.projections[0].publisher.publish_now(conn)["root"])
    assert root == naive_root(log_hashes(ledger))


def test_checkpoints_every_n_events_and_every_t_seconds(ledger, engine, sealing_key):
    clock = Clock()
    append(ledger, 3)
    runner, merkle, publisher = follower(ledger, engine, sealing_key, every_events=10, every_seconds=1, clock=clock)
    runner.catch_up()
    assert sizes(engine) == []  # 3 leaves, no time has passed
    clock.advance(1.5)
    append(ledger, 2)
    runner.catch_up()
    assert sizes(engine) == [4]  # the first leaf after T
    append(ledger, 25)
    runner.catch_up()
    assert sizes(engine) == [4, 14, 24]  # every N leaves
    with engine.begin() as conn:
        assert publisher.publish_due(conn) is None  # 6 pending, T not over
        clock.advance(1)
        merkle.finish_batch(conn)  # the idle tail: end of a batch, or a timer
    assert sizes(engine) == [4, 14, 24, 30]


def test_a_rebuild_reproduces_the_tree_and_refuses_a_rewritten_log(ledger, engine, sealing_key, database):
    streams = append(ledger, 12)
    runner, _, _ = follower(ledger, engine, sealing_key, every_events=4)
    runner.catch_up()
    runner.rebuild()
    assert sizes(engine) == [4, 8, 12]
    tamper.delete_event(database, streams[1], 1)  # the second event of the log
    with pytest.raises(CheckpointConflict):
        runner.rebuild()


# --- what `ledger verify` finds in the log that per-stream chains cannot -----------------------


@pytest.fixture
def signed_log(ledger, engine, sealing_key):
    """Four streams, interleaved, then a fifth; every event covered by a signed checkpoint."""
    streams = append(ledger, 16)
    late = append(ledger, 2, [uuid.uuid4()])
    runner, _, publisher = follower(ledger, engine, sealing_key, every_events=6)
    runner.catch_up()
    with engine.begin() as conn:
        publisher.publish_now(conn)
    return [*streams, *late]


def log_findings(database, sealing_key, **kw):
    report = verify_log(database, ring_of(sealing_key), **kw)
    assert not report.intact
    return {(f.reason, f.stream, f.seq) for f in report.findings}, report


def test_an_intact_log_verifies_and_a_tail_is_only_information(ledger, database, sealing_key, signed_log):
    append(ledger, 2, signed_log[:1])
    report = verify_log(database, ring_of(sealing_key))
    assert report.intact and report.events == 20 and report.checkpoints == 3
    assert any("2 events after the newest checkpoint" in n for n in report.notes)


@pytest.mark.req("URS-ALCOA-COMP")
def test_deleting_a_whole_stream_is_found(database, sealing_key, signed_log):
    gone = signed_log[2]
    for seq in range(1, 5):
        tamper.delete_event(database, gone, seq)
    assert verify_database(database, ring_of(sealing_key), workers=1).intact  # chains cannot see it
    found, _ = log_findings(database, sealing_key)
    assert {("missing from log", str(gone), seq) for seq in range(1, 5)} <= found
    assert ("checkpoint mismatch", None, None) in found


def test_deleting_a_streams_last_event_is_found(database, sealing_key, signed_log):
    tamper.delete_event(database, signed_log[0], 4)
    assert verify_database(database, ring_of(sealing_key), workers=1).intact
    found, report = log_findings(database, sealing_key)
    assert ("missing from log", str(signed_log[0]), 4) in found
    assert any(f.reason == "checkpoint mismatch" and "checkpoint 18" in f.detail for f in report.findings)


def _rows(database, conn, stream):
    m = "?" if database.kind == "sqlite" else "%s"
    key = stream.hex if database.kind == "sqlite" else stream
    return conn.execute(
        f"SELECT originator_id, originator_version, topic, state FROM {database.events_table} "
        f"WHERE originator_id = {m} ORDER BY originator_version",
        (key,),
    ).fetchall()


def test_swapping_two_whole_streams_in_the_log_is_found(database, sealing_key, signed_log):
    a, b = signed_log[0], signed_log[1]
    m = "?" if database.kind == "sqlite" else "%s"
    with tamper.owner_connection(database) as conn:
        rows_a, rows_b = _rows(database, conn, a), _rows(database, conn, b)
        for stream in (a, b):
            key = stream.hex if database.kind == "sqlite" else stream
            conn.execute(f"DELETE FROM {database.events_table} WHERE originator_id = {m}", (key,))
        for row in (*rows_b, *rows_a):  # b's events now come before a's, both after the rest
            conn.execute(
                f"INSERT INTO {database.events_table} (originator_id, originator_version, topic, state) "
                f"VALUES ({m}, {m}, {m}, {m})",
                row,
            )
    assert verify_database(database, ring_of(sealing_key), workers=1).intact
    found, _ = log_findings(database, sealing_key)
    assert {("moved in log", str(s), seq) for s in (a, b) for seq in range(1, 5)} <= found
    assert ("checkpoint mismatch", None, None) in found


def test_truncating_the_event_table_is_found(database, sealing_key, signed_log):
    with tamper.owner_connection(database) as conn:
        if database.kind == "sqlite":
            conn.execute("DELETE FROM stored_events")
        else:
            conn.execute("TRUNCATE ledger_events")
    assert verify_database(database, ring_of(sealing_key), workers=1).intact  # nothing left to check
    found, report = log_findings(database, sealing_key, max_per_reason=5)
    assert ("log truncated", None, None) in found
    assert ("missing from log", str(signed_log[0]), 1) in found
    assert any(f.detail == "... and 13 more" for f in report.findings)  # 18 missing, 5 detailed


def test_a_forged_checkpoint_signature_and_an_exported_witness(engine, database, sealing_key, signed_log):
    with engine.connect() as conn:
        witness = parse_witness(export_checkpoints(conn))
    assert len(witness) == 3
    assert verify_log(database, ring_of(sealing_key), witness=witness).intact
    with tamper.owner_connection(database) as conn:  # rewrite one stored root and note
        m = "?" if database.kind == "sqlite" else "%s"
        row = conn.execute(f"SELECT note FROM checkpoints WHERE tree_size = {m}", (12,)).fetchone()
        lines = row[0].split("\n")
        lines[2] = base64.b64encode(bytes(32)).decode()
        conn.execute(f"UPDATE checkpoints SET note = {m} WHERE tree_size = {m}", ("\n".join(lines), 12))
    found, _ = log_findings(database, sealing_key, witness=witness)
    assert ("bad checkpoint signature", None, None) in found
