"""The rules of review by exception, per event: what one event raises, clears or dispositions
(:func:`effects`), and each kind's severity. The table and the fold over a family's events are
in ``ledger.domain.exceptions``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from ..datatypes import EventData
from ..timefmt import format_utc
from .corrections import takes_effect
from .events_case import CorrectionApproved, CorrectionRejected, EventCorrected, OperationRefused
from .events_quality import (
    ExcursionAssessed,
    ExcursionDetected,
    QCResultRecorded,
    UnitDisposed,
    UnitQuarantined,
    UnitReleasedFromQuarantine,
)
from .events_registry import AccessDenied, UserAuthenticated, UserLocked, UserUnlocked
from .events_review import ExceptionDispositioned, InformationalAcknowledged
from .events_unit import (
    CustodyAcknowledged,
    CustodyDeclined,
    CustodyTransferred,
    ShipmentDelivered,
    ShipmentDispatched,
    UnitScanned,
)

Severity = Literal["coi_critical", "gmp", "informational"]
Classification = Literal["no_impact", "deviation", "product_impact"]
State = Literal["open", "dispositioned"]

SEVERITY: dict[str, Severity] = {
    "operation_refused": "coi_critical",
    "scan_mismatch": "coi_critical",
    "witness_missing": "coi_critical",
    "excursion_unassessed": "gmp",
    "excursion_discarded": "gmp",
    "qc_failed": "gmp",
    "spec_out_of_limits": "gmp",
    "quarantine": "gmp",
    "correction_pending": "gmp",
    "event_corrected": "gmp",
    "scan_expired": "gmp",
    "overdue_handoff": "gmp",
    "overdue_delivery": "gmp",
    "scan_unknown": "informational",
    "scan_wrong_step": "informational",
    "access_denied_burst": "informational",
    "account_locked": "informational",
}
BLOCKING: frozenset[str] = frozenset({"coi_critical", "gmp"})
"""Severities that an open exception of blocks a review sign-off and a release."""

TIMED: dict[str, timedelta] = {
    "overdue_handoff": timedelta(hours=2),  # a handover offered and not taken for longer
    "overdue_delivery": timedelta(hours=48),  # a shipment not delivered within this
}
"""Candidate kinds and their default limits (the read model's query takes others)."""

COI_CRITICAL_PURPOSES = frozenset({"collection", "release", "infusion"})
"""Scan purposes at which a mismatch is refused (and the refusal recorded)."""

BURST = 3


def severity_of(kind: str) -> Severity:
    """A kind's severity; a kind this code does not know is treated as GMP (never hidden)."""
    return SEVERITY.get(kind, "gmp")


@dataclass(frozen=True)
class Raised:
    """The event opens exception ``<kind>:<event_id>``; ``match_key`` names what clears it.
    ``merge``: join the open, uncleared exception with the same key instead (a burst)."""

    kind: str
    match_key: str
    detail: str
    subject: str | None = None
    merge: bool = False

    @property
    def severity(self) -> Severity:
        return severity_of(self.kind)


@dataclass(frozen=True)
class Cleared:
    """The event clears the uncleared exceptions with ``match_key`` (they stay open)."""

    match_key: str


@dataclass(frozen=True)
class Dispositioned:
    """The event dispositions the named open exceptions (``exception_ids``) or, for QA's own
    decisions, the open ones with ``match_key`` (which it clears as well)."""

    classification: Classification
    exception_ids: tuple[str, ...] = ()
    match_key: str | None = None
    deviation_id: str | None = None


Effect = Raised | Cleared | Dispositioned


def _num(value: float | None) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def effects(envelope: Mapping[str, Any], data: EventData | None) -> list[Effect]:
    """What one event does to the exceptions: pure, in the order they apply."""
    stream = str(envelope["stream"])
    event_id = str(envelope["event_id"])
    match data:
        case ExcursionDetected(excursion_id=excursion):
            return [Raised("excursion_unassessed", f"excursion:{excursion}",
                           f"{_num(data.min_celsius)}..{_num(data.max_celsius)} °C for {data.duration_s} s "
                           f"(limits {_num(data.limit_min)}..{_num(data.limit_max)}) from {format_utc(data.start)}")]
        case ExcursionAssessed(excursion_id=excursion, decision=decision, rationale=rationale):
            done: list[Effect] = [Dispositioned("no_impact" if decision == "use" else "product_impact",
                                                match_key=f"excursion:{excursion}")]
            if decision == "discard":
                done.append(Raised("excursion_discarded", f"discard:{stream}",
                                   f"excursion {excursion} assessed discard: {rationale}"))
            return done
        case UnitDisposed():
            return [Cleared(f"discard:{stream}"), Cleared(f"quarantine:{stream}")]
        case UnitScanned(purpose=purpose, verdict="match"):
            return [Cleared(f"scan:{stream}:{purpose}")]
        case UnitScanned(purpose=purpose, verdict="mismatch") if purpose in COI_CRITICAL_PURPOSES:
            return []  # refused: the recorded OperationRefused is this scan's exception
        case UnitScanned(purpose=purpose, verdict=verdict, reason=reason):
            return [Raised(f"scan_{verdict}", f"scan:{stream}:{purpose}",
                           f"{purpose} scan: {verdict}" + (f": {reason}" if reason else ""))]
        case OperationRefused(step=step, code=code, detail=detail):
            return [Raised("operation_refused", f"refused:{event_id}", f"{step} refused, {code}: {detail}")]
        case EventCorrected(corrected_type=corrected, corrected_event_id=target, reason=reason):
            fields = ", ".join(c.field for c in data.changes)
            if takes_effect(data):
                return [Raised("event_corrected", f"corrected:{event_id}",
                               f"{corrected} {target} corrected ({fields}): {reason}")]
            return [Raised("correction_pending", f"correction:{event_id}",
                           f"{corrected} {target} correction ({fields}) awaits QA approval: {reason}")]
        case CorrectionApproved(correction_event_id=correction) | CorrectionRejected(correction_event_id=correction):
            return [Dispositioned("no_impact", match_key=f"correction:{correction}")]
        case QCResultRecorded(test=test, result="pass"):
            return [Cleared(f"qc:{stream}:{test}")]
        case QCResultRecorded(test=test):
            return [Raised("qc_failed", f"qc:{stream}:{test}", f"QC {test} failed")]
        case UnitQuarantined(reason=reason):
            return [Raised("quarantine", f"quarantine:{stream}", reason)]
        case UnitReleasedFromQuarantine():
            return [Cleared(f"quarantine:{stream}")]
        case AccessDenied(user=user, attempt=attempt) if attempt >= BURST:
            return [Raised("access_denied_burst", f"access:{user}",
                           f"{attempt} consecutive failed sign-ins of {user}", subject=user, merge=True)]
        case UserAuthenticated(user=user):
            return [Cleared(f"access:{user}")]
        case UserLocked(user=user, reason=reason):
            return [Raised("account_locked", f"lock:{user}", f"{user} locked: {reason}", subject=user)]
        case UserUnlocked(user=user):
            return [Cleared(f"access:{user}"), Cleared(f"lock:{user}")]
        case CustodyTransferred(via_container=None, from_party=sender, to_party=receiver):
            return [Raised("overdue_handoff", f"handoff:{stream}",
                           f"handover {sender} -> {receiver} not acknowledged", subject=receiver)]
        case CustodyAcknowledged(via_container=None) | CustodyDeclined(via_container=None):
            return [Cleared(f"handoff:{stream}")]
        case ShipmentDispatched(via_container=None):
            return [Raised("overdue_delivery", f"shipment:{stream}",
                           f"{data.carrier} {data.tracking} {data.from_site} -> {data.to_site} not delivered",
                           subject=data.tracking)]
        case ShipmentDelivered(via_container=None):
            return [Cleared(f"shipment:{stream}")]
        case ExceptionDispositioned(exception_id=exception_id, classification=classification,
                                    deviation_id=deviation):
            return [Dispositioned(classification, (exception_id,), deviation_id=deviation)]
        case InformationalAcknowledged(exception_ids=ids):
            return [Dispositioned("no_impact", tuple(ids))]
    return []
