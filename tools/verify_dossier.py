#!/usr/bin/env python3
"""Verify a COI ledger dossier offline, trusting nothing but this file and ``cryptography``.

Usage: ``python tools/verify_dossier.py DOSSIER.json [--keys KEYRING.json]`` -> exit 0 and
"intact", or exit 1 and one line per finding (2: the file cannot be read).

An independent re-implementation of ``ledger.verification.dossier.verify_dossier`` (same rules, see its
docstring) with the standard library and ``cryptography`` only: RFC 8785 JCS (the subset JSON
parsing can yield), RFC 9162 inclusion proofs, C2SP signed notes, Ed25519. ``--keys``: the
operator's published key ring (``GET /v1/ledger/keys``); the dossier's keys must match it.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import hashlib
import json
import math
import sys
import uuid
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

NAMESPACE = uuid.UUID("6f1c0a52-6c8e-4c38-9a4e-3f0d2a7b9e11")  # ledger.streams.LEDGER_NAMESPACE
FIELDS = {"stream", "seq", "event_id", "type", "schema", "recorded_at", "occurred_at", "actor",
          "on_behalf", "site", "data", "device_sig", "esign", "prev"}
REGISTRY = {"user": ("UserSigningKeyIssued", "UserSigningKeyRevoked", "user"),
            "device": ("DeviceKeyRegistered", "DeviceKeyRevoked", "device")}
FIRST = {"case": (("CaseEnrolled", "DonorRegistered"), "case", "coi"),
         "unit": (("UnitLabelled",), "unit", "label"), "lot": (("ManufacturingStarted",), "lot", "lot")}
TITLE, SIG_PREFIX, MAX_INT = "coi-ledger dossier/1", "\u2014 ", 2**53 - 1


def _number(x: float) -> str:
    """ECMAScript Number::toString of a finite float (what RFC 8785 prescribes)."""
    if not math.isfinite(x):
        raise ValueError("NaN and infinities are not JSON")
    if x == 0:
        return "0"
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    power = int(exp or 0) - len(frac) + (len(digits) - len(digits.rstrip("0")))
    digits = digits.rstrip("0")
    k, n = len(digits), len(digits) + power
    sign = "-" if x < 0 else ""
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = f"e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + e


def _jcs(v) -> str:
    if v is None or isinstance(v, bool):
        return {None: "null", True: "true", False: "false"}[v]
    if isinstance(v, int):
        if abs(v) > MAX_INT:
            raise ValueError("integer outside the I-JSON range")
        return str(v)
    if isinstance(v, float):
        return _number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(_jcs(i) for i in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _jcs(v[k]) for k in keys) + "}"
    raise ValueError(f"not JSON: {type(v).__name__}")


def jcs(value) -> bytes:
    """RFC 8785 canonical JSON: sorted keys (UTF-16 order), no whitespace, ES number text."""
    return _jcs(value).encode("utf-8")


def _b64(text, size=None, canonical=True) -> bytes:
    raw = base64.b64decode(text, validate=True)  # binascii.Error is a ValueError
    if (canonical and base64.b64encode(raw).decode() != text) or (size and len(raw) != size):
        raise ValueError("not canonical base64 of the right size")
    return raw


def _ed25519(public: bytes, message: bytes, sig_b64, canonical=False) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(_b64(sig_b64, canonical=canonical), message)
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        return False
    return True


def _time(text) -> datetime:
    moment = datetime.fromisoformat(text)
    if not isinstance(text, str) or len(text) > 40 or "T" not in text.upper() or moment.tzinfo is None:
        raise ValueError(f"not an RFC 3339 UTC time: {text!r}")
    return moment.astimezone(UTC)


def _stream_id(kind: str, name) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


class Keys:
    """Sealing keys (the ring) and holder keys (learnt from key events), with validity."""

    def __init__(self, ring: list) -> None:
        self.ring, self.holders = {}, {}
        for k in ring:
            raw = _b64(k["public_key"], 32)
            if hashlib.sha256(raw).hexdigest()[:16] != k["key_id"] or k["key_id"] in self.ring:
                raise ValueError(f"key {k.get('key_id')!r}: key id does not match, or repeated")
            if set(k) != {"key_id", "algorithm", "public_key", "valid_from", "valid_until"} or \
                    k["algorithm"] != "Ed25519" or _fmt(k["valid_from"]) != k["valid_from"] or \
                    (k["valid_until"] is not None and _fmt(k["valid_until"]) != k["valid_until"]):
                raise ValueError(f"key {k['key_id']} is not in its canonical form")
            until = k["valid_until"] and _time(k["valid_until"])
            self.ring[k["key_id"]] = (raw, _time(k["valid_from"]), until)

    def sealing(self, at: str, key_id=None) -> list[bytes]:
        moment = _time(at)
        return [raw for kid, (raw, start, until) in self.ring.items()
                if start <= moment and (not until or moment < until) and key_id in (None, kid)]

    def learn(self, env: dict) -> None:
        kind, d, at = env["type"], env["data"], _time(env["recorded_at"])
        role = "device" if kind.startswith("Device") else "user"
        key = (role, d[role], d["key_id"])
        if kind in ("DeviceKeyRegistered", "UserSigningKeyIssued"):
            self.holders[key] = [_b64(d["public_key"], 32, canonical=False), at, None]
        elif key in self.holders and self.holders[key][2] is None:
            self.holders[key][2] = at

    def holder_ok(self, role, holder, key_id, at: datetime, message: bytes, sig) -> str | None:
        found = self.holders.get((role, str(holder), str(key_id)))
        if found is None:
            return f"unknown {role} key {key_id!r}"
        raw, start, revoked = found
        if not (start <= at and (revoked is None or at < revoked)):
            return f"{role} key {key_id} was not valid then"
        return None if _ed25519(raw, message, str(sig)) else f"{role} signature does not verify"


def _fmt(text) -> str:
    return _time(text).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def open_note(text, name: str, publics: list[bytes]) -> str:
    """Body of a C2SP signed note with at least one valid signature by ``name`` + a key given."""
    if not isinstance(text, str) or any(c < " " and c != "\n" for c in text):
        raise ValueError("a note is text without control characters")
    split = text.rfind("\n\n")
    body, block = text[: split + 1], text[split + 2:]
    if split < 0 or not block.endswith("\n"):
        raise ValueError("a note needs a blank line and signature lines")
    known = {hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]: raw for raw in publics}
    verified = 0
    for line in block[:-1].split("\n"):
        signer, space, sig_text = line.removeprefix(SIG_PREFIX).partition(" ")
        if not line.startswith(SIG_PREFIX) or not space or not signer:
            raise ValueError("malformed signature line")
        sig = _b64(sig_text)
        if signer != name or sig[:4] not in known:
            continue
        if len(sig) != 68 or not _ed25519(known[sig[:4]], body.encode(), base64.b64encode(sig[4:]).decode()):
            raise ValueError("a note signature does not verify")
        verified += 1
    if not verified:
        raise ValueError("no valid signature by a known key")
    return body


def _checkpoint(cp: dict, keys: Keys) -> tuple[int, bytes]:
    body = open_note(cp["note"], cp["origin"], keys.sealing(cp["issued_at"], cp["key_id"]))
    lines = body.split("\n")
    origin, size, root = lines[0], lines[1], lines[2]
    if not size.isdigit() or str(int(size)) != size:
        raise ValueError("the tree size is not a canonical decimal")
    if set(cp) != {"origin", "tree_size", "root", "issued_at", "key_id", "note"} or \
            (origin, int(size), root) != (cp["origin"], cp["tree_size"], cp["root"]):
        raise ValueError("the checkpoint's fields differ from its signed note")
    if type(cp["tree_size"]) is not int:
        raise ValueError("tree size is not an integer")
    return int(size), _b64(root, 32)


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_root(leaf: bytes, index: int, size: int, proof: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root an audit path leads to (ValueError if it cannot)."""
    if not (type(index) is int and type(size) is int and 0 <= index < size):
        raise ValueError("leaf index is not below the tree size")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("audit path too long")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("audit path too short")
    return r


def _cited(value, found: set) -> set:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("patient_ref", "donor_ref"):
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


def _event(sid, role, event, number, prev, prev_seq, keys: Keys, problems: list) -> str:
    """Check one stored record; returns its stored hash (the next ``prev``)."""
    env, stored = event["envelope"], event["hash"]
    if not isinstance(env, dict) or set(env) != FIELDS or type(env["seq"]) is not int \
            or env["seq"] < 1 or not isinstance(env["data"], dict):
        problems.append("malformed envelope")
        return stored
    seq, at = env["seq"], _time(env["recorded_at"])
    if role in FIRST and seq != number:
        problems.append(f"gap in stream: expected seq {number}")
    expected = "0" * 64 if role in FIRST and number == 1 else prev
    if env["stream"] != sid:
        problems.append("moved event")
    if (role in FIRST or prev_seq == seq - 1) and expected is not None and env["prev"] != expected:
        problems.append("broken link")
    if hashlib.sha256(jcs(env)).hexdigest() != stored:
        problems.append("hash mismatch")
    publics = keys.sealing(env["recorded_at"], event["key_id"])
    if not publics or not _ed25519(publics[0], bytes.fromhex(stored), event["seal"], canonical=True):
        problems.append("bad seal")
    sig = env["device_sig"]
    if sig is not None:
        # signed: JCS {type, stream, occurred_at, data, device, nonce}; before nonces, without the last two
        signed = {k: env[k] for k in ("type", "stream", "occurred_at", "data")}
        if isinstance(sig, dict) and "nonce" in sig:
            signed |= {"device": sig["device"], "nonce": sig["nonce"]}
        why = "malformed" if not isinstance(sig, dict) or set(sig) not in (
            {"device", "key_id", "sig"}, {"device", "key_id", "nonce", "sig"}) else \
            keys.holder_ok("device", sig["device"], sig["key_id"], at, jcs(signed), sig["sig"])
        if why:
            problems.append(f"bad device signature: {why}")
    esign = env["esign"]
    if esign is not None:
        unsigned = copy.deepcopy(env)
        unsigned["esign"].pop("signature", None)
        why = "malformed" if not {"signer", "key_id", "signature", "signed_at"} <= set(esign) else \
            keys.holder_ok("user", esign["signer"], esign["key_id"], _time(str(esign["signed_at"])),
                           hashlib.sha256(jcs(unsigned)).digest(), esign["signature"])
        if why:
            problems.append(f"bad e-signature: {why}")
    return stored


def _structure(part: dict) -> list[str]:
    role, sid, envs = part["role"], part["stream"], [e["envelope"] for e in part["events"]]
    if role not in ("case", "unit", "lot", "user", "device") or not envs:
        return [f"unknown role {role!r} or no events"]
    if role in REGISTRY:
        issued, revoked, holder = REGISTRY[role]
        bad = [e for e in envs if e["type"] not in (issued, revoked) or _stream_id(role, e["data"][holder]) != sid]
        seqs = [e["seq"] for e in envs]
        return (["registry stream holds other events"] if bad else []) + (
            ["registry events out of order"] if seqs != sorted(set(seqs)) else [])
    types, kind, field = FIRST[role]
    first = envs[0]
    name = first["data"][field]
    if role == "lot":  # a lot number is unique within its case
        name = f"{first['data']['coi']}:{name}"
    if first["type"] not in types or _stream_id(kind, name) != sid:
        return [f"{role} stream does not start with its creating event at its own id"]
    return []


def _attested(bundle: dict) -> str:
    rest = {k: v for k, v in bundle.items() if k != "attestation"}
    return f"{TITLE}\n{bundle['coi']}\n{base64.b64encode(hashlib.sha256(jcs(rest)).digest()).decode()}\n"


def verify(bundle, trusted: list | None = None) -> list[str]:
    """Findings (empty: intact), one line each: ``[stream S seq N: ]reason[: detail]``."""
    if not isinstance(bundle, dict) or (bundle.get("format"), bundle.get("version")) != ("coi-ledger-dossier", 1):
        return ["not a dossier"]
    out: list[str] = []
    try:
        keys = Keys(bundle["keys"])
        if trusted is not None and any(k not in trusted for k in bundle["keys"]):
            raise ValueError("a key differs from the trusted key ring")
    except Exception as exc:  # noqa: BLE001 - malformed input is a finding, never a crash
        return [f"bad key ring: {exc}"]
    size, root = 0, b""
    try:
        size, root = _checkpoint(bundle["checkpoint"], keys)
    except Exception as exc:  # noqa: BLE001
        out.append(f"bad checkpoint: {exc}")
    parts = bundle.get("streams") if isinstance(bundle.get("streams"), list) else []
    for part in parts:
        try:
            if part["role"] in REGISTRY:
                for env in sorted((e["envelope"] for e in part["events"]), key=lambda e: e["recorded_at"]):
                    keys.learn(env)
        except Exception as exc:  # noqa: BLE001
            out.append(f"bad key event: {exc!r}")
    ids, leaves, streams = set(), set(), set()
    for part in parts:
        try:
            sid, role = part["stream"], part["role"]
            out += [f"stream {sid}: wrong stream: {p}" for p in _structure(part)]
            if sid in streams:
                out.append(f"stream {sid}: duplicate stream")
            streams.add(sid)
            prev = prev_seq = prev_leaf = None
            for number, event in enumerate(part["events"], start=1):
                problems: list[str] = []
                prev = _event(sid, role, event, number, prev, prev_seq, keys, problems)
                env = event["envelope"]
                prev_seq, eid = env["seq"], env["event_id"]
                if eid in ids:
                    problems.append("duplicate event")
                ids.add(eid)
                index, proof = event["leaf_index"], event["proof"]
                if index is None and proof is None:
                    problems.append("not covered by the checkpoint")
                else:
                    try:
                        if index in leaves or (prev_leaf is not None and index <= prev_leaf):
                            raise ValueError("leaf index repeated or not rising with seq")
                        leaf = hashlib.sha256(b"\x00" + bytes.fromhex(event["hash"])).digest()
                        if len(event["hash"]) != 64 or inclusion_root(
                                leaf, index, size, [_b64(h, 32) for h in proof]) != root:
                            raise ValueError("the audit path does not lead to the checkpoint root")
                    except Exception as exc:  # noqa: BLE001
                        problems.append(f"bad inclusion proof: {exc}")
                    leaves.add(index)
                    prev_leaf = index
                out += [f"stream {sid} seq {env['seq']} event {eid}: {p}" for p in problems]
        except Exception as exc:  # noqa: BLE001
            out.append(f"malformed stream: {exc!r}")
    if _stream_id("case", bundle.get("coi")) not in streams:
        out.append(f"case missing: no case stream for {bundle.get('coi')!r}")
    try:
        missing = sorted(_cited(bundle["summary"], set()) - ids)
        if missing:
            out.append(f"summary inconsistent: cites events not in the bundle: {', '.join(missing[:5])}")
    except Exception as exc:  # noqa: BLE001
        out.append(f"summary inconsistent: {exc}")
    try:
        name = bundle["checkpoint"]["origin"]
        if open_note(bundle["attestation"], name, keys.sealing(bundle["generated_at"])) != _attested(bundle):
            raise ValueError("the bundle differs from what the ledger attested")
    except Exception as exc:  # noqa: BLE001
        out.append(f"bad attestation: {exc}")
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="verify_dossier.py",
        description="Verify a COI ledger dossier offline (standard library and cryptography only).",
        epilog="Exit 0: intact. Exit 1: findings, one line each. Exit 2: a file cannot be read.")
    parser.add_argument("dossier", help="the dossier (JSON), from `ledger export` or GET /v1/cases/{coi}/dossier")
    parser.add_argument("--keys", metavar="KEYRING.json",
                        help="the operator's published key ring (GET /v1/ledger/keys); the dossier's keys must match")
    args = parser.parse_args(argv)
    trusted = None
    try:
        if args.keys is not None:
            with open(args.keys, encoding="utf-8") as f:
                trusted = json.load(f)["keys"]
        with open(args.dossier, encoding="utf-8") as f:
            bundle = json.load(f)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"verify_dossier.py: cannot read the dossier or key ring: {exc}", file=sys.stderr)
        return 2
    findings = verify(bundle, trusted)
    for line in findings:
        print(line)
    if findings:
        print(f"NOT intact: {len(findings)} findings")
        return 1
    events = sum(len(p["events"]) for p in bundle["streams"])
    cp = bundle["checkpoint"]
    print(f"intact: case {bundle['coi']}, {events} events in {len(bundle['streams'])} streams, "
          f"checkpoint {cp['origin']} size {cp['tree_size']} root {cp['root']}, "
          f"sealing keys {', '.join(k['key_id'] for k in bundle['keys'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
