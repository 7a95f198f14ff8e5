"""Key lifecycle events the ledger core itself relies on.

The verifier and the ingest path learn device keys and users' e-signature keys from these
events (in the device and user registry streams, see ``ledger.streams``), so key history is
itself sealed and auditable. Public keys are base64 (standard alphabet) of the 32 raw bytes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import AfterValidator

from ..datatypes import EventData, Identifier, Text
from ..domain.spec import UNSIGNED, EventSpec, NotExported


def _raw_ed25519_public_key(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("public_key must be standard base64") from None
    if len(raw) != 32:
        raise ValueError("public_key must be 32 raw Ed25519 bytes, base64")
    return value


PublicKeyB64 = Annotated[str, AfterValidator(_raw_ed25519_public_key)]
KeyId = Annotated[str, AfterValidator(lambda v: _hex16(v))]


def _hex16(value: str) -> str:
    if len(value) != 16 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError("key_id must be 16 lower-case hex characters")
    return value


class DeviceKeyRegistered(EventData):
    device: Identifier
    key_id: KeyId
    public_key: PublicKeyB64
    algorithm: Literal["Ed25519"] = "Ed25519"


class DeviceKeyRevoked(EventData):
    device: Identifier
    key_id: KeyId
    reason: Text


class UserSigningKeyIssued(EventData):
    user: Identifier
    key_id: KeyId
    public_key: PublicKeyB64
    algorithm: Literal["Ed25519"] = "Ed25519"


class UserSigningKeyRevoked(EventData):
    user: Identifier
    key_id: KeyId
    reason: Text


KEY_EVENTS: dict[str, type[EventData]] = {
    m.__name__: m for m in (DeviceKeyRegistered, DeviceKeyRevoked, UserSigningKeyIssued, UserSigningKeyRevoked)
}

KEYS = NotExported("key lifecycle records: for verifiers, not supply-chain visibility")

KEY_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(DeviceKeyRegistered, (), lambda d: f"key {d.key_id} registered for device {d.device}", KEYS,
              correctable=False, signature=UNSIGNED),
    EventSpec(DeviceKeyRevoked, (), lambda d: f"key {d.key_id} of device {d.device} revoked", KEYS,
              correctable=False, signature=UNSIGNED),
    EventSpec(UserSigningKeyIssued, (), lambda d: f"signing key {d.key_id} issued to {d.user}", KEYS,
              correctable=False, signature=UNSIGNED),
    EventSpec(UserSigningKeyRevoked, (), lambda d: f"signing key {d.key_id} of {d.user} revoked", KEYS,
              correctable=False, signature=UNSIGNED),
)
