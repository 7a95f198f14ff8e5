"""Device signatures are checked on ingest; device and Part 11 signatures are re-checked offline."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.envelope import envelope_hash, submission_bytes
from ledger.errors import DeviceNonceReused, DeviceSignatureRefused, Forbidden
from ledger.keys.sealing import b64, key_id_of, raw_public_key
from ledger.store.application import Draft, EsignIntent
from ledger.streams import device_stream, user_stream
from ledger.verification.verify import verify_database
from tests import tamper
from tests.support import ring_of

DEVICE_KEY = Ed25519PrivateKey.from_private_bytes(bytes([3]) * 32)
DEVICE_KID = key_id_of(raw_public_key(DEVICE_KEY.public_key()))
USER_KEY = Ed25519PrivateKey.from_private_bytes(bytes([2]) * 32)
USER_KID = key_id_of(raw_public_key(USER_KEY.public_key()))
READING = {"logger_id": "LOG-1", "celsius": -80.5, "t": "2026-03-01T10:00:00.000000Z"}


@pytest.fixture
def registered_device(ledger):
    ledger.append([Draft("DeviceKeyRegistered", device_stream("logger-1"), {
        "device": "logger-1", "key_id": DEVICE_KID, "public_key": b64(raw_public_key(DEVICE_KEY.public_key())),
    }, actor="admin")])
    return "logger-1"


def signed(stream, key=DEVICE_KEY, kid=DEVICE_KID, data=READING, nonce=None):
    nonce = nonce or uuid.uuid4().hex
    sig = b64(key.sign(submission_bytes(type="ReadingTaken", stream=str(stream), occurred_at=None, data=data,
                                        device="logger-1", nonce=nonce)))
    return {"device": "logger-1", "key_id": kid, "nonce": nonce, "sig": sig}


def test_a_registered_device_must_sign(ledger, registered_device):
    with pytest.raises(DeviceSignatureRefused) as err:
        ledger.append([Draft("ReadingTaken", uuid.uuid4(), READING, actor="logger-1", device="logger-1")])
    assert err.value.code == "DEVICE_SIGNATURE_REQUIRED"


def test_a_valid_device_signature_is_accepted_and_reverified_offline(ledger, database, sealing_key, registered_device):
    stream = uuid.uuid4()
    ledger.append([Draft("ReadingTaken", stream, READING, actor="logger-1", device="logger-1",
                         device_sig=signed(stream))])
    assert ledger.read_stream(stream)[0].envelope["device_sig"]["key_id"] == DEVICE_KID
    assert verify_database(database, ring_of(sealing_key), workers=1).intact


@pytest.mark.parametrize("variant", ["wrong key", "other stream", "unknown key id", "garbage"])
@pytest.mark.req("URS-P11-10h")
def test_bad_device_signatures_are_refused_before_writing(ledger, registered_device, variant):
    stream = uuid.uuid4()
    rogue = Ed25519PrivateKey.generate()
    sig = {
        "wrong key": signed(stream, key=rogue),
        "other stream": signed(uuid.uuid4()),
        "unknown key id": signed(stream, kid="00000000000000ff"),
            "garbage": {"device": "logger-1", "key_id": DEVICE_KID, "nonce": "n-1", "sig": "%%%"},
    }[variant]
    before = ledger.last_position()
    with pytest.raises(DeviceSignatureRefused):
        ledger.append([Draft("ReadingTaken", stream, READING, actor="logger-1", device="logger-1", device_sig=sig)])
    assert ledger.last_position() == before


def test_a_revoked_device_key_is_refused_but_old_events_stay_valid(ledger, database, sealing_key, registered_device):
    stream = uuid.uuid4()
    ledger.append([Draft("ReadingTaken", stream, READING, actor="logger-1", device="logger-1",
                         device_sig=signed(stream))])
    ledger.append([Draft("DeviceKeyRevoked", device_stream("logger-1"),
                         {"device": "logger-1", "key_id": DEVICE_KID, "reason": "lost"}, actor="admin")])
    for sig in (signed(stream), None):  # its only key revoked: signed or not, the device may not write
        with pytest.raises(Forbidden) as err:
            ledger.append([Draft("ReadingTaken", stream, READING, actor="logger-1", device="logger-1",
                                 device_sig=sig)])
        assert err.value.code == "DEVICE_KEY_REVOKED"
    assert verify_database(database, ring_of(sealing_key), workers=1).intact


def test_a_nonce_is_good_for_one_event(ledger, database, sealing_key, registered_device):
    stream = uuid.uuid4()
    sig = signed(stream, nonce="n-42")
    ledger.append([Draft("ReadingTaken", stream, READING, actor="logger-1", device="logger-1", device_sig=sig)])
    with pytest.raises(DeviceNonceReused):
        ledger.append([Draft("ReadingTaken", stream, READING, actor="logger-1", device="logger-1", device_sig=sig)])
    with pytest.raises(DeviceNonceReused):  # twice in one batch
        other = uuid.uuid4()
        twice = signed(other, nonce="n-43")
        ledger.append([Draft("ReadingTaken", other, READING, actor="logger-1", device="logger-1", device_sig=twice)
                       for _ in range(2)])
    assert len(ledger.read_stream(stream)) == 1 and ledger.read_stream(other) == []
    assert verify_database(database, ring_of(sealing_key), workers=1).intact


def test_a_nonce_raced_by_concurrent_appends_is_used_once(ledger, registered_device):
    stream = uuid.uuid4()
    draft = Draft("ReadingTaken", stream, READING, actor="logger-1", device="logger-1",
                  device_sig=signed(stream, nonce="n-race"))
    barrier = threading.Barrier(4)

    def append():
        barrier.wait()
        try:
            return ledger.append([draft])
        except DeviceNonceReused as exc:
            return exc

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: append(), range(4)))
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1, outcomes
    assert len(ledger.read_stream(stream)) == 1


@pytest.mark.parametrize("variant", ["no nonce", "legacy form", "other submitter"])
def test_a_signature_without_nonce_or_from_another_submitter_is_refused(ledger, registered_device, variant):
    stream = uuid.uuid4()
    legacy = {"device": "logger-1", "key_id": DEVICE_KID, "sig": b64(DEVICE_KEY.sign(
        submission_bytes(type="ReadingTaken", stream=str(stream), occurred_at=None, data=READING)))}
    draft = {
        "no nonce": Draft("ReadingTaken", stream, READING, actor="logger-1", device="logger-1",
                          device_sig={**signed(stream), "nonce": ""}),
        "legacy form": Draft("ReadingTaken", stream, READING, actor="logger-1", device="logger-1", device_sig=legacy),
        "other submitter": Draft("ReadingTaken", stream, READING, actor="integrator", device_sig=signed(stream)),
    }[variant]
    with pytest.raises(DeviceSignatureRefused) as err:
        ledger.append([draft])
    assert err.value.code == ("DEVICE_NOT_SUBMITTER" if variant == "other submitter" else "DEVICE_NONCE_REQUIRED")
    assert ledger.read_stream(stream) == []


@pytest.fixture
def qa_key(ledger):
    ledger.append([Draft("UserSigningKeyIssued", user_stream("qa-1"), {
        "user": "qa-1", "key_id": USER_KID, "public_key": b64(raw_public_key(USER_KEY.public_key())),
    }, actor="admin")])
    return EsignIntent("qa-1", "Dr. Ada Example", "released", USER_KID, lambda d: b64(USER_KEY.sign(d)))


@pytest.mark.req("URS-P11-70", "URS-A11-14")
def test_an_esignature_is_sealed_with_its_record_and_verifies(ledger, database, sealing_key, qa_key):
    stream = uuid.uuid4()
    ledger.append([Draft("NoteAdded", stream, {"text": "release"}, actor="qa-1", esign=qa_key)])
    esign = ledger.read_stream(stream)[0].envelope["esign"]
    assert {k: esign[k] for k in ("signer", "printed_name", "meaning")} == {
        "signer": "qa-1", "printed_name": "Dr. Ada Example", "meaning": "released"}
    assert verify_database(database, ring_of(sealing_key), workers=1).intact


@pytest.mark.req("URS-P11-70")
def test_a_copied_esignature_fails_even_when_rehashed_and_resealed(ledger, database, sealing_key, qa_key):
    """An insider holding the sealing key copies a release signature onto another record."""
    signed_stream, other = uuid.uuid4(), uuid.uuid4()
    ledger.append([Draft("NoteAdded", signed_stream, {"text": "release lot A"}, actor="qa-1", esign=qa_key)])
    ledger.append([Draft("NoteAdded", other, {"text": "release lot B"}, actor="qa-1")])
    esign = ledger.read_stream(signed_stream)[0].envelope["esign"]
    record = json.loads(tamper.read_state(database, other, 1))
    record["envelope"]["esign"] = esign
    record["hash"] = envelope_hash(record["envelope"])
    record["seal"] = sealing_key.seal(record["hash"])
    tamper.write_state(database, other, 1, json.dumps(record).encode())
    report = verify_database(database, ring_of(sealing_key), workers=1)
    assert [(f.stream, f.reason) for f in report.findings] == [(str(other), "bad e-signature")]


def test_a_damaged_key_event_is_a_finding_not_a_crash(ledger, database, sealing_key, registered_device):
    stream = uuid.uuid4()
    ledger.append([Draft("ReadingTaken", stream, READING, actor="logger-1", device="logger-1",
                         device_sig=signed(stream))])
    record = json.loads(tamper.read_state(database, device_stream("logger-1"), 1))
    record["envelope"]["data"]["public_key"] = "not base64 at all"
    tamper.write_state(database, device_stream("logger-1"), 1, json.dumps(record).encode())
    report = verify_database(database, ring_of(sealing_key), workers=1)
    reasons = {(f.stream, f.reason) for f in report.findings}
    assert (str(device_stream("logger-1")), "hash mismatch") in reasons
    assert (str(stream), "bad device signature") in reasons  # its key is no longer known
