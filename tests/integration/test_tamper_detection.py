"""Every kind of tampering with stored events is found by the verifier, naming stream and seq."""

from __future__ import annotations

import json
import uuid

import pytest

from ledger.envelope import envelope_hash
from ledger.store.application import Draft
from ledger.verification.verify import verify_database
from tests import tamper
from tests.support import fixed_key, ring_of


@pytest.fixture
def journey(ledger):
    stream = uuid.uuid4()
    for i in range(5):
        ledger.append([Draft("NoteAdded", stream, {"text": f"step {i}"}, actor="courier-7")])
    other = uuid.uuid4()
    ledger.append([Draft("NoteAdded", other, {"text": "untouched"}, actor="qa-1")])
    return stream


def findings(database, sealing_key, **kw):
    report = verify_database(database, ring_of(sealing_key), **kw)
    assert not report.intact
    return report.findings


def test_untouched_store_is_intact_in_parallel(database, sealing_key, journey):
    report = verify_database(database, ring_of(sealing_key), workers=2)
    assert report.intact and report.events == 6 and report.streams == 2


@pytest.mark.req("URS-P11-10a")
def test_a_changed_byte_in_a_stored_event_is_found(database, sealing_key, journey):
    state = tamper.read_state(database, journey, 3)
    tamper.write_state(database, journey, 3, state.replace(b"step 2", b"step 9"))
    found = findings(database, sealing_key, workers=1)
    assert [(f.stream, f.seq, f.reason) for f in found] == [(str(journey), 3, "hash mismatch")]
    assert found[0].event_id is not None


def test_a_byte_that_breaks_the_json_is_found(database, sealing_key, journey):
    state = tamper.read_state(database, journey, 2)
    tamper.write_state(database, journey, 2, state[:-1])
    found = findings(database, sealing_key, workers=1)
    assert (found[0].seq, found[0].reason) == (2, "undecodable")


def test_a_deleted_middle_event_is_found(database, sealing_key, journey):
    tamper.delete_event(database, journey, 3)
    reasons = {(f.seq, f.reason) for f in findings(database, sealing_key, workers=1)}
    assert (4, "gap in stream") in reasons
    assert (4, "broken link") in reasons


def test_a_swapped_pair_is_found(database, sealing_key, journey):
    tamper.swap_states(database, journey, (2, 3))
    reasons = {(f.seq, f.reason) for f in findings(database, sealing_key, workers=2)}
    assert {(2, "moved event"), (3, "moved event")} <= reasons
    assert (2, "broken link") in reasons


def test_an_event_rewritten_and_resealed_with_a_rogue_key_is_found(database, sealing_key, journey):
    rogue = fixed_key(seed=66)
    record = json.loads(tamper.read_state(database, journey, 2))
    record["envelope"]["data"]["text"] = "rewritten"
    record["hash"] = envelope_hash(record["envelope"])
    record["seal"], record["key_id"] = rogue.seal(record["hash"]), rogue.key_id
    tamper.write_state(database, journey, 2, json.dumps(record).encode())
    found = findings(database, sealing_key, workers=1)
    assert (2, "unknown key") in {(f.seq, f.reason) for f in found}
    assert (3, "broken link") in {(f.seq, f.reason) for f in found}


def test_a_hash_and_seal_forged_with_the_real_key_id_fail_the_seal(database, sealing_key, journey):
    rogue = fixed_key(seed=66)
    record = json.loads(tamper.read_state(database, journey, 5))
    record["envelope"]["data"]["text"] = "rewritten last event"
    record["hash"] = envelope_hash(record["envelope"])
    record["seal"] = rogue.seal(record["hash"])  # key_id left pointing at the real key
    tamper.write_state(database, journey, 5, json.dumps(record).encode())
    found = findings(database, sealing_key, workers=1)
    assert [(f.seq, f.reason) for f in found] == [(5, "bad seal")]


def test_an_unknown_key_id_is_found(database, sealing_key, journey):
    record = json.loads(tamper.read_state(database, journey, 1))
    record["key_id"] = "0123456789abcdef"
    tamper.write_state(database, journey, 1, json.dumps(record).encode())
    assert [(f.seq, f.reason) for f in findings(database, sealing_key, workers=1)] == [(1, "unknown key")]


def test_finding_lines_name_stream_seq_event_and_reason(database, sealing_key, journey):
    tamper.delete_event(database, journey, 2)
    line = findings(database, sealing_key, workers=1)[0].line()
    assert str(journey) in line and "seq 3" in line and "gap in stream" in line
