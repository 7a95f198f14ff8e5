"""Part 11 electronic signatures (21 CFR 11.50, 11.70, 11.200): pure crypto and checks.

Contract with the core: the ledger computes ``digest = SHA-256(JCS(envelope))`` over the
complete envelope *with* ``esign`` present but ``esign.signature`` absent (so the digest
covers the record's content, its position ``stream``/``seq``/``prev`` and the
manifestation itself); this module only signs and verifies those 32 bytes with the user's
Ed25519 key. The signature is then put into ``esign.signature`` and the whole envelope is
hashed and sealed, so a signature cannot be moved to another record.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import Forbidden, InvalidEvent
from ..timefmt import format_utc, parse_utc
from .base import refusal
from .catalogue import SPECS
from .spec import MEANINGS
from .users import UserState

REQUIRED_MEANING: dict[str, str] = {t: s.meaning for t, s in SPECS.items() if s.meaning}
"""Event types that need an e-signature, and its meaning (``EventSpec.signature``). Each is
emitted on one stream only."""


def require_signature_accepted(event_type: str, meaning: str) -> None:
    """Refuse a signature the type would not keep, before anything is written (11.70: a
    signature offered is kept with its record or refused, never dropped): on a type that takes
    none, 422 ``SIGNATURE_NOT_ACCEPTED``; with a meaning it does not accept, 422
    ``WRONG_SIGNATURE_MEANING`` (``EventSpec.signature``)."""
    signing = SPECS[event_type].signing
    if signing.rule == "none":
        raise InvalidEvent(f"{event_type} takes no e-signature", code="SIGNATURE_NOT_ACCEPTED")
    if not signing.accepts(meaning):
        raise InvalidEvent(f"{event_type} is signed with meaning {' or '.join(map(repr, signing.meanings))}, "
                           f"not {meaning!r}", code="WRONG_SIGNATURE_MEANING")


@dataclass(frozen=True)
class Manifestation:
    """What a signature shows (11.50): who (id and printed name), when, and its meaning."""

    signer: str
    printed_name: str
    meaning: str
    signed_at: datetime
    key_id: str

    def __post_init__(self) -> None:
        if self.meaning not in MEANINGS:
            raise InvalidEvent(f"unknown signature meaning {self.meaning!r}", code="INVALID_DATA")
        format_utc(self.signed_at)  # refuses a naive time

    def as_esign(self, signature: str | None = None) -> dict[str, Any]:
        """The envelope's ``esign`` object; without ``signature`` it is the form that is
        digested for signing (the key is absent, not null)."""
        esign = {"signer": self.signer, "printed_name": self.printed_name,
                 "meaning": self.meaning, "signed_at": format_utc(self.signed_at),
                 "key_id": self.key_id}
        if signature is not None:
            esign["signature"] = signature
        return esign

    @classmethod
    def from_esign(cls, esign: Mapping[str, Any]) -> Manifestation:
        return cls(esign["signer"], esign["printed_name"], esign["meaning"],
                   parse_utc(esign["signed_at"]), esign["key_id"])

    def render(self) -> str:
        """Human-readable form: name, date/time (UTC) and meaning, always all three."""
        when = self.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.printed_name} ({self.signer}), {when}, {self.meaning}"


def sign_record(private_key: Ed25519PrivateKey, digest: bytes) -> str:
    """Ed25519 signature (standard base64) over the 32-byte record ``digest``."""
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise ValueError("the digest must be the 32-byte SHA-256 of the record")
    return base64.b64encode(private_key.sign(digest)).decode("ascii")


def verify_record_signature(public_key_b64: str, digest: bytes, signature_b64: str) -> bool:
    """True iff ``signature_b64`` is the key's Ed25519 signature over ``digest``.

    Malformed keys, digests or signatures give False, never an exception.
    """
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        signature = base64.b64decode(signature_b64, validate=True)
        if not isinstance(digest, bytes) or len(digest) != 32:
            return False
        key.verify(signature, digest)
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def require_esign(event_type: str, manifestation: Manifestation | None,
                  signer: UserState | None = None, *, actor: str | None = None) -> None:
    """Refuse a step whose e-signature is missing or not acceptable.

    ``signer`` is the state of the user named in the manifestation. Refusals:
    ``ESIGNATURE_REQUIRED``, ``WRONG_SIGNATURE_MEANING``, ``SIGNER_NOT_AUTHORISED`` (not
    the actor, unknown, deactivated or locked, printed name not the registered one, key
    not an active key of the signer, or lacking the role: qa to release or assess,
    clinician to infuse).
    """
    required = REQUIRED_MEANING.get(event_type)
    if manifestation is None:
        if required is not None:
            raise refusal("ESIGNATURE_REQUIRED",
                          f"{event_type} needs an e-signature meaning {required!r}")
        return
    if required is not None and manifestation.meaning != required:
        raise refusal("WRONG_SIGNATURE_MEANING",
                      f"{event_type} needs meaning {required!r}, not {manifestation.meaning!r}")
    who = manifestation.signer

    def unauthorised(why: str) -> Exception:
        return refusal("SIGNER_NOT_AUTHORISED", f"{who} cannot sign {event_type}: {why}")

    if actor is not None and who != actor:
        raise unauthorised(f"the step is done by {actor}")
    if signer is None or signer.user_id != who:
        raise unauthorised("unknown signer")
    if not signer.active:
        raise unauthorised("the account is deactivated or locked")
    if manifestation.printed_name != signer.printed_name:
        raise unauthorised("the printed name is not the registered one")
    key = signer.key(manifestation.key_id)
    if key is None or not key.active:
        raise unauthorised(f"key {manifestation.key_id} is not an active key of the signer")
    roles = SPECS[event_type].roles if required is not None else ()
    if roles and not set(roles) & set(signer.roles):
        raise unauthorised(f"the role {' or '.join(map(repr, roles))} is required")


def require_on_behalf(on_behalf: str, person: UserState, signer: str | None) -> None:
    """Acting for someone else (``on_behalf``) is accepted only with that person's own Part 11
    signature in the same request (``signer``, the manifestation's signer), and only for an
    active user (``person``, their state): else ``ON_BEHALF_UNSIGNED`` (403) or
    ``ON_BEHALF_UNKNOWN`` (422)."""
    if signer != on_behalf:
        raise Forbidden(f"acting for {on_behalf} needs their own e-signature (esign.user_id {on_behalf!r}) "
                        "in the same request", code="ON_BEHALF_UNSIGNED")
    if person.user_id != on_behalf or not person.active:
        raise InvalidEvent(f"on_behalf {on_behalf!r} names no active user", code="ON_BEHALF_UNKNOWN")
