"""The fixed event envelope, its canonical bytes and its chain hash.

Contract (docs/DESIGN.md, "The event envelope"; relied on by independent verifiers):

* An envelope is a JSON object with exactly the fields in ``ENVELOPE_FIELDS``.
* ``canonical(obj)`` is RFC 8785 (JCS) canonical JSON, UTF-8.
* ``envelope_hash(env)`` = lower-case hex SHA-256 of ``canonical(env)``. Because ``prev`` is
  inside the envelope, each hash commits to the whole stream before it.
* ``prev`` of seq 1 is ``GENESIS_PREV`` (64 zeros); of seq n it is the hash of seq n-1.
* ``esign_digest(env)`` = raw SHA-256 of ``canonical(env)`` with ``esign.signature`` absent:
  what a Part 11 signer signs (the record, its position and the manifestation itself).
* ``submission_bytes(...)`` = ``canonical({type, stream, occurred_at, data, device, nonce})``:
  what a device signs (``device_sig`` = ``{device, key_id, nonce, sig}``); every part of it is
  in the envelope, so the signature is re-checkable offline. Signatures made before nonces
  (``device_sig`` = ``{device, key_id, sig}``) cover ``canonical({type, stream, occurred_at,
  data})``: still verified in stored events, never accepted on ingest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import orjson
import rfc8785

from .errors import InvalidEvent

ENVELOPE_FIELDS = (
    "stream",
    "seq",
    "event_id",
    "type",
    "schema",
    "recorded_at",
    "occurred_at",
    "actor",
    "on_behalf",
    "site",
    "data",
    "device_sig",
    "esign",
    "prev",
)
SCHEMA_VERSION = 1
GENESIS_PREV = "0" * 64
ESIGN_FIELDS = ("signer", "printed_name", "meaning", "signed_at", "key_id", "signature")
DEVICE_SIG_FIELDS = ("device", "key_id", "nonce", "sig")
LEGACY_DEVICE_SIG_FIELDS = ("device", "key_id", "sig")  # before nonces: still verified, never admitted


# For values made only of dicts with string keys, lists, strings, booleans, None and integers
# within +-(2**53 - 1), orjson with sorted keys writes exactly the RFC 8785 bytes (~10x faster
# than the ``json`` C encoder, which writes them too): JCS and orjson escape the same characters
# the same way (", \\, \b \f \n \r \t, other controls as lower-case \u00xx, nothing else), and
# integers need no ECMAScript number formatting. Floats are written alike (shortest round-trip
# digits) only when non-integral and within 1e-4 <= |x| < 1e16, where neither side uses an
# exponent. Everything else goes to ``rfc8785``: other floats, keys outside the BMP (JCS sorts
# keys by UTF-16 code units, orjson by code point), what orjson refuses (lone surrogates, which
# ``rfc8785`` refuses with its own message; nesting deeper than orjson's 255 levels).
_SORTED = orjson.OPT_SORT_KEYS
_SAFE_INT = 2**53 - 1


def _c_encodable(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    if kind is float:  # where repr() and ECMAScript agree: plain decimal digits, not integral
        return 1e-4 <= abs(value) < 1e16 and not value.is_integer()
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
                return False
            if not _c_encodable(item):
                return False
        return True
    if kind is list:
        return all(_c_encodable(item) for item in value)
    return False


def canonical(obj: Any) -> bytes:
    """RFC 8785 canonical JSON of ``obj``; refuses anything JSON cannot carry exactly.

    Byte-for-byte the output of ``rfc8785.dumps`` (a property test holds the two together);
    the common case runs in the C ``json`` encoder, everything else in ``rfc8785``.
    """
    if _c_encodable(obj):
        try:
            return orjson.dumps(obj, option=_SORTED)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate or deep nesting: rfc8785 decides below
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, ValueError, TypeError) as exc:
        raise InvalidEvent(f"not representable as canonical JSON: {exc}", code="INVALID_JSON") from None


def parse(data: bytes | memoryview) -> Any:
    """JSON ``data`` as Python values, exactly as ``json.loads`` reads it.

    ``orjson`` where it reads the same (~2.5x faster, and in place): it turns an integer beyond
    64 bits into a float, so text that may hold such an integer goes to ``json``, as does what
    orjson refuses and ``json`` accepts (lone surrogates). Raises ``ValueError`` for what neither
    reads.
    """
    if not _may_hold_a_long_integer(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(bytes(data))


def _may_hold_a_long_integer(data: bytes | memoryview) -> bool:
    """Whether ``data`` has a run of 19 or more digits not just after a quote.

    A number's digits follow ``:``, ``,``, ``[``, ``-``, white space or nothing, never ``"``; a
    run right after a quote is the start of a string (a chain's zero hash, an SSCC), which orjson
    reads as ``json`` does. In C: the bytes become classes (digit, quote, other), then the search
    is for a run of digits alone: its last byte, a digit, is rare, so the search skips ahead a
    run's length at a time (a pattern starting with the common "other" class could not: ~2.5 us
    more a record). A run inside a string after any other character only costs the slower reader."""
    classes = bytes(data).translate(_CLASSES)  # bytes(b) is b itself; a memoryview is copied
    at = classes.find(_RUN)
    while at != -1:
        if at == 0 or classes[at - 1] == _OTHER:
            return True
        # after a quote, or (only where the search started) inside a run that began after one
        at = classes.find(_RUN, at + len(_RUN))
    return False


_CLASSES = bytes(b"d"[0] if chr(i).isdigit() and i < 128 else b"q"[0] if i == ord('"') else b"x"[0]
                 for i in range(256))  # every byte as its class: digit, quote or other
_RUN = b"d" * 19
_OTHER = b"x"[0]


def envelope_hash(envelope: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the envelope's JCS bytes: the event's chain hash."""
    return canonical_and_hash(envelope)[1]


def canonical_and_hash(envelope: Mapping[str, Any]) -> tuple[bytes, str]:
    """The envelope's JCS bytes and their hex SHA-256 (the chain hash), computed once."""
    jcs = canonical(dict(envelope))
    return jcs, hashlib.sha256(jcs).hexdigest()


def esign_digest(envelope: Mapping[str, Any]) -> bytes:
    """Raw SHA-256 of the envelope's JCS bytes with ``esign.signature`` removed."""
    esign = envelope.get("esign")
    if not isinstance(esign, dict):
        raise InvalidEvent("the envelope carries no e-signature manifestation", code="NO_ESIGN")
    unsigned = {**envelope, "esign": {k: v for k, v in esign.items() if k != "signature"}}
    return hashlib.sha256(canonical(unsigned)).digest()


def submission_bytes(
    *, type: str, stream: str, occurred_at: str | None, data: Mapping[str, Any],
    device: str | None = None, nonce: str | None = None,
) -> bytes:
    """The bytes a device signs (Ed25519, its registered key).

    Contract: JCS (RFC 8785, UTF-8) of ``{type, stream, occurred_at, data, device, nonce}`` where
    ``stream`` is the target stream's UUID as text, ``occurred_at`` the normalised RFC 3339 UTC
    time or null, ``data`` the event data as stored, ``device`` the signing device's id and
    ``nonce`` a string the device never uses twice. Binding the device and the nonce makes a
    signature good for one event of one device only (the ledger refuses a used nonce). With
    ``nonce`` None: the legacy form ``{type, stream, occurred_at, data}`` (stored events only).
    """
    body: dict[str, Any] = {"type": type, "stream": stream, "occurred_at": occurred_at, "data": dict(data)}
    if nonce is not None:
        body["device"], body["nonce"] = device, nonce
    return canonical(body)


def submission_of(envelope: Mapping[str, Any]) -> bytes:
    """Rebuild, from a stored envelope, the exact bytes its device signed."""
    sig = envelope["device_sig"]
    nonce = sig.get("nonce") if isinstance(sig, Mapping) else None
    return submission_bytes(
        type=envelope["type"],
        stream=envelope["stream"],
        occurred_at=envelope["occurred_at"],
        data=envelope["data"],
        device=sig.get("device") if nonce is not None else None,
        nonce=nonce,
    )


def check_shape(envelope: Any) -> str | None:
    """Return why ``envelope`` is not a well-formed envelope, or None when it is."""
    if not isinstance(envelope, dict):
        return "envelope is not a JSON object"
    fields = set(envelope)
    expected = set(ENVELOPE_FIELDS)
    if fields != expected:
        missing = sorted(expected - fields)
        extra = sorted(fields - expected)
        return f"envelope fields differ (missing {missing}, unexpected {extra})"
    if not isinstance(envelope["seq"], int) or envelope["seq"] < 1:
        return "seq is not a positive integer"
    if not isinstance(envelope["data"], dict):
        return "data is not an object"
    return None
