"""What callers hand the Ledger: drafts of events, e-signature intents, idempotency claims,
and what they get back."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from .records import Receipt


@dataclass(frozen=True)
class EsignIntent:
    """A Part 11 signature to apply to an event as it is appended.

    ``sign`` receives the 32-byte ``esign_digest`` of the final envelope (stream, seq and
    prev included) and returns the base64 Ed25519 signature; it holds the signer's unwrapped
    key only for the duration of the append.
    """

    signer: str
    printed_name: str
    meaning: str
    key_id: str
    sign: Callable[[bytes], str]


@dataclass(frozen=True)
class Draft:
    """One event to append. ``expected_seq`` None appends at whatever the head is."""

    type: str
    stream: UUID
    data: Mapping[str, Any]
    actor: str
    occurred_at: str | None = None
    on_behalf: str | None = None
    site: str | None = None
    device_sig: Mapping[str, Any] | None = None
    device: str | None = None  # the authenticated submitting device, if any
    expected_seq: int | None = None
    esign: EsignIntent | None = None


@dataclass(frozen=True)
class Claim:
    """An idempotency key claim: ``scope`` (e.g. actor + key) and the request's digest.

    ``answer`` is any JSON the caller wants back when the same request is replayed.
    """

    scope: str
    request_digest: str
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def scope_id(self) -> str:
        return hashlib.sha256(self.scope.encode()).hexdigest()


@dataclass(frozen=True)
class AppendResult:
    receipts: list[Receipt]
    answer: dict[str, Any]
    replayed: bool = False
