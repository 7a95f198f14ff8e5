"""Corrections (21 CFR 11.10(e), Annex 11 §9): a new ``EventCorrected`` event naming the
corrected event, the reason, and each changed field's old and new value. The original is
never changed; folds apply corrections so states show current values.

A correction of a GMP-critical field (``EventSpec.critical``: a QC result, a spec or expiry, a
COI or custody link) is pending until QA approves it (``CorrectionApproved``, e-signed
``approved`` by someone other than the corrector) and never applies once rejected
(``CorrectionRejected``); see ``folding.correction_states``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from ..datatypes import EventData
from ..errors import Forbidden
from .base import Envelope, NewEvent, as_uuid, new_event, refusal, require_aware, validate
from .catalogue import DOMAIN_EVENTS, SPECS
from .esign import Manifestation, require_esign
from .events_case import CorrectionApproved, CorrectionRejected, EventCorrected
from .folding import corrections_of, pending_corrections
from .users import UserState

NOT_CORRECTABLE = frozenset(t for t, spec in SPECS.items() if not spec.correctable)
"""Identity, role, site, device, key and security records, and the ledger's own records
(``EventSpec.correctable``): correcting them would grant authority or hide evidence."""

IDENTITY_FIELDS = frozenset({
    "coi", "patient_ref", "donor_ref", "label", "case", "unit", "container", "user", "device",
    "site", "key_id", "public_key", "corrected_event_id", "excursion_id", "inputs", "outputs",
    "parents", "via_container", "patient_case", "donor_coi", "patient_coi", "bag_coi",
})
"""Chain-of-identity links: a wrong one is fixed by a new, properly checked step."""

SCAN_FIELDS = frozenset({"raw", "scanned", "parsed"})
"""What a scan read (``UnitScanned``): evidence, and the one way text read by a scanner (a
wristband's MRN) could otherwise reach the log; only ``/v1/scans`` records it, as a digest."""


def decide_correct(stream: Sequence[Envelope], event_id: UUID | str, reason: str,
                   changes: Mapping[str, Any], *, roles: Sequence[str], actor: str,
                   now: datetime) -> list[NewEvent]:
    """Correct fields of the event ``event_id`` of ``stream`` (all of that stream's envelopes,
    so that earlier corrections give the current values). ``roles`` are the corrector's: one
    must be among those that may record the corrected event's type (``EventSpec.roles``).

    An e-signed event is never corrected: its signature covers the data as signed, and a
    correction would show values nobody signed. A new signed event is recorded instead."""
    require_aware(now)
    if not isinstance(reason, str) or not reason.strip():
        raise refusal("CORRECTION_REASON_REQUIRED", "a correction must say why")
    if not changes:
        raise refusal("CORRECTION_EMPTY", "a correction must change at least one field")
    target_id = str(as_uuid(event_id))
    target = next((e for e in stream if str(e.get("event_id")) == target_id), None)
    if target is None:
        raise refusal("EVENT_NOT_FOUND", f"no event {target_id} in this stream")
    kind = target["type"]
    model = DOMAIN_EVENTS.get(kind)
    if kind in NOT_CORRECTABLE or model is None:
        raise refusal("NOT_CORRECTABLE", f"{kind} events cannot be corrected")
    if target.get("esign"):
        raise refusal("NOT_CORRECTABLE", f"this {kind} is e-signed: record a new signed event instead")
    if not set(roles) & set(SPECS[kind].roles):
        raise Forbidden(f"role(s) {', '.join(roles) or 'none'} may not record {kind}, so may not correct it")
    current = {**target["data"], **corrections_of(stream).get(target_id, {})}
    for name in changes:
        if name not in model.model_fields:
            raise refusal("CORRECTION_FIELD_UNKNOWN", f"{kind} has no field {name!r}")
        if name in IDENTITY_FIELDS:
            raise refusal("CORRECTION_NOT_ALLOWED", f"{name!r} is an identity field")
        if name in SCAN_FIELDS:
            raise refusal("CORRECTION_NOT_ALLOWED", f"{name!r} is what a scan read: scan again instead")
        if name == "witness_due":
            raise refusal("CORRECTION_NOT_ALLOWED", "when a witness is due is the ledger's rule, set with the step")
    corrected = validate(model, **{**current, **changes}).model_dump(mode="json")
    diffs = [{"field": name, "old": current.get(name), "new": corrected[name]}
             for name in sorted(changes) if corrected[name] != current.get(name)]
    if not diffs:
        raise refusal("CORRECTION_NO_CHANGE", "the new values equal the current ones")
    return [new_event(as_uuid(target["stream"]), EventCorrected, corrected_event_id=target_id,
                      corrected_type=kind, reason=reason, changes=diffs)]


def takes_effect(data: EventData | None) -> bool:
    """Whether a read model applies this event's ``changes`` to the event it names now: a
    correction that needs no approval when it is recorded, one that does when it is approved
    (the approval repeats its changes). Anything else, and a pending correction, changes
    nothing."""
    match data:
        case EventCorrected(corrected_type=kind, changes=changes):
            spec = SPECS.get(kind)
            return spec is not None and spec.correctable and not spec.needs_approval(c.field for c in changes)
        case CorrectionApproved():
            return True
    return False


def decide_approve_correction(stream: Sequence[Envelope], correction_event_id: UUID | str,
                              comment: str | None, *, esign: Manifestation | None,
                              signer: UserState | None, actor: str, now: datetime) -> list[NewEvent]:
    """QA approves the pending correction ``correction_event_id`` of ``stream``: from now on
    it takes effect. Four eyes: the corrector (or whom they acted for) may not approve it."""
    require_aware(now)
    correction = _pending(stream, correction_event_id)
    if actor in (correction.get("actor"), correction.get("on_behalf")):
        raise refusal("CORRECTION_SELF_APPROVAL",
                      "a correction is approved by someone other than the person who made it")
    require_esign(CorrectionApproved.__name__, esign, signer, actor=actor)
    data = correction["data"]
    return [new_event(as_uuid(correction["stream"]), CorrectionApproved,
                      correction_event_id=str(correction["event_id"]), corrected_event_id=data["corrected_event_id"],
                      corrected_type=data["corrected_type"], changes=data["changes"], comment=comment)]


def decide_reject_correction(stream: Sequence[Envelope], correction_event_id: UUID | str, reason: str,
                             *, esign: Manifestation | None, signer: UserState | None, actor: str,
                             now: datetime) -> list[NewEvent]:
    """QA rejects the pending correction ``correction_event_id``: it never takes effect (the
    corrector may withdraw their own this way)."""
    require_aware(now)
    correction = _pending(stream, correction_event_id)
    require_esign(CorrectionRejected.__name__, esign, signer, actor=actor)
    data = correction["data"]
    return [new_event(as_uuid(correction["stream"]), CorrectionRejected,
                      correction_event_id=str(correction["event_id"]), corrected_event_id=data["corrected_event_id"],
                      corrected_type=data["corrected_type"], reason=reason)]


def _pending(stream: Sequence[Envelope], correction_event_id: UUID | str) -> Envelope:
    wanted = str(as_uuid(correction_event_id))
    found = next((e for e in stream if str(e.get("event_id")) == wanted), None)
    if found is None or found["type"] != EventCorrected.__name__:
        raise refusal("EVENT_NOT_FOUND", f"no correction {wanted} in this stream")
    if wanted not in pending_corrections(stream):
        raise refusal("CORRECTION_NOT_PENDING",
                      "this correction is not awaiting approval (it needs none, or was approved or rejected)")
    return found
