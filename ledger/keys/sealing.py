"""The ledger's sealing keys: every stored event is sealed with one.

Contract:

* Algorithm Ed25519 (RFC 8032). ``key_id`` = first 16 lower-case hex characters of
  SHA-256 of the raw 32-byte public key.
* ``seal = base64(Ed25519_sign(private_key, bytes.fromhex(hash)))``: the ledger signs the 32
  raw bytes of the event's chain hash (standard base64, with padding).
* A seal is valid when its ``key_id`` is in the published key ring, the signature verifies,
  and the event's ``recorded_at`` lies inside that key's validity period
  (``valid_from <= recorded_at`` and, for a retired key, ``recorded_at < valid_until``).
* Rotation never deletes a public key: the retired key keeps its validity period, so old
  events stay verifiable.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..timefmt import format_utc, parse_utc


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_of(public_key: Ed25519PublicKey | bytes) -> str:
    """First 16 hex of SHA-256 of the raw 32-byte Ed25519 public key."""
    raw = public_key if isinstance(public_key, bytes) else raw_public_key(public_key)
    return hashlib.sha256(raw).hexdigest()[:16]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str) -> bytes:
    """Strict standard base64 decoding; raises ValueError on anything else."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise ValueError(f"not standard base64: {exc}") from None


@functools.lru_cache(maxsize=4096)
def _public_key(public_key_raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(public_key_raw)  # a ledger has few keys: load each once


def verify_ed25519(public_key_raw: bytes, message: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is a valid Ed25519 signature of ``message``."""
    try:
        _public_key(public_key_raw).verify(unb64(signature_b64), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class SealingKey:
    """The private sealing key in use; holds the key in memory only."""

    private_key: Ed25519PrivateKey
    valid_from: datetime

    @property
    def public_key_raw(self) -> bytes:
        return raw_public_key(self.private_key.public_key())

    @functools.cached_property
    def key_id(self) -> str:  # asked for every event sealed
        return key_id_of(self.public_key_raw)

    def seal(self, event_hash: str) -> str:
        """base64 Ed25519 signature over the 32 raw bytes of the hex ``event_hash``."""
        return b64(self.private_key.sign(bytes.fromhex(event_hash)))

    def published(self) -> PublishedKey:
        return PublishedKey(self.key_id, b64(self.public_key_raw), self.valid_from, None)


@dataclass(frozen=True)
class PublishedKey:
    key_id: str
    public_key: str  # base64 of the raw 32 bytes
    valid_from: datetime
    valid_until: datetime | None = None

    def covers(self, moment: datetime) -> bool:
        if moment < self.valid_from:
            return False
        return self.valid_until is None or moment < self.valid_until

    def to_json(self) -> dict[str, str | None]:
        return {
            "key_id": self.key_id,
            "algorithm": "Ed25519",
            "public_key": self.public_key,
            "valid_from": format_utc(self.valid_from),
            "valid_until": format_utc(self.valid_until) if self.valid_until else None,
        }

    @classmethod
    def from_json(cls, obj: dict) -> PublishedKey:
        raw = unb64(obj["public_key"])
        if len(raw) != 32 or key_id_of(raw) != obj["key_id"]:
            raise ValueError(f"key {obj.get('key_id')!r}: key_id does not match the public key")
        until = obj.get("valid_until")
        return cls(
            obj["key_id"],
            obj["public_key"],
            parse_utc(obj["valid_from"]),
            parse_utc(until) if until else None,
        )


@dataclass(frozen=True)
class KeyRing:
    """Every sealing public key the ledger has used, each with its validity period."""

    keys: dict[str, PublishedKey] = field(default_factory=dict)

    def with_key(self, key: PublishedKey) -> KeyRing:
        return KeyRing({**self.keys, key.key_id: key})

    def retire(self, key_id: str, at: datetime) -> KeyRing:
        return KeyRing({**self.keys, key_id: replace(self.keys[key_id], valid_until=at)})

    def check_seal(self, key_id: str, event_hash: str, seal: str, recorded_at: datetime, *,
                   verify: Callable[[bytes, bytes, str], bool] | None = None) -> str | None:
        """None when the seal is valid, else the reason (``unknown key`` ...). ``verify``: an
        equivalent of :func:`verify_ed25519` (a memo of it)."""
        key = self.keys.get(key_id)
        if key is None:
            return f"unknown key: sealing key {key_id!r} is not in the published key ring"
        if not key.covers(recorded_at):
            return f"key not valid: {key_id} was not valid at {format_utc(recorded_at)}"
        try:
            message = bytes.fromhex(event_hash)
        except ValueError:
            return "bad seal: the stored hash is not hex"
        if not (verify or verify_ed25519)(unb64(key.public_key), message, seal):
            return f"bad seal: signature does not verify with key {key_id}"
        return None

    def to_json(self) -> dict:
        return {"keys": [k.to_json() for k in sorted(self.keys.values(), key=lambda k: k.valid_from)]}

    @classmethod
    def from_json(cls, obj: dict) -> KeyRing:
        return cls({k.key_id: k for k in map(PublishedKey.from_json, obj.get("keys", []))})
