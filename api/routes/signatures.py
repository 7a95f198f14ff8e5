"""Second signatures: ``POST /v1/signatures`` signs a pending step, ``GET /v1/signatures/pending``
lists what the caller may sign.

A pending step is named by its event id (``pending_id``):

* a governed correction awaiting approval (the ``EventCorrected``; meaning ``approved``) is
  approved by the existing ``CorrectionApproved`` command, with its rules (QA, not the
  corrector, qualified);
* a labelling or infusion due a witness (the ``UnitLabelled`` / ``ProductInfused`` with a
  ``witness_due``; meaning ``reviewed``) is witnessed by ``StepWitnessed``
  (``ledger.domain.witness``).

Either is run exactly as ``POST /v1/events`` runs it (``run_command``): role, training, site
scope, the Part 11 signature (password re-entry, fitness to sign, key state, a wrong password
counted as a failed sign-in), idempotency.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ledger.domain.events_case import CorrectionApproved, EventCorrected, Reason
from ledger.domain.events_witness import StepWitnessed
from ledger.domain.spec import Meaning
from ledger.domain.witness import pending_not_found, witnessable
from ledger.errors import Forbidden
from ledger.timefmt import utc_now
from projections.signatures_query import pending_signatures

from ..authority import permits
from ..commands import REQUEST_MODELS
from ..deps import ContainerDep, IdempotencyKey, MinPosition, PrincipalDep, Reader, Scope, fresh
from ..policy import EVENT_ROLES
from ..requests import Ident, Secret
from ..schemas import PROBLEMS, AppendResponse, append_response
from .events import run_command

router = APIRouter(prefix="/v1/signatures", tags=["signatures"], responses=PROBLEMS)

SIGNED = (CorrectionApproved.__name__, StepWitnessed.__name__)
"""What a second signature records; a principal holding neither's roles is refused at once (403)."""


class SignatureBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pending_id: UUID = Field(description="the pending step's event id (from GET /v1/signatures/pending)")
    user_id: Ident = Field(description="the signer: the signed-in user")
    password: Secret = Field(description="the signer's password (re-authentication, 11.200)")
    meaning: Meaning = Field(description="`approved` for a correction, `reviewed` for a witness")
    comment: Reason | None = Field(None, description="shown with the signature")


class PendingSignature(BaseModel):
    pending_id: str = Field(description="the event awaiting a second signature: POST it to /v1/signatures")
    kind: Literal["correction", "witness"]
    event_type: Literal["CorrectionApproved", "StepWitnessed"] = Field(description="what the signature records")
    meaning: Literal["approved", "reviewed"] = Field(description="the meaning the signature must carry")
    stream: str
    step_type: str = Field(description="the pending event's type (EventCorrected, UnitLabelled, ProductInfused)")
    coi: str | None = None
    unit_id: str | None = None
    actor: str = Field(description="who recorded the pending step")
    opened_at: str
    due_at: str | None = Field(None, description="a witness signs by then (`witness_due`)")
    detail: str


def _request(container: Any, body: SignatureBody) -> Any:
    """The command the signature records, as a typed ``POST /v1/events`` request; 404
    ``PENDING_NOT_FOUND`` when ``pending_id`` names no correction or step due a witness."""
    pending = str(body.pending_id)
    stream = container.services.review.event_streams(pending)
    envelope = None
    if stream is not None:
        envelope = next((e.envelope for e in container.ledger.read_stream(stream)
                         if str(e.envelope["event_id"]) == pending), None)
    esign = {"user_id": body.user_id, "password": body.password, "meaning": body.meaning}
    if envelope is not None and envelope["type"] == EventCorrected.__name__:
        event_type, target = CorrectionApproved.__name__, {"stream": stream}
        data = {"correction_event_id": pending, "comment": body.comment}
    elif envelope is not None and witnessable(envelope):
        event_type, target = StepWitnessed.__name__, {"unit_id": stream}
        data = {"witnessed_event_id": pending, "comment": body.comment}
    else:
        raise pending_not_found(pending)
    return REQUEST_MODELS[event_type].model_validate({"type": event_type, **target, "data": data, "esign": esign})


@router.post("", status_code=201, response_model=AppendResponse,
             summary="Sign a pending step: approve a correction (`approved`) or witness a step (`reviewed`)")
def sign(body: SignatureBody, principal: PrincipalDep, container: ContainerDep,
         idempotency_key: IdempotencyKey = None) -> AppendResponse:
    if not any(principal.may(EVENT_ROLES[t]) for t in SIGNED):
        raise Forbidden(f"role(s) {', '.join(principal.roles)} sign no pending step")
    outcome = run_command(container, principal, _request(container, body), idempotency_key, "/v1/signatures")
    container.metrics.events_appended.inc(len(outcome.result.receipts))
    return append_response(outcome)


@router.get("/pending", response_model=list[PendingSignature],
            summary="What the caller may sign: corrections awaiting approval, steps awaiting a witness")
def pending(principal: Reader, scope: Scope, container: ContainerDep,
            kind: Literal["correction", "witness"] | None = None,
            min_position: MinPosition = None) -> list[dict[str, Any]]:
    fresh(container, min_position)
    kinds = {k for k, event_type in (("correction", CorrectionApproved.__name__),
                                     ("witness", StepWitnessed.__name__))
             if permits(principal, event_type) and kind in (None, k)}
    with container.engine.connect() as conn:
        return pending_signatures(conn, now=utc_now(), signer=principal.id, kinds=kinds, scope=scope)
