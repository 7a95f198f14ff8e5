"""``errorDeclaration``: the EPCIS way to say an earlier event did not occur or was wrong.

The declared event (same ``eventID``, or the same content hash) is looked up among earlier
captures; each ledger event it was mapped to that carries a free-text field gets an
``EventCorrected`` noting the declaration (reason, time, corrective event ids) in that field:
``condition`` for custody acknowledgements, handovers and deliveries, ``reason`` for scans.
The original stays visible (never changed); the corrective events themselves are captured as
ordinary events. Everything else is reported as not applied (correct it with POST /v1/events).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from ledger.domain.events_case import EventCorrected
from ledger.domain.events_unit import CustodyAcknowledged, CustodyTransferred, ShipmentDelivered, UnitScanned
from ledger.services import Services

from . import ids
from .planner import PlanState

NOTE_FIELDS = {m.__name__: f for m, f in ((CustodyTransferred, "condition"), (CustodyAcknowledged, "condition"),
                                           (ShipmentDelivered, "condition"), (UnitScanned, "reason"))}


def declare_error(state: PlanState, s: Services, event: Mapping[str, Any]) -> None:
    declaration = event["errorDeclaration"]
    declared = ids.event_id(event)
    earlier = state.history(declared)
    if not earlier:
        state.skip(f"errorDeclaration for {declared[:200]}: no ledger events were mapped from it")
        return
    if any(row["ledger_type"] == EventCorrected.__name__ for row in earlier):
        state.skip(f"errorDeclaration for {declared[:200]}: already applied by an earlier capture")
        return
    if not state.may(EventCorrected.__name__):
        state.skip(f"the principal's role may not record {EventCorrected.__name__}")
        return
    reason = declaration.get("reason") if isinstance(declaration.get("reason"), str) else None
    corrective = [c for c in declaration.get("correctiveEventIDs") or [] if isinstance(c, str)]
    note = (f"EPCIS errorDeclaration ({reason or 'no reason given'}) declared "
            f"{declaration.get('declarationTime')}"
            + (f"; corrective events: {', '.join(corrective)}" if corrective else ""))[:2000]
    why = f"EPCIS errorDeclaration: {reason or 'no reason given'} ({declared})"[:2000]
    for row in earlier:
        field = NOTE_FIELDS.get(row["ledger_type"])
        if field is None:
            state.skip(f"{row['ledger_type']} {row['ledger_event_id']}: no field an EPCIS "
                       "declaration can annotate; correct it with EventCorrected")
            continue
        state.run("correct", None, None, lambda r=row, f=field: s.quality.correct(
            state.ctx(event), stream=UUID(r["stream"]), event_id=r["ledger_event_id"], reason=why,
            changes={f: note}), corrected_event_id=row["ledger_event_id"])
