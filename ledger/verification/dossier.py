"""The auditor's dossier of one case: a self-contained, offline-verifiable JSON bundle.

Pure: built from data the caller collected (``projections.dossier_query``); verified with no
database and no server. ``tools/verify_dossier.py`` re-implements :func:`verify_dossier` with the
standard library and ``cryptography`` only; both must give the same verdict.

Bundle (``format`` = ``coi-ledger-dossier``, ``version`` = 1), a JSON object:

* ``coi``, ``generated_at`` (RFC 3339 UTC).
* ``keys``: the ledger's published sealing keys ``[{key_id, algorithm, public_key, valid_from,
  valid_until}]`` (:meth:`ledger.keys.sealing.PublishedKey.to_json`). The trust anchor: an auditor
  compares the key ids with the operator's published ring (``trusted=`` / ``--keys``).
* ``checkpoint``: ``{origin, tree_size, root, issued_at, key_id, note}``; ``note`` is the C2SP
  signed checkpoint (key name = origin), the other fields its parsed or stored values.
* ``streams``: ``[{stream, role, events}]``, role ``case`` / ``unit`` / ``lot`` (the whole stream, seq 1..n)
  or ``user`` / ``device`` (registry streams: only their key events). Each event is the stored
  record ``{envelope, hash, seal, key_id}`` plus ``leaf_index`` and ``proof`` (base64 RFC 9162
  audit path to ``checkpoint``); both null for an event the checkpoint does not cover.
* ``summary``: the read models' genealogy, per-unit custody and conditions, and audit trail
  (never a patient pseudonym).
* ``attestation``: a C2SP signed note by the ledger sealing key (key name = origin) over
  ``"coi-ledger dossier/1\\n<coi>\\n<base64 SHA-256(JCS(bundle without attestation))>\\n"``.
  Its second line is never a decimal, so it can never be read as a checkpoint.

Verification rules (:func:`verify_dossier`; each failure is a :class:`~ledger.verification.verify.Finding`):
every hash recomputes from its envelope (JCS); case/unit/lot streams run seq 1..n with ``prev``
links, start with their creating event and sit at the stream id derived from it; registry
streams hold only key events of the holder their id is derived from, seqs increasing, linked
where adjacent; seals verify with a ring key valid at ``recorded_at``; device signatures and
e-signatures verify with keys from the included key events; every proof leads to the
checkpoint root, leaf indexes are unique and rise with seq; the checkpoint note verifies
with a ring key valid at ``issued_at`` and matches its fields; every event id the summary cites
is in the bundle and the summary holds no pseudonym; the attestation verifies with a ring key
valid at ``generated_at`` over the rest of the bundle.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..domain.events_case import CaseEnrolled, DonorRegistered
from ..domain.events_quality import ManufacturingStarted
from ..domain.events_unit import UnitLabelled
from ..envelope import GENESIS_PREV, canonical
from ..keys.keydir import KeyDirectory
from ..keys.keyevents import DeviceKeyRegistered, DeviceKeyRevoked, UserSigningKeyIssued, UserSigningKeyRevoked
from ..keys.sealing import KeyRing
from ..merkle import (
    CheckpointError,
    Ed25519NoteVerifier,
    NoteSigner,
    ProofError,
    event_leaf_hash,
    open_checkpoint,
    open_note,
    verify_inclusion,
)
from ..merkle.note import sign_note
from ..streams import case_stream, device_stream, lot_stream, unit_stream, user_stream
from ..timefmt import parse_utc
from .verify import Finding, _check_event

FORMAT, VERSION = "coi-ledger-dossier", 1
ATTESTATION_TITLE = "coi-ledger dossier/1"
ROLES = ("case", "unit", "lot", "user", "device")
REGISTRY = {"user": (UserSigningKeyIssued.__name__, UserSigningKeyRevoked.__name__, "user", user_stream),
            "device": (DeviceKeyRegistered.__name__, DeviceKeyRevoked.__name__, "device", device_stream)}
FIRST = {"case": (CaseEnrolled.__name__, DonorRegistered.__name__), "unit": (UnitLabelled.__name__,),
         "lot": (ManufacturingStarted.__name__,)}
PSEUDONYMS = ("patient_ref", "donor_ref")


def attestation_body(bundle: Mapping[str, Any]) -> str:
    """The signed text binding every field of the bundle except ``attestation`` itself."""
    rest = {k: v for k, v in bundle.items() if k != "attestation"}
    digest = base64.b64encode(hashlib.sha256(canonical(rest)).digest()).decode("ascii")
    return f"{ATTESTATION_TITLE}\n{bundle['coi']}\n{digest}\n"


def build_dossier(*, coi: str, generated_at: str, keyring: KeyRing, checkpoint: Mapping[str, Any],
                  streams: Iterable[Mapping[str, Any]], proofs: Mapping[str, Mapping[str, Any]],
                  summary: Mapping[str, Any], signer: NoteSigner) -> dict[str, Any]:
    """Assemble and attest a bundle. ``streams``: ``[{stream, role, records}]`` with stored
    records ``{envelope, hash, seal, key_id}``; ``proofs``: event id -> ``{leaf_index, proof}``
    (absent: not covered); ``checkpoint``: a ``projections.checkpoints`` row dict."""
    parts = []
    for part in streams:
        events = []
        for record in part["records"]:
            proof = proofs.get(record["envelope"]["event_id"]) or {}
            events.append({**{k: record[k] for k in ("envelope", "hash", "seal", "key_id")},
                           "leaf_index": proof.get("leaf_index"), "proof": proof.get("proof")})
        parts.append({"stream": str(part["stream"]), "role": part["role"], "events": events})
    bundle = {
        "format": FORMAT, "version": VERSION, "coi": coi, "generated_at": generated_at,
        "keys": keyring.to_json()["keys"],
        "checkpoint": {k: checkpoint[k] for k in ("origin", "tree_size", "root", "issued_at", "key_id", "note")},
        "streams": parts, "summary": copy.deepcopy(dict(summary)),
    }
    bundle = json.loads(json.dumps(bundle))  # exactly what a reader of the file will see
    bundle["attestation"] = sign_note(attestation_body(bundle), [signer])
    return bundle


def _b64(text: Any, size: int | None = None) -> bytes:
    """Canonical standard base64 (one text per byte string), optionally of ``size`` bytes."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ValueError("not base64") from None
    if base64.b64encode(raw).decode("ascii") != text or (size is not None and len(raw) != size):
        raise ValueError("not canonical base64 of the right size")
    return raw


def _ring(keys: Any, trusted: KeyRing | None) -> KeyRing:
    ring = KeyRing.from_json({"keys": keys})
    if len(ring.keys) != len(keys):
        raise ValueError("duplicate key ids")
    for k in keys:
        _b64(k["public_key"], 32)
    for key_id, key in ring.keys.items():
        if key.to_json() != next(k for k in keys if k["key_id"] == key_id):
            raise ValueError(f"key {key_id} is not in its canonical form")
        if trusted is not None and trusted.keys.get(key_id) != key:
            raise ValueError(f"key {key_id} differs from the trusted key ring")
    return ring


def _verifiers(ring: KeyRing, name: str, at: str, key_id: str | None = None) -> list[Ed25519NoteVerifier]:
    moment = parse_utc(at)
    return [Ed25519NoteVerifier(name, _b64(k.public_key, 32)) for k in ring.keys.values()
            if k.covers(moment) and key_id in (None, k.key_id)]


def _checkpoint(cp: Any, ring: KeyRing) -> tuple[int, bytes]:
    note = cp["note"]
    name = note.split("\n", 1)[0]
    opened = open_checkpoint(note, _verifiers(ring, name, cp["issued_at"], cp["key_id"]), origin=cp["origin"])
    fields = {"origin": opened.origin, "tree_size": opened.tree_size,
              "root": base64.b64encode(opened.root).decode("ascii")}
    if {k: cp[k] for k in fields} != fields or set(cp) != {*fields, "issued_at", "key_id", "note"}:
        raise CheckpointError("the checkpoint's fields differ from its signed note")
    return opened.tree_size, opened.root


def _cited(value: Any, found: set[str]) -> set[str]:
    """Every event id the summary cites (keys ``event_id``, ``*_event_id``, ``event_ids``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PSEUDONYMS:
                raise ValueError(f"the summary holds a pseudonym ({key})")
            if (key == "event_id" or key.endswith("_event_id")) and isinstance(item, str):
                found.add(item)
            elif key == "event_ids" and isinstance(item, list):
                found.update(i for i in item if isinstance(i, str))
            else:
                _cited(item, found)
    elif isinstance(value, list):
        for item in value:
            _cited(item, found)
    return found


def _structure(part: Any) -> list[str]:
    """Why a stream part's role, id and events do not fit together (empty when they do)."""
    role, events, sid = part["role"], part["events"], part["stream"]
    envs = [e["envelope"] for e in events]
    if role not in ROLES or not envs:
        return [f"unknown role {role!r} or no events"]
    if role in REGISTRY:
        issued, revoked, holder, derive = REGISTRY[role]
        bad = [e for e in envs if e["type"] not in (issued, revoked) or str(derive(e["data"][holder])) != sid]
        seqs = [e["seq"] for e in envs]
        return ([f"{role} stream holds other events than its holder's key events"] if bad else []) + (
            ["registry events are not in increasing seq order"] if seqs != sorted(set(seqs)) else [])
    first = envs[0]
    d = first["data"]
    derived = (case_stream(d["coi"]) if role == "case" else lot_stream(d["coi"], d["lot"])
               if role == "lot" else unit_stream(d["label"]))
    if first["type"] not in FIRST[role] or str(derived) != sid:
        return [f"{role} stream does not start with its creating event at its own stream id"]
    return []


def verify_dossier(bundle: Any, *, trusted: KeyRing | None = None, attestation: bool = True) -> list[Finding]:
    """Every finding that makes ``bundle`` not intact (empty list: intact). See the module
    docstring. ``trusted``: the key ring the auditor trusts (the bundle's must match it);
    ``attestation=False`` checks the evidence alone (tests use it to show each check bites)."""
    out: list[Finding] = []

    def add(reason: str, detail: str = "", stream=None, seq=None, event_id=None) -> None:
        out.append(Finding(stream, seq, event_id, reason, detail))

    if not isinstance(bundle, dict) or (bundle.get("format"), bundle.get("version")) != (FORMAT, VERSION):
        return [Finding(None, None, None, "not a dossier", f"format must be {FORMAT} version {VERSION}")]
    try:
        ring = _ring(bundle["keys"], trusted)
    except Exception as exc:  # noqa: BLE001 - malformed input is a finding
        return [Finding(None, None, None, "bad key ring", str(exc))]
    size, root = 0, b""
    try:
        size, root = _checkpoint(bundle["checkpoint"], ring)
    except Exception as exc:  # noqa: BLE001 - malformed input is a finding
        add("bad checkpoint", str(exc))
    ids, leaves, streams = set(), set(), set()
    parts = bundle.get("streams") if isinstance(bundle.get("streams"), list) else []
    keys = KeyDirectory()
    for part in parts:
        try:
            if part["role"] in REGISTRY:
                for e in sorted((e["envelope"] for e in part["events"]), key=lambda env: env["recorded_at"]):
                    keys.apply(e)
        except Exception as exc:  # noqa: BLE001
            add("bad key event", str(exc), part.get("stream") if isinstance(part, dict) else None)
    for part in parts:
        try:
            _stream(part, ring, keys, size, root, ids, leaves, add)
            if part["stream"] in streams:
                add("duplicate stream", "", part["stream"])
            streams.add(part["stream"])
        except Exception as exc:  # noqa: BLE001 - any malformed input is a finding, never a crash
            add("malformed stream", repr(exc), part.get("stream") if isinstance(part, dict) else None)
    if str(case_stream(str(bundle.get("coi")))) not in streams:
        add("case missing", f"no case stream for {bundle.get('coi')!r}")
    try:
        missing = sorted(_cited(bundle["summary"], set()) - ids)
        if missing:
            add("summary inconsistent", f"cites events not in the bundle: {', '.join(missing[:5])}")
    except Exception as exc:  # noqa: BLE001 - malformed input is a finding
        add("summary inconsistent", str(exc))
    if attestation:
        try:
            name = bundle["checkpoint"]["origin"]
            body = open_note(bundle["attestation"], _verifiers(ring, name, bundle["generated_at"]))
            if body != attestation_body(bundle):
                add("bad attestation", "the bundle differs from what the ledger attested")
        except Exception as exc:  # noqa: BLE001 - malformed input is a finding
            add("bad attestation", str(exc))
    return out


def _stream(part, ring, keys, size, root, ids, leaves, add) -> None:
    sid, role, events = part["stream"], part["role"], part["events"]
    for problem in _structure(part):
        add("wrong stream", problem, sid)
    prev = prev_seq = prev_leaf = None
    for number, event in enumerate(events, start=1):
        env, seq = event["envelope"], event["envelope"]["seq"]
        eid = env.get("event_id")
        if role in FIRST and seq != number:
            add("gap in stream", f"expected seq {number}", sid, seq, eid)
        if role in FIRST:
            link = GENESIS_PREV if number == 1 else prev
        else:  # registry streams: only adjacent key events can be linked
            link = prev if prev_seq is not None and prev_seq == seq - 1 else None
        out, prev = _check_event(sid, seq, json.dumps(event).encode(), link, ring, keys)
        try:
            _b64(event["seal"], 64)
        except ValueError:
            out.append(Finding(sid, seq, eid, "bad seal", "seal is not canonical base64"))
        for f in out:
            add(f.reason, f.detail, sid, seq, eid)
        prev_seq = seq
        if eid in ids:
            add("duplicate event", "", sid, seq, eid)
        ids.add(eid)
        index, proof = event["leaf_index"], event["proof"]
        if index is None and proof is None:
            add("not covered", "no inclusion proof: the checkpoint does not cover this event", sid, seq, eid)
            continue
        try:
            if not isinstance(index, int) or isinstance(index, bool) or index in leaves:
                raise ProofError("leaf index is not a unique integer")
            if prev_leaf is not None and index <= prev_leaf:
                raise ProofError("leaf indexes do not rise with seq")
            verify_inclusion(event_leaf_hash(event["hash"]), index, size, [_b64(h, 32) for h in proof], root)
        except Exception as exc:  # noqa: BLE001 - malformed input is a finding
            add("bad inclusion proof", str(exc), sid, seq, eid)
        leaves.add(index)
        prev_leaf = index if isinstance(index, int) else prev_leaf
