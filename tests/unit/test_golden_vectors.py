"""The checked-in golden vectors: what an independent verifier in any language must reproduce."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from ledger.envelope import GENESIS_PREV, canonical, envelope_hash, esign_digest, submission_of
from ledger.keys.sealing import KeyRing, unb64, verify_ed25519
from tests.golden.make_vectors import vectors as regenerate
from tests.support import fixed_key, ring_of

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "envelopes.json").read_text())
VECTORS = GOLDEN["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"seq{v['envelope']['seq']}")
def test_jcs_bytes_hash_and_seal_match(vector):
    jcs = base64.b64decode(vector["jcs_base64"])
    assert canonical(vector["envelope"]) == jcs
    assert hashlib.sha256(jcs).hexdigest() == vector["hash"] == envelope_hash(vector["envelope"])
    assert fixed_key().seal(vector["hash"]) == vector["seal"]  # Ed25519 is deterministic
    public = unb64(GOLDEN["sealing_public_key"])
    assert verify_ed25519(public, bytes.fromhex(vector["hash"]), vector["seal"])


def test_jcs_agrees_with_an_independent_encoder_where_no_floats_are_involved():
    envelope = VECTORS[0]["envelope"]
    plain = json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert base64.b64decode(VECTORS[0]["jcs_base64"]) == plain


def test_numbers_take_their_rfc8785_text():
    jcs = base64.b64decode(VECTORS[2]["jcs_base64"])
    assert b'"n":[0,1e+21,4.25,-0.01,100]' in jcs


def test_vectors_form_a_chain():
    prev = GENESIS_PREV
    for vector in VECTORS:
        assert vector["envelope"]["prev"] == prev
        prev = vector["hash"]


def test_device_and_esign_signatures_verify():
    device = VECTORS[1]["envelope"]
    assert verify_ed25519(unb64(GOLDEN["device_public_key"]), submission_of(device), device["device_sig"]["sig"])
    signed = VECTORS[2]["envelope"]
    assert verify_ed25519(unb64(GOLDEN["user_public_key"]), esign_digest(signed), signed["esign"]["signature"])


def test_checked_in_file_is_what_the_generator_produces():
    assert regenerate() == GOLDEN


def test_keyring_accepts_the_vectors_seals():
    ring: KeyRing = ring_of(fixed_key())
    from ledger.timefmt import parse_utc

    for vector in VECTORS:
        at = parse_utc(vector["envelope"]["recorded_at"])
        assert ring.check_seal(vector["key_id"], vector["hash"], vector["seal"], at) is None
