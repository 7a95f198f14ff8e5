"""Public keys of devices and users, learnt from the sealed key lifecycle events.

Used on ingest (is this device's signature valid now?) and by the verifier (was it valid
when the event was recorded?). A key is valid from the ``recorded_at`` of its registration
event until the ``recorded_at`` of its revocation, if any.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..envelope import DEVICE_SIG_FIELDS, LEGACY_DEVICE_SIG_FIELDS
from ..errors import LedgerError
from ..timefmt import parse_utc
from .keyevents import DeviceKeyRegistered, DeviceKeyRevoked, UserSigningKeyIssued, UserSigningKeyRevoked
from .sealing import unb64, verify_ed25519

# key event type -> (the data field naming its holder, whether it revokes the key)
_KEY_EVENTS = {
    DeviceKeyRegistered.__name__: ("device", False),
    DeviceKeyRevoked.__name__: ("device", True),
    UserSigningKeyIssued.__name__: ("user", False),
    UserSigningKeyRevoked.__name__: ("user", True),
}


@dataclass(frozen=True)
class HolderKey:
    holder: str
    key_id: str
    public_key: bytes
    valid_from: datetime
    revoked_at: datetime | None = None

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.revoked_at is None or moment < self.revoked_at)


class KeyDirectory:
    """Device keys and user e-signature keys, indexed by (holder, key_id)."""

    def __init__(self) -> None:
        self.devices: dict[tuple[str, str], HolderKey] = {}
        self.users: dict[tuple[str, str], HolderKey] = {}

    @classmethod
    def from_envelopes(cls, envelopes: Iterable[Mapping[str, Any]]) -> KeyDirectory:
        """The keys the given key events register. An event too damaged to read registers
        nothing: the verifier reports it on its own stream (its hash no longer matches), and
        a signature that relied on it then fails as made with an unknown key."""
        directory = cls()
        readable = [e for e in envelopes if isinstance(e, Mapping) and isinstance(e.get("recorded_at"), str)]
        for envelope in sorted(readable, key=lambda e: e["recorded_at"]):
            try:
                directory.apply(envelope)
            except (KeyError, TypeError, ValueError, LedgerError):
                continue
        return directory

    def apply(self, envelope: Mapping[str, Any]) -> None:
        kind = envelope["type"]
        data = envelope["data"]
        at = parse_utc(envelope["recorded_at"])
        if kind not in _KEY_EVENTS:
            return
        field, revokes = _KEY_EVENTS[kind]
        table = self.devices if field == "device" else self.users
        if not revokes:
            key = HolderKey(data[field], data["key_id"], unb64(data["public_key"]), at)
            table[(key.holder, key.key_id)] = key
            return
        existing = table.get((data[field], data["key_id"]))
        if existing is not None and existing.revoked_at is None:
            table[(data[field], data["key_id"])] = replace(existing, revoked_at=at)

    def active_device_keys(self, device: str, at: datetime) -> list[HolderKey]:
        return [k for (d, _), k in self.devices.items() if d == device and k.valid_at(at)]

    def ever_had_key(self, device: str) -> bool:
        """Whether ``device`` was ever given a key: it must then sign, even once all are revoked."""
        return any(d == device for d, _ in self.devices)

    def check_device_sig(self, device_sig: Any, message: bytes, at: datetime) -> str | None:
        """None when ``device_sig`` is a valid signature of ``message`` at ``at``; else why not.

        ``message`` is ``ledger.envelope.submission_bytes`` of the event (with the nonce when
        ``device_sig`` has one). Whether a nonce is required is the caller's rule."""
        if not isinstance(device_sig, Mapping) or set(device_sig) not in (
            set(DEVICE_SIG_FIELDS), set(LEGACY_DEVICE_SIG_FIELDS)
        ):
            return "device signature malformed: expected {device, key_id, nonce, sig}"
        key = self.devices.get((str(device_sig["device"]), str(device_sig["key_id"])))
        if key is None:
            return f"unknown device key {device_sig['key_id']!r} for device {device_sig['device']!r}"
        if not key.valid_at(at):
            return f"device key {key.key_id} was not valid (revoked or not yet registered) then"
        if not verify_ed25519(key.public_key, message, str(device_sig["sig"])):
            return f"bad device signature: does not verify with key {key.key_id}"
        return None

    def check_esign(self, esign: Any, digest: bytes) -> str | None:
        """None when the e-signature manifestation's signature verifies; else why not."""
        if not isinstance(esign, Mapping) or not {"signer", "key_id", "signature", "signed_at"} <= set(esign):
            return "e-signature manifestation malformed"
        key = self.users.get((str(esign["signer"]), str(esign["key_id"])))
        if key is None:
            return f"unknown e-signature key {esign['key_id']!r} for {esign['signer']!r}"
        try:
            signed_at = parse_utc(str(esign["signed_at"]))
        except LedgerError:
            return "e-signature signed_at is not a time"
        if not key.valid_at(signed_at):
            return f"e-signature key {key.key_id} was not valid at signed_at"
        if not verify_ed25519(key.public_key, digest, str(esign["signature"])):
            return "bad e-signature: does not verify over this record"
        return None
