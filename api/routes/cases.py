"""Cases: enrolment and the case summary."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ledger.errors import Forbidden, StreamNotFound
from ledger.streams import case_stream
from ledger.timefmt import format_utc
from projections.cases_query import case_summary

from ..commands import COMMANDS, Ident, Name, Secret
from ..deps import ContainerDep, IdempotencyKey, PrincipalDep, Reader, context_for
from ..policy import EVENT_ROLES
from ..responses import CaseSummary
from ..schemas import PROBLEMS, AppendResponse, append_response
from ..views import case_view
from .reads import MinPosition, fresh

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=PROBLEMS)


class Enrolment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["autologous", "allogeneic"] = Field(description="autologous or allogeneic")
    product: Name = Field(description="the therapy's product name")
    treating_site: Ident = Field(description="the site that treats the patient (a registered site id)")
    mrn: Secret = Field(description="patient record number: pseudonymised on arrival, never stored")
    collection_site: Ident | None = Field(None,
        description="where the material is collected, when not the treating site")
    protocol: Name | None = Field(None, description="the clinical protocol or study, if any")
    site: Ident | None = Field(None, description="where the enrolment is recorded (default: treating_site)")
    occurred_at: AwareDatetime | None = Field(None, description="when it happened (RFC 3339 with zone; default: now)")


@router.post("", status_code=201, response_model=AppendResponse,
             summary="Enrol a patient: returns the COI id (answer.coi); the MRN is only kept as a pseudonym")
def enrol(body: Enrolment, principal: PrincipalDep, container: ContainerDep,
          idempotency_key: IdempotencyKey = None) -> AppendResponse:
    if not principal.may(EVENT_ROLES["CaseEnrolled"]):
        raise Forbidden(f"role(s) {', '.join(principal.roles)} may not enrol patients")
    dumped = body.model_dump(mode="json")
    ctx = context_for(principal, site=COMMANDS["CaseEnrolled"].site(body, body.site),
                      occurred_at=format_utc(body.occurred_at) if body.occurred_at else None,
                      idempotency_key=idempotency_key, request_body=dumped, route="/v1/cases")
    outcome = container.services.cases.enrol(
        ctx, kind=body.kind, product=body.product, treating_site=body.treating_site, mrn=body.mrn,
        collection_site=body.collection_site, protocol=body.protocol)
    container.metrics.events_appended.inc(len(outcome.result.receipts))
    return append_response(outcome)


@router.get("/{coi}", summary="Case summary and status", response_model=CaseSummary)
def get_case(coi: str, principal: Reader, container: ContainerDep, min_position: MinPosition = None) -> dict[str, Any]:
    case = container.services.reads().case(case_stream(coi.upper()))
    if case.version == 0:
        raise StreamNotFound(f"no case {coi}", code="CASE_NOT_FOUND")
    fresh(container, min_position)
    with container.engine.connect() as conn:
        row = case_summary(conn, case.coi or coi.upper()) or {}
    return case_view(case, row)
