"""Review by exception: what QA must look at before release, and QA closing each one.

Nothing closes by itself: an exception stays ``open`` until QA dispositions it (e-signed
``reviewed``, naming the hash of the event that opened it) or, for an informational one,
acknowledges it; a later event that clears the condition only marks it ``cleared``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ledger.datatypes import validated
from ledger.domain.events_case import Reason
from ledger.domain.events_review import (
    DeviationId,
    EventHash,
    ExceptionDispositioned,
    ExceptionId,
    InformationalAcknowledged,
)
from ledger.services.review import Acknowledgement, Disposition
from ledger.timefmt import utc_now
from projections.exceptions_query import exceptions

from ..commands import REQUEST_MODELS
from ..deps import AuditReader, ContainerDep, IdempotencyKey, MinPosition, PrincipalDep, Scope, authorise, fresh
from ..requests import EsignInput, Ident
from ..responses import ReviewException
from ..schemas import PROBLEMS, AppendResponse, append_response
from .events import run_command

router = APIRouter(prefix="/v1", tags=["exceptions"], responses=PROBLEMS)

ExceptionPath = Annotated[str, Path(max_length=100, pattern=r"^[a-z_]+:[0-9a-fA-F-]{36}$",
                                    description="`<kind>:<opening event id>`")]


@router.get("/exceptions", summary="Review by exception: what QA must look at before release",
            response_model=list[ReviewException])
def review(principal: AuditReader, scope: Scope, container: ContainerDep,
           coi: Annotated[str | None, Query(max_length=32)] = None,
           state: Literal["open", "dispositioned", "all"] = "open",
           severity: Literal["coi_critical", "gmp", "informational"] | None = None,
           handover_hours: Annotated[float, Query(gt=0, le=720)] = 2.0,
           min_position: MinPosition = None) -> list[dict[str, Any]]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        return exceptions(conn, coi=coi, state=state, severity=severity, now=utc_now(),
                          handover_limit=timedelta(hours=handover_hours), scope=scope)


class Signed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    esign: EsignInput | None = Field(None, description="Part 11 e-signature (user id, password, meaning)")
    site: Ident | None = Field(None, description="where QA records it (a registered site id)")
    occurred_at: AwareDatetime | None = Field(None, description="when it happened (RFC 3339 with zone; default: now)")


class DispositionBody(Signed):
    event_hash: EventHash = Field(description="`opened_hash` of the exception: the hash of the event that opened it")
    classification: Literal["no_impact", "deviation", "product_impact"]
    comment: Reason = Field(description="QA's rationale (shown with the signature)")
    deviation_id: DeviationId | None = Field(None, description="the open deviation it is handled in")


class AcknowledgeBody(Signed):
    exception_ids: list[ExceptionId] = Field(min_length=1, max_length=500, description="informational exception ids")
    comment: Reason | None = None


def signed_command(container: Any, principal: Any, event_type: str, body: Signed, data: Callable[[], dict[str, Any]],
                   key: str | None, route: str) -> AppendResponse:
    """Run a dedicated route's command as ``POST /v1/events`` would (same checks and signature)."""
    authorise(principal, event_type)
    request = REQUEST_MODELS[event_type].model_validate({
        "type": event_type, "data": data(), "site": body.site, "occurred_at": body.occurred_at,
        "esign": body.esign.model_dump() if body.esign else None})
    outcome = run_command(container, principal, request, key, route)
    container.metrics.events_appended.inc(len(outcome.result.receipts))
    return append_response(outcome)


@router.post("/exceptions/{exception_id}/disposition", status_code=201, response_model=AppendResponse,
             summary="QA's e-signed disposition of one exception (meaning `reviewed`)")
def disposition(exception_id: ExceptionPath, body: DispositionBody, principal: PrincipalDep,
                container: ContainerDep, idempotency_key: IdempotencyKey = None) -> AppendResponse:
    def data() -> dict[str, Any]:
        return validated(Disposition, {"exception_id": exception_id, **body.model_dump(
            include={"event_hash", "classification", "comment", "deviation_id"})}).model_dump()

    return signed_command(container, principal, ExceptionDispositioned.__name__, body, data, idempotency_key,
                          f"/v1/exceptions/{exception_id}/disposition")


@router.post("/exceptions/acknowledge", status_code=201, response_model=AppendResponse,
             summary="QA acknowledges informational exceptions as a group (e-signature optional, `reviewed`)")
def acknowledge(body: AcknowledgeBody, principal: PrincipalDep, container: ContainerDep,
                idempotency_key: IdempotencyKey = None) -> AppendResponse:
    def data() -> dict[str, Any]:
        return validated(Acknowledgement, body.model_dump(include={"exception_ids", "comment"})).model_dump()

    return signed_command(container, principal, InformationalAcknowledged.__name__, body, data, idempotency_key,
                          "/v1/exceptions/acknowledge")
