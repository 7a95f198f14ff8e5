"""The audit page checks each shown row's event on its stored bytes where they prove its hash (no
re-serialising), and on the general path otherwise: an intact event is verified either way, and an
altered one is caught either way, never as an error (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
from uuid import UUID

from ledger.envelope import canonical
from projections import audit_evidence
from projections.audit_evidence import check_rows
from projections.audit_query import audit_trail_page
from tests import tamper
from tests.support import ring_of

from .journeys import autologous


def spliced(envelope_bytes: bytes, record: dict) -> bytes:
    """A record in the store's own layout around the given envelope bytes."""
    return b"".join((b'{"envelope":', envelope_bytes, b',"hash":', canonical(record["hash"]),
                     b',"key_id":', canonical(record["key_id"]), b',"seal":', canonical(record["seal"]), b"}"))


def checked(engine, sealing_key) -> dict[int, dict]:
    with engine.connect() as conn:
        rows = audit_trail_page(conn, None, None, 500)["items"]
        check_rows(conn, rows, ring_of(sealing_key))
    return {row["position"]: row for row in rows}


def test_rows_are_checked_on_their_stored_bytes_and_altered_events_are_caught(
        database, sealing_key, journey, runner, engine, monkeypatch) -> None:
    autologous(journey)
    runner.catch_up()
    rehashed = []
    real_hash = audit_evidence.envelope_hash
    monkeypatch.setattr(audit_evidence, "envelope_hash", lambda env: rehashed.append(env) or real_hash(env))
    rows = checked(engine, sealing_key)
    assert len(rows) > 20 and all(row["verified"] and row["problem"] is None for row in rows.values())
    assert rehashed == []  # every stored record proved its hash on its bytes

    hollow, changed, rehashed_envelope, loose, relaid = sorted(rows)[-5:]

    def record_at(position: int) -> tuple[UUID, int, dict]:
        stream, seq = UUID(rows[position]["stream"]), rows[position]["seq"]
        return stream, seq, json.loads(tamper.read_state(database, stream, seq))

    stream, seq, record = record_at(hollow)  # the store's layout, hashing right, but no envelope in it
    bare = canonical({"event_id": record["envelope"]["event_id"]})
    tamper.write_state(database, stream, seq, spliced(bare, {**record, "hash": hashlib.sha256(bare).hexdigest()}))

    stream, seq, record = record_at(changed)  # one field changed, the stored hash kept
    record["envelope"]["on_behalf"] = "mallory"
    tamper.write_state(database, stream, seq, spliced(canonical(record["envelope"]), record))

    stream, seq, record = record_at(rehashed_envelope)  # changed and re-hashed: bytes and hash agree
    record["envelope"]["on_behalf"] = "mallory"
    jcs = canonical(record["envelope"])
    record["hash"] = hashlib.sha256(jcs).hexdigest()
    tamper.write_state(database, stream, seq, spliced(jcs, record))
    tamper.edit_read_model(database, "UPDATE audit_trail SET event_hash = ? WHERE position = ?",
                           (record["hash"], rehashed_envelope))  # the row follows: only the seal can tell

    stream, seq, record = record_at(loose)  # the same envelope, not canonical, under its own hash
    loose_bytes = b"{ " + canonical(record["envelope"])[1:]
    record["hash"] = hashlib.sha256(loose_bytes).hexdigest()
    tamper.write_state(database, stream, seq, spliced(loose_bytes, record))

    stream, seq, record = record_at(relaid)  # intact, in another layout: the general path
    tamper.write_state(database, stream, seq, json.dumps(
        {"seal": record["seal"], "key_id": record["key_id"], "hash": record["hash"],
         "envelope": record["envelope"]}).encode())

    rehashed.clear()
    rows = checked(engine, sealing_key)
    assert rows[hollow]["problem"] == f"no sealed event at log position {hollow}"
    assert rows[changed]["problem"] == "the sealed event does not hash to its stored hash (altered)"
    assert rows[rehashed_envelope]["problem"].startswith("bad seal")
    assert rows[loose]["problem"] == "the row's event hash is not the hash in the log"
    assert rows[relaid]["verified"] and rows[relaid]["problem"] is None
    assert len(rehashed) == 2  # only the two rows whose bytes prove nothing were re-serialised
    others = [row for position, row in rows.items() if position not in (hollow, changed, rehashed_envelope, loose)]
    assert all(row["verified"] for row in others)
