"""Appending: chaining, sealing, atomic batches and typed refusals, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from ledger.envelope import GENESIS_PREV, envelope_hash
from ledger.errors import InvalidEvent, LedgerError, PayloadTooLarge, StreamConflict, UnknownEventType
from ledger.store.application import Draft, Ledger
from ledger.verification.verify import verify_database
from tests.support import core_catalogue, fixed_key, ring_of


def reading(stream, celsius=4.25, **kw):
    data = {"logger_id": "LOG-1", "celsius": celsius, "t": "2026-03-01T10:00:00Z"}
    return Draft("ReadingTaken", stream, data, actor="courier-7", **kw)


@pytest.mark.req("URS-ALCOA-ORIG")
def test_events_chain_and_seal_and_verify(ledger, database, sealing_key):
    stream = uuid.uuid4()
    first = ledger.append([reading(stream)]).receipts[0]
    second = ledger.append([reading(stream, 5.5)]).receipts[0]
    assert (first.seq, second.seq) == (1, 2)
    assert second.position > first.position
    events = ledger.read_stream(stream)
    assert events[0].envelope["prev"] == GENESIS_PREV
    assert events[1].envelope["prev"] == first.hash == envelope_hash(events[0].envelope)
    assert events[1].key_id == sealing_key.key_id
    report = verify_database(database, ring_of(sealing_key), workers=1)
    assert report.intact and report.events == 2 and report.streams == 1


@pytest.mark.req("URS-ALCOA-COMP")
def test_batch_is_all_or_nothing(ledger):
    stream, other = uuid.uuid4(), uuid.uuid4()
    before = ledger.last_position()
    with pytest.raises(InvalidEvent):
        ledger.append([reading(stream), reading(other, celsius=4.333)])
    assert ledger.last_position() == before
    ledger.append([reading(stream)])
    with pytest.raises(StreamConflict):
        ledger.append([reading(other), reading(stream, expected_seq=0)])
    assert ledger.read_stream(other) == []
    result = ledger.append([reading(stream), reading(other), reading(stream)])
    assert [(r.stream, r.seq) for r in result.receipts] == [(str(stream), 2), (str(other), 1), (str(stream), 3)]


@pytest.mark.parametrize(
    ("draft_kwargs", "error", "code"),
    [
        ({"type": "Teleported"}, UnknownEventType, "UNKNOWN_EVENT_TYPE"),
        ({"data": {"logger_id": "L"}}, InvalidEvent, "INVALID_DATA"),
        ({"data": "not json object"}, InvalidEvent, "INVALID_DATA"),
        ({"data": {"logger_id": "L", "celsius": 4.257, "t": "2026-03-01T10:00:00Z"}}, InvalidEvent, "INVALID_DATA"),
        ({"data": {"logger_id": "L", "celsius": 4.2, "t": "2026-03-01T10:00:00"}}, InvalidEvent, "TIMEZONE_REQUIRED"),
        ({"occurred_at": "2026-03-01T10:00:00"}, InvalidEvent, "TIMEZONE_REQUIRED"),
        ({"actor": ""}, InvalidEvent, "INVALID_FIELD"),
        ({"actor": "bad\nactor"}, InvalidEvent, "CONTROL_CHARACTER"),
        ({"expected_seq": -1}, InvalidEvent, "INVALID_FIELD"),
        ({"type": "NoteAdded", "data": {"text": "x" * 3000}}, InvalidEvent, "INVALID_DATA"),
    ],
)
@pytest.mark.req("URS-A11-5")
def test_bad_input_is_refused_with_a_typed_error_before_anything_is_written(ledger, draft_kwargs, error, code):
    base = {
        "type": "ReadingTaken",
        "stream": uuid.uuid4(),
        "data": {"logger_id": "L", "celsius": 4.2, "t": "2026-03-01T10:00:00Z"},
        "actor": "courier-7",
    }
    before = ledger.last_position()
    with pytest.raises(error) as err:
        ledger.append([Draft(**{**base, **draft_kwargs})])
    assert err.value.code == code
    assert isinstance(err.value, LedgerError)
    assert ledger.last_position() == before


def test_oversized_payloads_and_batches_are_refused(database, sealing_key):
    from ledger.datatypes import EventData
    from ledger.store.event_types import EventCatalogue

    class Blob(EventData):
        items: list[str]

    app = Ledger(database, sealing_key, EventCatalogue({"Blob": Blob}), pool_size=2)
    try:
        with pytest.raises(PayloadTooLarge):
            app.append([Draft("Blob", uuid.uuid4(), {"items": ["x" * 1000] * 5000}, actor="a")])
        with pytest.raises(PayloadTooLarge):
            app.append([Draft("Blob", uuid.uuid4(), {"items": []}, actor="a")] * 1001)
        assert app.last_position() == 0
    finally:
        app.close()


@pytest.mark.req("URS-ALCOA-ACC")
def test_a_floats_fourth_decimal_anywhere_in_data_is_refused(database, sealing_key):
    from ledger.datatypes import EventData
    from ledger.store.event_types import EventCatalogue

    class Loose(EventData):
        value: float

    app = Ledger(database, sealing_key, EventCatalogue({"Loose": Loose}), pool_size=2)
    try:
        with pytest.raises(InvalidEvent) as err:
            app.append([Draft("Loose", uuid.uuid4(), {"value": 0.1234}, actor="a")])
        assert err.value.code == "FLOAT_PRECISION"
        assert app.append([Draft("Loose", uuid.uuid4(), {"value": 0.12}, actor="a")]).receipts
    finally:
        app.close()


def test_expected_seq_guards_against_lost_updates(ledger):
    stream = uuid.uuid4()
    ledger.append([reading(stream, expected_seq=0)])
    with pytest.raises(StreamConflict) as err:
        ledger.append([reading(stream, expected_seq=0)])
    assert err.value.status == 409
    assert ledger.append([reading(stream, expected_seq=1)]).receipts[0].seq == 2


def test_read_log_is_in_commit_order(ledger):
    streams = [uuid.uuid4() for _ in range(3)]
    for s in streams:
        ledger.append([reading(s)])
    log = ledger.read_log(after=0)
    assert [str(s) for s in streams] == [e.envelope["stream"] for _, e in log]
    positions = [p for p, _ in log]
    assert positions == sorted(positions)
    assert ledger.read_log(after=positions[0])[0][0] == positions[1]


def test_rows_are_stored_under_the_topics_of_the_stored_format(ledger, database):
    """A row's topic is part of what is stored (independent readers find key events by it): moving
    the module that defines the record classes must not change it."""
    from ledger.keys.sealing import b64
    from ledger.store.rawstore import connect
    from ledger.streams import device_stream

    ledger.append([reading(uuid.uuid4())])
    ledger.append([Draft("DeviceKeyRegistered", device_stream("logger-1"), {
        "device": "logger-1", "key_id": "00112233aabbccdd", "public_key": b64(bytes(32))}, actor="admin")])
    with connect(database) as conn:
        topics = [row[0] for row in conn.execute(f"SELECT topic FROM {database.events_table}").fetchall()]  # noqa: S608
    assert sorted(topics) == ["ledger.records:SealedEvent", "ledger.records:SealedKeyEvent"]
    assert [e.type for e in ledger.read_stream(device_stream("logger-1"))] == ["DeviceKeyRegistered"]


@pytest.mark.req("URS-ALCOA-END")
def test_events_sealed_before_a_rotation_still_verify(database, tmp_path):
    from ledger.keys.keystore import KeyStore

    store = KeyStore(tmp_path / "keys")
    first = store.create("passphrase-123")
    app = Ledger(database, first, core_catalogue(), pool_size=2)
    stream = uuid.uuid4()
    app.append([reading(stream)])
    app.close()
    second = store.rotate("passphrase-123")
    app = Ledger(database, second, core_catalogue(), pool_size=2)
    app.append([reading(stream)])
    app.close()
    keys = [e.key_id for e in Ledger(database, second, core_catalogue(), pool_size=1).read_stream(stream)]
    assert keys == [first.key_id, second.key_id]
    assert verify_database(database, store.key_ring(), workers=1).intact
    # Without the retired public key, the old events no longer verify.
    assert not verify_database(database, ring_of(second), workers=1).intact
    assert fixed_key().key_id not in store.key_ring().keys
