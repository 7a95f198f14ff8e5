"""Regenerate tests/golden/envelopes.json (run only when the envelope contract changes).

    python -m tests.golden.make_vectors > tests/golden/envelopes.json

The keys are fixed test keys (seed bytes repeated): the sealing key is bytes([1])*32, the
user's e-signature key bytes([2])*32, the device key bytes([3])*32. Never use them for real.
"""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.envelope import GENESIS_PREV, canonical, envelope_hash, esign_digest, submission_of
from ledger.keys.sealing import b64, key_id_of, raw_public_key
from tests.support import fixed_key

USER_KEY = Ed25519PrivateKey.from_private_bytes(bytes([2]) * 32)
DEVICE_KEY = Ed25519PrivateKey.from_private_bytes(bytes([3]) * 32)
STREAM = "0b7c6a3e-4f1d-4c1b-9a55-1d2e3f405162"


def base(seq: int, prev: str, type_: str, data: dict, **extra) -> dict:
    envelope = {
        "stream": STREAM,
        "seq": seq,
        "event_id": f"00000000-0000-4000-8000-{seq:012d}",
        "type": type_,
        "schema": 1,
        "recorded_at": f"2026-03-0{seq}T10:00:00.123456Z",
        "occurred_at": None,
        "actor": "courier-7",
        "on_behalf": None,
        "site": "0614141123452",
        "data": data,
        "device_sig": None,
        "esign": None,
        "prev": prev,
    }
    envelope.update(extra)
    return envelope


def vectors() -> dict:
    sealing = fixed_key()
    out = []
    prev = GENESIS_PREV
    specs = [
        ("NoteAdded", {"text": "Zürich → Paris, bag ✓ «COI-7K3F-9Q2M»"}, {}),
        (
            "ReadingTaken",
            {"logger_id": "LOG-1", "celsius": -80.5, "t": "2026-03-02T09:59:00.000000Z"},
            {"occurred_at": "2026-03-02T09:59:00.000000Z"},
        ),
        ("NoteAdded", {"text": "numbers", "n": [0, 1e21, 4.25, -0.01, 100]}, {}),
    ]
    for seq, (type_, data, extra) in enumerate(specs, start=1):
        envelope = base(seq, prev, type_, data, **extra)
        if seq == 2:
            device_public = raw_public_key(DEVICE_KEY.public_key())
            sig = b64(DEVICE_KEY.sign(submission_of(envelope)))
            envelope["device_sig"] = {"device": "logger-1", "key_id": key_id_of(device_public), "sig": sig}
        if seq == 3:
            user_public = raw_public_key(USER_KEY.public_key())
            envelope["esign"] = {
                "signer": "qa-1",
                "printed_name": "Dr. Ada Example",
                "meaning": "released",
                "signed_at": envelope["recorded_at"],
                "key_id": key_id_of(user_public),
            }
            envelope["esign"]["signature"] = b64(USER_KEY.sign(esign_digest(envelope)))
        event_hash = envelope_hash(envelope)
        out.append(
            {
                "envelope": envelope,
                "jcs_base64": base64.b64encode(canonical(envelope)).decode(),
                "hash": event_hash,
                "seal": sealing.seal(event_hash),
                "key_id": sealing.key_id,
            }
        )
        prev = event_hash
    return {
        "contract": "hash = hex SHA-256(JCS(envelope)); seal = base64 Ed25519(sealing key, raw 32-byte hash); "
        "esign.signature = base64 Ed25519(user key, SHA-256(JCS(envelope without esign.signature))); "
        "device_sig.sig = base64 Ed25519(device key, JCS({type, stream, occurred_at, data}))",
        "sealing_public_key": b64(sealing.public_key_raw),
        "user_public_key": b64(raw_public_key(USER_KEY.public_key())),
        "device_public_key": b64(raw_public_key(DEVICE_KEY.public_key())),
        "vectors": out,
    }


if __name__ == "__main__":
    print(json.dumps(vectors(), indent=2, ensure_ascii=False))
