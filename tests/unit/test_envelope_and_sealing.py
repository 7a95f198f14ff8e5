"""Hashing, sealing, key validity and input refusal: pure, no I/O."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ledger.envelope import canonical, check_shape, envelope_hash, esign_digest
from ledger.errors import InvalidEvent, UnknownEventType
from ledger.keys.keystore import KeyStore, KeyStoreError
from ledger.keys.sealing import key_id_of
from ledger.store.event_types import EventCatalogue
from ledger.timefmt import normalise_utc, parse_utc
from tests.support import EPOCH, core_catalogue, fixed_key, ring_of


def envelope(**changes):
    base = {
        "stream": "0b7c6a3e-4f1d-4c1b-9a55-1d2e3f405162",
        "seq": 1,
        "event_id": "e1",
        "type": "NoteAdded",
        "schema": 1,
        "recorded_at": "2026-03-01T10:00:00.000000Z",
        "occurred_at": None,
        "actor": "a",
        "on_behalf": None,
        "site": None,
        "data": {"text": "x"},
        "device_sig": None,
        "esign": None,
        "prev": "0" * 64,
    }
    return {**base, **changes}


def test_every_field_is_covered_by_the_hash():
    original = envelope_hash(envelope())
    for field, value in [("seq", 2), ("actor", "b"), ("data", {"text": "y"}), ("prev", "1" * 64),
                         ("esign", {"signer": "q"}), ("device_sig", {"device": "d"}), ("site", "s")]:
        assert envelope_hash(envelope(**{field: value})) != original, field


def test_esign_digest_ignores_only_the_signature():
    signed = envelope(esign={"signer": "q", "meaning": "released", "signature": "AAAA"})
    resigned = envelope(esign={"signer": "q", "meaning": "released", "signature": "BBBB"})
    moved = envelope(seq=2, esign={"signer": "q", "meaning": "released", "signature": "AAAA"})
    assert esign_digest(signed) == esign_digest(resigned)
    assert esign_digest(signed) != esign_digest(moved)


def test_check_shape_names_missing_and_extra_fields():
    broken = envelope()
    del broken["prev"]
    broken["extra"] = 1
    reason = check_shape(broken)
    assert "prev" in reason and "extra" in reason
    assert check_shape(envelope()) is None


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**60, b"bytes", {1: 2}])
def test_values_json_cannot_carry_are_refused(value):
    with pytest.raises(InvalidEvent) as err:
        canonical({"v": value})
    assert err.value.code == "INVALID_JSON"


def test_seal_verifies_only_with_its_key_and_within_validity():
    key = fixed_key()
    rogue = fixed_key(seed=9)
    ring = ring_of(key)
    event_hash = "ab" * 32
    at = EPOCH + timedelta(days=1)
    assert ring.check_seal(key.key_id, event_hash, key.seal(event_hash), at) is None
    assert ring.check_seal(key.key_id, event_hash, rogue.seal(event_hash), at).startswith("bad seal")
    assert ring.check_seal(rogue.key_id, event_hash, rogue.seal(event_hash), at).startswith("unknown key")
    before = EPOCH - timedelta(seconds=1)
    assert ring.check_seal(key.key_id, event_hash, key.seal(event_hash), before).startswith("key not valid")
    retired = ring.retire(key.key_id, at)
    assert retired.check_seal(key.key_id, event_hash, key.seal(event_hash), at).startswith("key not valid")


def test_key_id_is_first_16_hex_of_sha256_of_raw_public_key():
    import hashlib

    key = fixed_key()
    assert key.key_id == hashlib.sha256(key.public_key_raw).hexdigest()[:16] == key_id_of(key.public_key_raw)


def test_keystore_encrypts_rotates_and_keeps_old_public_keys(tmp_path):
    store = KeyStore(tmp_path / "keys")
    first = store.create("correct horse battery")
    pem = next((tmp_path / "keys").glob("sealing-*.pem")).read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    with pytest.raises(KeyStoreError):
        store.active_key("wrong passphrase")
    second = store.rotate("correct horse battery")
    ring = store.key_ring()
    assert set(ring.keys) == {first.key_id, second.key_id}
    assert ring.keys[first.key_id].valid_until == ring.keys[second.key_id].valid_from
    assert store.active_key("correct horse battery").key_id == second.key_id
    with pytest.raises(KeyStoreError):
        store.create("again")


def test_the_key_ring_is_read_again_once_its_file_changes(tmp_path):
    """Read routes ask for the ring every request: it is kept while the file is the same file,
    and a rotation, a rewrite in place or a damaged file are seen at the next request."""
    store = KeyStore(tmp_path / "keys")
    first = store.create("correct horse battery")
    ring = store.key_ring()
    assert KeyStore(tmp_path / "keys").key_ring() is ring  # not read again
    second = store.rotate("correct horse battery")
    assert set(KeyStore(tmp_path / "keys").key_ring().keys) == {first.key_id, second.key_id}
    only_second = {"keys": [k for k in json.loads(store.ring_path.read_text())["keys"] if k["key_id"] == second.key_id]}
    store.ring_path.write_text(json.dumps(only_second))  # in place: the same inode
    assert set(store.key_ring().keys) == {second.key_id}
    store.ring_path.write_text("{damaged")
    with pytest.raises(KeyStoreError):
        store.key_ring()


@pytest.mark.parametrize(
    ("text", "code"),
    [("2026-01-01T10:00:00", "TIMEZONE_REQUIRED"), ("yesterday", "INVALID_TIME"), ("2026-01-01", "INVALID_TIME")],
)
def test_times_without_zone_or_unparseable_are_refused(text, code):
    with pytest.raises(InvalidEvent) as err:
        parse_utc(text)
    assert err.value.code == code


def test_times_are_normalised_to_utc_z():
    assert normalise_utc("2026-01-01T10:00:00+02:00") == "2026-01-01T08:00:00.000000Z"


def test_catalogue_refuses_unknown_types_missing_fields_and_extras():
    catalogue = core_catalogue()
    with pytest.raises(UnknownEventType):
        catalogue.normalise("Teleported", {})
    with pytest.raises(InvalidEvent) as err:
        catalogue.normalise("ReadingTaken", {"logger_id": "L"})
    assert err.value.code == "INVALID_DATA" and "celsius" in err.value.detail
    with pytest.raises(InvalidEvent):
        catalogue.normalise("NoteAdded", {"text": "x", "smuggled": 1})
    with pytest.raises(InvalidEvent):
        catalogue.normalise("NoteAdded", ["not", "an", "object"])


def test_catalogue_refuses_too_many_decimals_and_naive_times():
    catalogue = core_catalogue()
    with pytest.raises(InvalidEvent):
        catalogue.normalise("ReadingTaken", {"logger_id": "L", "celsius": 4.255, "t": "2026-01-01T00:00:00Z"})
    with pytest.raises(InvalidEvent) as err:
        catalogue.normalise("ReadingTaken", {"logger_id": "L", "celsius": 4.25, "t": "2026-01-01T00:00:00"})
    assert err.value.code == "TIMEZONE_REQUIRED"


def test_catalogue_refuses_a_second_model_for_a_name():
    catalogue = EventCatalogue()
    from tests.support import NoteAdded, ReadingTaken

    catalogue.register("X", NoteAdded)
    with pytest.raises(ValueError):
        catalogue.register("X", ReadingTaken)


def test_stored_bytes_are_the_jcs_of_the_record_when_the_envelope_bytes_are_reused():
    from ledger.envelope import canonical_and_hash
    from ledger.store.records import CanonicalTranscoder, SealedEvent

    env = envelope(data={"text": "Zürich → «x»", "n": [4.25, 1e21, -0.01]})
    jcs, event_hash = canonical_and_hash(env)
    key = fixed_key()
    fast = SealedEvent(env, event_hash, key.seal(event_hash), key.key_id, jcs)
    plain = SealedEvent(env, event_hash, key.seal(event_hash), key.key_id)
    state = {k: v for k, v in vars(fast).items() if not k.startswith("originator")}
    expected = canonical(plain.to_json())
    assert CanonicalTranscoder().encode(state) == expected
    assert CanonicalTranscoder().encode(plain.to_json()) == expected


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "0999-12-31T23:00:00Z", "9999-12-31T23:59:59-01:00"])
def test_times_the_fixed_form_cannot_carry_are_refused(text):
    with pytest.raises(InvalidEvent) as refused:
        normalise_utc(text)
    assert refused.value.code == "INVALID_TIME"


def test_the_audit_pages_seal_memo_answers_as_the_check_itself():
    """A seal remembered as valid never vouches for other bytes: an altered hash or seal, another
    key, or a time outside the key's validity is checked afresh (the memo is keyed on all of them
    or sits after the validity check)."""
    from projections.audit_evidence import _seal_verifies

    key, rogue = fixed_key(), fixed_key(seed=9)
    ring = ring_of(key)
    event_hash, at = "cd" * 32, EPOCH + timedelta(days=1)
    seal = key.seal(event_hash)
    assert ring.check_seal(key.key_id, event_hash, seal, at, verify=_seal_verifies) is None
    assert ring.check_seal(key.key_id, event_hash, seal, at, verify=_seal_verifies) is None  # remembered
    assert ring.check_seal(key.key_id, "ce" * 32, seal, at, verify=_seal_verifies).startswith("bad seal")
    assert ring.check_seal(key.key_id, event_hash, rogue.seal(event_hash), at,
                           verify=_seal_verifies).startswith("bad seal")
    assert ring.check_seal(key.key_id, event_hash, seal, EPOCH - timedelta(seconds=1),
                           verify=_seal_verifies).startswith("key not valid")
    assert ring.retire(key.key_id, at).check_seal(key.key_id, event_hash, seal, at,
                                                  verify=_seal_verifies).startswith("key not valid")
