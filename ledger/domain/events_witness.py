"""Event data of the two-person identity check: a second person witnesses a COI-critical step
(labelling, the bedside check before an infusion) with their own e-signature.

Which steps need a witness is the setting ``LEDGER_WITNESS_STEPS``; the step's event records
when its witness is due (``UnitLabelled.witness_due``, ``ProductInfused.witness_due``, set by
the decision), and ``StepWitnessed`` on the same (unit) stream names the event witnessed. A
witness is never corrected: it changes only by a new record.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from ..datatypes import EventData
from .events_case import Reason
from .spec import EventSpec, NotExported, Signature

WitnessedStep = Literal["labelling", "infusion"]

WITNESS_ROLES: tuple[str, ...] = ("operator", "clinician")
"""Who may witness a step: the people at the bench and at the bedside (nurses are ``operator``)."""


class StepWitnessed(EventData):
    """A second person's e-signed (``reviewed``) confirmation of the identity check of the step
    ``witnessed_event_id`` (on this stream), within the witness window."""

    witnessed_event_id: UUID
    step: WitnessedStep
    comment: Reason | None = None


WITNESS_EVENTS: dict[str, type[EventData]] = {StepWitnessed.__name__: StepWitnessed}

WITNESS_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(StepWitnessed, WITNESS_ROLES,
              lambda d: f"{d.step} witnessed (event {d.witnessed_event_id})"
                        + (f": {d.comment}" if d.comment else ""),
              NotExported("a second person's check of a step whose own event is exported"),
              correctable=False, signature=Signature.required("reviewed")),
)
