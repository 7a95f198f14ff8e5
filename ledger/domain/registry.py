"""Site and device registries: one stream per site id and per device id (never reused).

Device keys (``DeviceKeyRegistered`` / ``DeviceKeyRevoked`` from ``ledger.keys.keyevents``) live
in the device's stream, where the ingest path and the verifier learn them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from ..datatypes import EventData
from ..keys.keyevents import DeviceKeyRegistered, DeviceKeyRevoked
from ..streams import device_stream, site_stream
from .base import Envelope, NewEvent, new_event, refusal, require_aware, require_reason
from .credentials import key_id_of
from .events_registry import DeviceDeactivated, DeviceRegistered, SiteRegistered
from .folding import fold
from .users import SigningKey, revoke_key


@dataclass(frozen=True)
class SiteState:
    stream: UUID | None = None
    version: int = 0
    site_id: str | None = None
    name: str | None = None
    kind: str | None = None
    gln: str | None = None


@dataclass(frozen=True)
class DeviceState:
    stream: UUID | None = None
    version: int = 0
    device_id: str | None = None
    kind: str | None = None
    site: str | None = None
    deactivated: bool = False
    keys: tuple[SigningKey, ...] = ()

    def key(self, key_id: str) -> SigningKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)


def _evolve_site(s: SiteState, event: EventData, _: Envelope) -> SiteState:
    match event:
        case SiteRegistered(site=site, name=name, kind=kind, gln=gln):
            return replace(s, site_id=site, name=name, kind=kind, gln=gln)
    return s


def _evolve_device(s: DeviceState, event: EventData, _: Envelope) -> DeviceState:
    match event:
        case DeviceRegistered(device=device, kind=kind, site=site):
            return replace(s, device_id=device, kind=kind, site=site)
        case DeviceDeactivated():
            return replace(s, deactivated=True)
        case DeviceKeyRegistered(key_id=key_id, public_key=public_key):
            return replace(s, keys=(*s.keys, SigningKey(key_id, public_key)))
        case DeviceKeyRevoked(key_id=key_id):
            return replace(s, keys=revoke_key(s.keys, key_id))
    return s


def fold_site(envelopes: Iterable[Envelope]) -> SiteState:
    return fold(SiteState(), _evolve_site, envelopes)


def fold_device(envelopes: Iterable[Envelope]) -> DeviceState:
    return fold(DeviceState(), _evolve_device, envelopes)


def decide_register_site(site: SiteState, *, site_id: str, name: str, kind: str,
                         gln: str | None = None, actor: str, now: datetime) -> list[NewEvent]:
    require_aware(now)
    if site.version:
        raise refusal("SITE_ID_TAKEN", f"site id {site_id!r} was already used")
    return [new_event(site_stream(site_id), SiteRegistered, site=site_id, name=name, kind=kind,
                      gln=gln)]


def decide_register_device(device: DeviceState, site: SiteState, *, device_id: str, kind: str,
                           actor: str, now: datetime) -> list[NewEvent]:
    require_aware(now)
    if device.version:
        raise refusal("DEVICE_ID_TAKEN", f"device id {device_id!r} was already used")
    if site.site_id is None:
        raise refusal("SITE_NOT_FOUND", "the device's site is not registered")
    return [new_event(device_stream(device_id), DeviceRegistered, device=device_id, kind=kind,
                      site=site.site_id)]


def _require_device(device: DeviceState) -> None:
    if device.device_id is None:
        raise refusal("DEVICE_NOT_FOUND", "no such device")
    if device.deactivated:
        raise refusal("DEVICE_DEACTIVATED", f"device {device.device_id} is deactivated")


def decide_register_device_key(device: DeviceState, *, key_id: str, public_key: str,
                               actor: str, now: datetime) -> list[NewEvent]:
    """Register a device's Ed25519 public key (a device may hold several, e.g. in rotation)."""
    require_aware(now)
    _require_device(device)
    if device.key(key_id) is not None:
        raise refusal("KEY_ALREADY_REGISTERED", f"key {key_id} is already registered")
    event = new_event(device.stream, DeviceKeyRegistered,  # type: ignore[arg-type]
                      device=device.device_id, key_id=key_id, public_key=public_key)
    if key_id_of(base64.b64decode(public_key)) != key_id:
        raise refusal("UNKNOWN_KEY", "key_id is not the SHA-256 prefix of this public key")
    return [event]


def decide_revoke_device_key(device: DeviceState, key_id: str, reason: str, *, actor: str,
                             now: datetime) -> list[NewEvent]:
    require_aware(now)
    if device.device_id is None:
        raise refusal("DEVICE_NOT_FOUND", "no such device")
    key = device.key(key_id)
    if key is None:
        raise refusal("UNKNOWN_KEY", f"device {device.device_id} has no key {key_id}")
    if not key.active:
        raise refusal("KEY_REVOKED", f"key {key_id} is already revoked")
    require_reason(reason, "a key revocation")
    return [new_event(device.stream, DeviceKeyRevoked,  # type: ignore[arg-type]
                      device=device.device_id, key_id=key_id, reason=reason)]


def decide_deactivate_device(device: DeviceState, reason: str, *, actor: str,
                             now: datetime) -> list[NewEvent]:
    """Deactivate the device and revoke its active keys; the id stays taken."""
    require_aware(now)
    _require_device(device)
    require_reason(reason, "a deactivation")
    events = [new_event(device.stream, DeviceDeactivated,  # type: ignore[arg-type]
                        device=device.device_id, reason=reason)]
    events += [new_event(device.stream, DeviceKeyRevoked,  # type: ignore[arg-type]
                         device=device.device_id, key_id=k.key_id, reason="device deactivated")
               for k in device.keys if k.active]
    return events
