"""The dossier bundle, pure: a small synthetic case verified by both verifiers, and a tamper
matrix (every leaf value of the JSON changed, every list element and every key deleted)."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import random
import sys
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.envelope import GENESIS_PREV, envelope_hash, esign_digest, submission_of
from ledger.keys.sealing import b64, key_id_of, raw_public_key
from ledger.merkle import (
    Checkpoint,
    CompactRange,
    Ed25519NoteSigner,
    MemoryNodeStore,
    event_leaf_hash,
    inclusion_proof,
    sign_checkpoint,
)
from ledger.streams import case_stream, device_stream, unit_stream, user_stream
from ledger.verification.dossier import build_dossier, verify_dossier
from tests.support import fixed_key, ring_of

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "coi-ledger.test/log"
COI = "COI-TEST-0001"
USER_KEY = Ed25519PrivateKey.from_private_bytes(bytes([2]) * 32)
DEVICE_KEY = Ed25519PrivateKey.from_private_bytes(bytes([3]) * 32)


def load_tool():
    spec = importlib.util.spec_from_file_location("verify_dossier_tool", ROOT / "tools" / "verify_dossier.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tool = load_tool()


class Log:
    """A tiny ledger in memory: sealed events in streams, a global log, a Merkle tree."""

    def __init__(self) -> None:
        self.key, self.heads, self.records = fixed_key(), {}, []
        self.tree, self.nodes = CompactRange(), MemoryNodeStore()

    def append(self, stream, type_, data, *, esign=None, device=None, nonce=None) -> dict:
        seq, prev = self.heads.get(stream, (0, GENESIS_PREV))
        n = len(self.records)
        env = {"stream": str(stream), "seq": seq + 1, "event_id": f"00000000-0000-4000-8000-{n:012d}",
               "type": type_, "schema": 1, "recorded_at": f"2026-03-01T10:{n:02d}:00.000000Z",
               "occurred_at": None, "actor": "tech", "on_behalf": None, "site": "factory-1", "data": data,
               "device_sig": None, "esign": None, "prev": prev}
        if device:  # with a nonce: the form devices sign now; without: the form stored before nonces
            env["device_sig"] = {"device": device, "key_id": key_id_of(DEVICE_KEY.public_key()),
                                 **({"nonce": nonce} if nonce else {})}
            env["device_sig"]["sig"] = b64(DEVICE_KEY.sign(submission_of(env)))
        if esign:
            env["esign"] = {"signer": "qa", "printed_name": "Dr. Q", "meaning": esign,
                            "signed_at": env["recorded_at"], "key_id": key_id_of(USER_KEY.public_key())}
            env["esign"]["signature"] = b64(USER_KEY.sign(esign_digest(env)))
        digest = envelope_hash(env)
        record = {"envelope": env, "hash": digest, "seal": self.key.seal(digest), "key_id": self.key.key_id}
        self.heads[stream] = (seq + 1, digest)
        self.records.append(record)
        self.nodes.put_all(self.tree.append(event_leaf_hash(digest)))
        return record


def small_dossier(**changes) -> dict:
    log = Log()
    user, device = user_stream("qa"), device_stream("scanner-1")
    case, unit = case_stream(COI), unit_stream("U-1")
    log.append(user, "UserCreated", {"user": "qa"})
    issued = log.append(user, "UserSigningKeyIssued", {"user": "qa", "key_id": key_id_of(USER_KEY.public_key()),
                        "public_key": b64(raw_public_key(USER_KEY.public_key())), "algorithm": "Ed25519"})
    log.append(device, "DeviceRegistered", {"device": "scanner-1"})
    registered = log.append(device, "DeviceKeyRegistered", {
        "device": "scanner-1", "key_id": key_id_of(DEVICE_KEY.public_key()),
        "public_key": b64(raw_public_key(DEVICE_KEY.public_key())), "algorithm": "Ed25519"})
    enrolled = log.append(case, "CaseEnrolled", {"coi": COI, "kind": "autologous", "patient_ref": "ab" * 16})
    labelled = log.append(unit, "UnitLabelled", {"coi": COI, "label": "U-1", "kind": "bag", "case": str(case),
                                                 "spec": {"min_celsius": 2, "max_celsius": 8}})
    legacy = log.append(unit, "UnitScanned", {"verdict": "match", "celsius": 4.25, "ok": True, "x": None},
                        device="scanner-1")
    scanned = log.append(unit, "UnitScanned", {"verdict": "match", "celsius": 4.5, "ok": True, "x": None},
                         device="scanner-1", nonce="boot-1:7")
    released = log.append(unit, "ProductReleased", {"label": "U-1"}, esign="released")
    size = log.tree.size
    root = log.tree.root()
    signer = Ed25519NoteSigner(ORIGIN, log.key.private_key)
    note = sign_checkpoint(Checkpoint(ORIGIN, size, root), signer)
    checkpoint = {"origin": ORIGIN, "tree_size": size, "root": b64(root), "issued_at": "2026-03-01T11:00:00.000000Z",
                  "key_id": log.key.key_id, "note": note}
    proofs = {r["envelope"]["event_id"]: {"leaf_index": i, "proof": [b64(h) for h in inclusion_proof(
        i, size, log.nodes.get_node)]} for i, r in enumerate(log.records)}
    summary = {"case": {"coi": COI, "event_id": enrolled["envelope"]["event_id"]},
               "audit_trail": [{"event_id": released["envelope"]["event_id"], "what": "U-1 released",
                                "signature": {"printed_name": "Dr. Q", "meaning": "released"}}]}
    streams = [{"stream": case, "role": "case", "records": [enrolled]},
               {"stream": unit, "role": "unit", "records": [labelled, legacy, scanned, released]},
               {"stream": user, "role": "user", "records": [issued]},
               {"stream": device, "role": "device", "records": [registered]}]
    args = {"coi": COI, "generated_at": "2026-03-01T11:00:01.000000Z", "keyring": ring_of(log.key),
            "checkpoint": checkpoint, "streams": streams, "proofs": proofs, "summary": summary, "signer": signer}
    args.update(changes)
    return build_dossier(**args)


def verdicts(bundle) -> tuple[bool, bool]:
    return not verify_dossier(bundle), not tool.verify(bundle)


def test_small_dossier_is_intact_for_both_verifiers():
    bundle = small_dossier()
    assert verify_dossier(bundle) == [] and tool.verify(bundle) == []
    assert json.loads(json.dumps(bundle)) == bundle


def test_trusted_key_ring_must_match():
    bundle = small_dossier()
    assert verify_dossier(bundle, trusted=ring_of(fixed_key())) == []
    assert verify_dossier(bundle, trusted=ring_of(fixed_key(9)))[0].reason == "bad key ring"
    assert tool.verify(bundle, ring_of(fixed_key()).to_json()["keys"]) == []
    assert tool.verify(bundle, ring_of(fixed_key(9)).to_json()["keys"])


def test_uncovered_events_are_stated_and_fail():
    bundle = small_dossier(proofs={})
    reasons = {f.reason for f in verify_dossier(bundle)}
    assert reasons == {"not covered"}
    assert all("not covered" in line for line in tool.verify(bundle))


def leaves(value, path=()):
    """(path, value) of every leaf of a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def containers(value, path=()):
    if isinstance(value, dict | list):
        yield path, value
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
            yield from containers(item, (*path, key))


def mutations(value):
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int | float):
        return [value + 1, -value - 0.5]
    if isinstance(value, str):
        flip = {"a": "b", "0": "1", "A": "B"}
        return [c + value[1:] for c in [flip.get(value[:1], "a")]] + \
            ([value[:-1] + ("A" if value[-1] != "A" else "B")] if value else ["x"])
    return [0, "tampered"]  # null


def tampered_variants(bundle):
    for path, value in leaves(bundle):
        for new in mutations(value):
            copy_ = copy.deepcopy(bundle)
            target = copy_
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = new
            yield f"set {path}={new!r}", path, copy_
    for path, container in containers(bundle):
        keys = list(container) if isinstance(container, dict) else range(len(container))
        for key in keys:
            copy_ = copy.deepcopy(bundle)
            target = copy_
            for step in path:
                target = target[step]
            del target[key]
            yield f"delete {(*path, key)}", (*path, key), copy_


ATTESTED_ONLY = ("summary", "generated_at")  # bound by the attestation alone, by design


def test_tamper_matrix_every_change_fails_with_both_verifiers():
    bundle = small_dossier()
    count, evidence_misses = 0, []
    for label, path, variant in tampered_variants(bundle):
        count += 1
        ours, theirs = verdicts(variant)
        assert not ours and not theirs, label
        if path and path[0] not in (*ATTESTED_ONLY, "attestation") and not verify_dossier(variant, attestation=False):
            evidence_misses.append(label)
    assert count > 500
    # Even without the attestation, the evidence alone catches every change outside the summary.
    assert evidence_misses == []


def test_summary_must_cite_only_included_events_and_no_pseudonym():
    bundle = small_dossier(summary={"event_id": "00000000-0000-4000-8000-999999999999"})
    assert [f.reason for f in verify_dossier(bundle)] == ["summary inconsistent"]
    assert len(tool.verify(bundle)) == 1
    bundle = small_dossier(summary={"x": {"patient_ref": "ab"}})
    assert [f.reason for f in verify_dossier(bundle)] == ["summary inconsistent"]


def golden_envelopes():
    return [v["envelope"] for v in json.loads((ROOT / "tests/golden/envelopes.json").read_text())["vectors"]]


@pytest.mark.parametrize("envelope", golden_envelopes())
def test_standalone_jcs_agrees_with_rfc8785_on_golden_vectors(envelope):
    assert tool.jcs(envelope) == rfc8785.dumps(envelope)


def test_standalone_jcs_agrees_with_rfc8785_on_numbers_and_strings():
    rng = random.Random(7)
    values = [0.0, -0.0, 1e21, 1e-7, 1e-6, 1e20, 2.0**60, 5e-324, 1.7976931348623157e308, 0.1, 123.456,
              -180.0, 9.5, 4.25, -0.01, 2**53 - 1, -(2**53 - 1), "\u2028\x7f\x00\x1f\"\\é😀", {"\ue000": 1, "😀": 2}]
    values += [round(rng.uniform(-300, 300), 2) for _ in range(2000)]
    values += [rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30) for _ in range(2000)]
    values += [struct_float(rng) for _ in range(2000)]
    for value in values:
        assert tool.jcs(value) == rfc8785.dumps(value), value
    assert tool.jcs(small_dossier()) == rfc8785.dumps(small_dossier())


def struct_float(rng: random.Random) -> float:
    import struct

    while True:
        value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(value):
            return value
