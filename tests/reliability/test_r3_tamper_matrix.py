"""R3: the tamper matrix on a real journey; each change is found by ``ledger verify`` with stream,
seq and reason (whole-stream deletions and truncation by the Merkle log and signed checkpoints),
and each edit of a read model with its table, key and column."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest

from api.container import build_container
from ledger.services.journeys import run_autologous_journey
from projections.verify_read_models import verify_read_models
from tests import tamper

from .conftest import FULL, make_served, report


@pytest.fixture
def journey(database, tmp_path):
    drill = make_served(database, tmp_path)
    container = build_container(drill.settings)
    try:
        result = run_autologous_journey(container.services, readings=30)
        container.catch_up()  # read models, Merkle leaves and a signed checkpoint over everything
        envs = [e.envelope for _, e in container.ledger.read_log(after=0, limit=5000)]
    finally:
        container.close()
    return drill, result, envs


def _verify(drill) -> str:
    """The findings ``ledger verify`` prints: in process (quick) or the CLI itself (full)."""
    if not FULL:
        from ledger.keys.keystore import KeyStore
        from ledger.verification.verify import verify_database
        from ledger.verification.verify_log import verify_log

        ring = KeyStore(drill.settings.keys_dir).key_ring()
        found = verify_database(drill.database, ring, workers=1).findings
        found += verify_log(drill.database, ring).findings
        assert found, "tampering not detected"
        return "\n".join(f.line() if f.stream else f"log: {f.reason}: {f.detail}" for f in found)
    environ = drill.environ
    ledger = str(Path(sys.executable).with_name("ledger"))
    done = subprocess.run([ledger, "verify", "--workers", "1"], env=environ, capture_output=True,  # noqa: S603
                          text=True, timeout=300, check=False)
    assert done.returncode == 1, f"tampering not detected:\n{done.stdout}{done.stderr}"
    return done.stdout


def _last(envs, type_):
    return next(e for e in reversed(envs) if e["type"] == type_)


def _with_hash_and_seal(drill, record):
    """An insider who also holds the sealing key re-hashes and re-seals the record."""
    from ledger.envelope import envelope_hash
    from ledger.keys.keystore import KeyStore

    key = KeyStore(drill.settings.keys_dir).active_key(drill.settings.key_passphrase.get_secret_value())
    record["hash"] = envelope_hash(record["envelope"])
    record["seal"], record["key_id"] = key.seal(record["hash"]), key.key_id
    return json.dumps(record).encode()


@pytest.mark.req("URS-P11-10a")
def test_every_tampering_is_found_with_stream_seq_and_reason(database, journey):
    drill, _, envs = journey
    db = database
    released, qc = _last(envs, "ProductReleased"), _last(envs, "QCResultRecorded")
    bag_stream = UUID(_last(envs, "MaterialCollected")["stream"])
    last_of_bag = max(e["seq"] for e in envs if e["stream"] == str(bag_stream))
    shipper = UUID(_last(envs, "TemperatureRecorded")["stream"])

    def payload():
        state = tamper.read_state(db, bag_stream, 1)
        tamper.write_state(db, bag_stream, 1, state.replace(b'"apheresis_bag"', b'"cryobag"'))
        return str(bag_stream), "seq 1", "hash mismatch"

    def delete_middle():
        tamper.delete_event(db, bag_stream, 3)
        return str(bag_stream), "seq 4", "gap in stream"

    def delete_last():
        tamper.delete_event(db, bag_stream, last_of_bag)
        return str(bag_stream), f"seq {last_of_bag}", "missing from log"

    def delete_stream():
        for seq in range(1, 1 + max(e["seq"] for e in envs if e["stream"] == str(shipper))):
            tamper.delete_event(db, shipper, seq)
        return str(shipper), "seq 1", "missing from log"

    def swap():
        tamper.swap_states(db, bag_stream, (2, 3))
        return str(bag_stream), "seq 2", "moved event"

    def rogue_reseal():
        from ledger.envelope import envelope_hash
        from tests.support import fixed_key

        rogue = fixed_key(seed=66)
        record = json.loads(tamper.read_state(db, bag_stream, 2))
        record["envelope"]["data"]["condition"] = "rewritten"
        record["hash"] = envelope_hash(record["envelope"])
        record["seal"], record["key_id"] = rogue.seal(record["hash"]), rogue.key_id
        tamper.write_state(db, bag_stream, 2, json.dumps(record).encode())
        return str(bag_stream), "seq 2", "unknown key"

    def move_esign():
        source = json.loads(tamper.read_state(db, UUID(released["stream"]), released["seq"]))
        target = json.loads(tamper.read_state(db, UUID(qc["stream"]), qc["seq"]))
        target["envelope"]["esign"] = source["envelope"]["esign"]
        tamper.write_state(db, UUID(qc["stream"]), qc["seq"], _with_hash_and_seal(drill, target))
        return qc["stream"], f"seq {qc['seq']}", "bad e-signature"

    def truncate():
        with tamper.owner_connection(db) as conn:
            conn.execute(f"DELETE FROM {db.events_table}")  # noqa: S608
        return None, None, "log truncated"

    matrix = [payload, delete_middle, delete_last, delete_stream, swap, rogue_reseal, move_esign, truncate]
    snapshot = _snapshot(db)
    misses = []
    for case_fn in matrix:
        _restore(db, snapshot)
        stream, seq, reason = case_fn()
        out = _verify(drill)
        wanted = [line for line in out.splitlines() if reason in line and (stream is None or (
            stream in line and seq in line))]
        if not wanted:
            misses.append(f"{case_fn.__name__}: expected {stream} {seq} {reason!r} in\n{out}")
    assert not misses, "\n".join(misses)
    report("R3", database=db.kind, tampers=len(matrix), detected=len(matrix) - len(misses),
           verifier="ledger verify CLI" if FULL else "in process")


def _snapshot(db):
    with tamper.owner_connection(db) as conn:
        return [tuple(r) for r in conn.execute(
            f"SELECT originator_id, originator_version, topic, state FROM {db.events_table} "  # noqa: S608
            f"ORDER BY {'rowid' if db.kind == 'sqlite' else 'notification_id'}").fetchall()]


def _restore(db, rows):
    mark = "?" if db.kind == "sqlite" else "%s"
    position = "rowid" if db.kind == "sqlite" else "notification_id"
    with tamper.owner_connection(db) as conn:
        conn.execute(f"DELETE FROM {db.events_table}")  # noqa: S608
        for index, (stream, seq, topic, state) in enumerate(rows, start=1):
            conn.execute(f"INSERT INTO {db.events_table} ({position}, originator_id, originator_version, "  # noqa: S608
                         f"topic, state) VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
                         (index, stream, seq, topic, state))


@pytest.mark.req("URS-ALCOA-CONS")
def test_every_read_model_edit_is_named_with_table_key_and_column(database, journey):
    """A DBA's edits of the read models the API, CSV and portal serve (no event touched): each row
    is named, table, key and column, stored against expected."""
    drill, result, envs = journey
    released = _last(envs, "ProductReleased")
    container = build_container(drill.settings)
    try:
        with container.engine.connect() as conn:
            position = conn.exec_driver_sql(
                f"SELECT position FROM audit_trail WHERE event_id = '{released['event_id']}'").scalar_one()
    finally:
        container.close()
    bag = str(result.units["apheresis_bag"])
    edits = [  # (statement, params, what verify must name)
        ("UPDATE audit_trail SET actor = ? WHERE position = ?", ("mallory", position),
         f"read model audit_trail [position={position}] actor: stored 'mallory', expected '{released['actor']}'"),
        ("UPDATE custody_units SET custodian = ? WHERE unit_id = ?", ("mallory", bag),
         f"read model custody_units [unit_id={bag}] custodian: stored 'mallory'"),
        ("UPDATE cases SET status = ? WHERE coi = ?", ("cancelled", result.coi), "status: stored 'cancelled'"),
        ("DELETE FROM genealogy_edges WHERE dst = ?", (bag,), f"dst={bag}, relation="),
    ]
    for statement, params, _ in edits:
        assert tamper.edit_read_model(database, statement, params) >= 1, statement
    out = _verify(drill) if FULL else "\n".join(
        d.line() for d in verify_read_models(drill.database).differences)
    misses = [wanted for _, _, wanted in edits if wanted not in out]
    assert not misses, f"{misses} not in\n{out}"
    report("R3-read-models", database=database.kind, tampers=len(edits), detected=len(edits) - len(misses),
           verifier="ledger verify CLI" if FULL else "in process")
