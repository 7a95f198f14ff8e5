"""Review by exception: which events raise an exception for QA, how serious it is, and what
clears and what dispositions it. Defined once here and applied by the read model
(``projections.exceptions``, per event) and by :func:`fold_exceptions` (over a family's
streams, for the review sign-off and the release gate), so both agree by construction.

An exception's id is ``<kind>:<event_id>`` of the event that opened it (rebuilds agree).
Its ``state`` is ``open`` until QA dispositions it (``dispositioned``); NOTHING closes by
itself: a later matching scan, an acknowledgement, a passing retest, a delivery only mark it
``cleared`` (with the clearing event), and it stays open for QA's disposition.

==========================  ==============  ================================  ==================================
kind                        severity        raised by                         cleared by
==========================  ==============  ================================  ==================================
operation_refused           coi_critical    OperationRefused (a recorded      (nothing)
                                            refused COI step: wrong patient,
                                            wrong bag, allogeneic bedside)
scan_mismatch               coi_critical    UnitScanned ``mismatch`` at a     a later matching scan, same unit
                                            step that is not itself refused   and purpose
                                            (at collection, release and
                                            infusion the recorded refusal
                                            is the exception: one per scan)
witness_missing             coi_critical    a step due a witness              the witness (``StepWitnessed``)
excursion_unassessed        gmp             ExcursionDetected                 -- (QA's ``ExcursionAssessed``
                                                                              dispositions it: use -> no_impact,
                                                                              discard -> product_impact)
excursion_discarded         gmp             ExcursionAssessed ``discard``     UnitDisposed
qc_failed                   gmp             QCResultRecorded ``fail``         a later pass of the same test
spec_out_of_limits          gmp             a result out of its spec's limits (nothing)
quarantine                  gmp             UnitQuarantined                   release from quarantine, disposal
correction_pending          gmp             EventCorrected of GMP-critical    -- (QA's CorrectionApproved /
                                            fields (``EventSpec.critical``)   CorrectionRejected disposition it)
event_corrected             gmp             EventCorrected taking effect      (nothing)
scan_expired                gmp             UnitScanned ``expired``           a later matching scan
overdue_handoff             gmp             CustodyTransferred (timed)        CustodyAcknowledged / Declined
overdue_delivery            gmp             ShipmentDispatched (timed)        ShipmentDelivered
scan_unknown                informational   UnitScanned ``unknown``           (nothing)
scan_wrong_step             informational   UnitScanned ``wrong_step`` (the   a later matching scan, same unit
                                            wrong purpose for the step)       and purpose
access_denied_burst         informational   AccessDenied, attempt >= 3 (one   UserAuthenticated, UserUnlocked
                                            per burst, no case)
account_locked              informational   UserLocked (no case)              UserUnlocked
==========================  ==============  ================================  ==================================

Dispositions: ``ExceptionDispositioned`` (one exception, e-signed, with its opening event's
hash), ``InformationalAcknowledged`` (informational ones, as ``no_impact``), and QA's own
e-signed decisions that are one: ``ExcursionAssessed`` and ``CorrectionApproved`` /
``CorrectionRejected``.

The timed kinds (overdue_handoff, overdue_delivery) are candidates: one is an exception only
when still not cleared past its limit at ``now``, or cleared late. A container's handover and
shipment raise one exception, on the container; a scan raises at most one, whatever a
container holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..timefmt import parse_utc
from .catalogue import typed
from .exception_rules import (  # noqa: F401 - the contract's names, defined there
    BLOCKING,
    BURST,
    COI_CRITICAL_PURPOSES,
    SEVERITY,
    TIMED,
    Classification,
    Cleared,
    Dispositioned,
    Effect,
    Raised,
    Severity,
    State,
    effects,
    severity_of,
)


@dataclass(frozen=True)
class CaseException:
    exception_id: str
    kind: str
    severity: Severity
    state: State
    cleared: bool
    opened_event_id: str
    opened_hash: str
    opened_at: datetime
    detail: str
    classification: Classification | None = None
    deviation_id: str | None = None
    dispositioned_event_id: str | None = None
    cleared_event_id: str | None = None
    cleared_at: datetime | None = None
    match_key: str = ""
    subject: str | None = None
    event_ids: tuple[str, ...] = field(default=())

    @property
    def blocking(self) -> bool:
        """Open and COI-critical or GMP: blocks a review sign-off and a release."""
        return self.state == "open" and self.severity in BLOCKING


def _when(envelope: Mapping[str, Any]) -> datetime:
    return parse_utc(envelope.get("occurred_at") or envelope["recorded_at"])


def fold_exceptions(events: Iterable[tuple[Mapping[str, Any], str]], now: datetime | None = None,
                    *, limits: Mapping[str, timedelta] = TIMED) -> dict[str, CaseException]:
    """The exceptions raised by ``events`` (``(envelope, event_hash)`` in log order), by id.

    Timed candidates are kept only when late at ``now`` (not cleared past their limit) or
    cleared late; without ``now`` an uncleared candidate is kept.
    """
    found: dict[str, CaseException] = {}
    for envelope, event_hash in events:
        event_id = str(envelope["event_id"])
        for effect in effects(envelope, typed(envelope["type"], envelope["data"])):
            _apply(found, effect, envelope, event_id, event_hash)
    return {k: e for k, e in found.items() if _shown(e, now, limits)}


def _apply(found: dict[str, CaseException], effect: Effect, envelope: Mapping[str, Any], event_id: str,
           event_hash: str) -> None:
    match effect:
        case Raised(merge=True):
            for key, e in found.items():
                if e.match_key == effect.match_key and e.state == "open" and not e.cleared:
                    found[key] = replace(e, detail=effect.detail, event_ids=(*e.event_ids, event_id))
                    return
            _raise(found, effect, envelope, event_id, event_hash)
        case Raised():
            _raise(found, effect, envelope, event_id, event_hash)
        case Cleared(match_key=key):
            for k, e in found.items():
                if e.match_key == key and not e.cleared:
                    found[k] = _cleared(e, envelope, event_id)
        case Dispositioned(match_key=key) if key is not None:
            _apply(found, Cleared(key), envelope, event_id, event_hash)
            for k, e in found.items():
                if e.state == "open" and e.match_key == key:
                    found[k] = _dispositioned(e, effect, event_id)
        case Dispositioned():
            for k in effect.exception_ids:
                if k in found and found[k].state == "open":
                    found[k] = _dispositioned(found[k], effect, event_id)


def _dispositioned(e: CaseException, effect: Dispositioned, event_id: str) -> CaseException:
    events = e.event_ids if e.event_ids[-1] == event_id else (*e.event_ids, event_id)
    return replace(e, state="dispositioned", classification=effect.classification, deviation_id=effect.deviation_id,
                   dispositioned_event_id=event_id, event_ids=events)


def _raise(found: dict[str, CaseException], effect: Raised, envelope: Mapping[str, Any], event_id: str,
           event_hash: str) -> None:
    exception_id = f"{effect.kind}:{event_id}"
    found[exception_id] = CaseException(
        exception_id=exception_id, kind=effect.kind, severity=effect.severity, state="open", cleared=False,
        opened_event_id=event_id, opened_hash=event_hash, opened_at=_when(envelope), detail=effect.detail,
        match_key=effect.match_key, subject=effect.subject, event_ids=(event_id,))


def _cleared(e: CaseException, envelope: Mapping[str, Any], event_id: str) -> CaseException:
    return replace(e, cleared=True, cleared_event_id=event_id, cleared_at=_when(envelope),
                   event_ids=(*e.event_ids, event_id))


def _shown(e: CaseException, now: datetime | None, limits: Mapping[str, timedelta]) -> bool:
    limit = limits.get(e.kind)
    if limit is None:
        return True
    if e.cleared:
        return e.cleared_at is not None and e.cleared_at - e.opened_at > limit
    return now is None or e.opened_at < now - limit
