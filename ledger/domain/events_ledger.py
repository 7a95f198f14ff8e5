"""Event data of the ledger's own operation (21 CFR 11.10(e), EU GMP Annex 11 §9): the effective
security settings, a sealing key rotation, sign-in failures for ids that name no user, and QA's
review of the whole audit trail.

Each lives on its own ledger stream (``ledger.streams.ledger_stream``) and is never corrected.
The first three are written by the ledger (``ledger.services.operations``), never through
``POST /v1/events``; ``AuditLogReviewed`` is QA's e-signed command (``ledger.domain.log_review``),
which only a principal bound to no site may record (``ledger.services.scope``).
No secret and no typed user id is ever in these events: settings carry only non-secret values
and a digest, unknown sign-ins only keyed digests' counts.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from ..datatypes import EventData, Identifier, UtcTime
from .events_case import Position, Reason
from .spec import UNSIGNED, EventSpec, NotExported, Signature

Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Setting = str | int | float | bool | None


class SettingsRecorded(EventData):
    """The security-relevant settings a service started with, when they differ from the last recorded."""

    digest: Digest  # SHA-256 of the canonical JSON of ``values``
    values: dict[Identifier, Setting]


class SealingKeyRotated(EventData):
    retired_key_id: Identifier
    retired_valid_from: UtcTime
    retired_valid_until: UtcTime
    new_key_id: Identifier
    new_valid_from: UtcTime


class UnknownSignInFailures(EventData):
    """Failed sign-ins for ids without a user during one window, counted, never the typed ids."""

    window_start: UtcTime
    window_end: UtcTime
    count: int = Field(ge=1)
    distinct_ids: int = Field(ge=1)  # distinct keyed digests of the typed ids
    by_client: dict[Identifier, int]  # client address prefix (IPv4 /24, IPv6 /48) -> failures


class AuditLogReviewed(EventData):
    """QA reviewed the whole audit trail (every case and the ledger's own records) from one log
    position through another (EU GMP Annex 11 §9, 21 CFR 11.10(e)); e-signed ``reviewed``."""

    from_position: Position
    through_position: Position
    comment: Reason | None = None


LEDGER_EVENTS: dict[str, type[EventData]] = {
    m.__name__: m for m in (SettingsRecorded, SealingKeyRotated, UnknownSignInFailures, AuditLogReviewed)
}

OPERATIONS = NotExported("the ledger's own operation: for auditors, not supply-chain visibility")

LEDGER_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(SettingsRecorded, (), lambda d: f"settings recorded (digest {d.digest[:16]})", OPERATIONS,
              signature=UNSIGNED, correctable=False),
    EventSpec(SealingKeyRotated, (), lambda d: f"sealing key {d.retired_key_id} retired; new key {d.new_key_id}",
              OPERATIONS, signature=UNSIGNED, correctable=False),
    EventSpec(UnknownSignInFailures, (),
              lambda d: f"{d.count} failed sign-in(s) for {d.distinct_ids} unknown id(s)", OPERATIONS,
              signature=UNSIGNED, correctable=False),
    EventSpec(AuditLogReviewed, ("qa",),
              lambda d: f"whole audit trail reviewed, positions {d.from_position} to {d.through_position}"
                        + (f": {d.comment}" if d.comment else ""),
              OPERATIONS, signature=Signature.required("reviewed"), correctable=False),
)
