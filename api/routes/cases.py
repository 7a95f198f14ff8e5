"""Cases: enrolment, the list of cases, a case's summary and its genealogy.

Every read accepts ``min_position`` (a write's ``position``): the answer waits, a few seconds
at most, until the read models have applied it (read-your-writes); 503 if they lag behind.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, ConfigDict, Field

from ledger.domain.events_case import CaseEnrolled
from ledger.errors import StreamNotFound
from ledger.services.cases import Enrol
from ledger.streams import case_stream
from ledger.timefmt import format_utc
from projections.cases_query import case_summary, list_cases
from projections.genealogy_query import genealogy_for_coi
from projections.search_query import MAX_QUERY, SEARCH_HELP, matching_cois

from ..commands import COMMANDS
from ..deps import (
    ContainerDep,
    Cursor,
    IdempotencyKey,
    Limit,
    MinPosition,
    PrincipalDep,
    Reader,
    Scope,
    authorise,
    case_in_scope,
    context_for,
    found,
    fresh,
)
from ..requests import BackfillReason, Ident
from ..responses import CaseList, CaseSummary, Genealogy
from ..schemas import PROBLEMS, AppendResponse, append_response
from ..views import case_view

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=PROBLEMS)


class Enrolment(Enrol):
    model_config = ConfigDict(extra="forbid")
    site: Ident | None = Field(None, description="where the enrolment is recorded (default: treating_site)")
    occurred_at: AwareDatetime | None = Field(None, description="when it happened (RFC 3339 with zone; default: now)")
    backfill_reason: BackfillReason = None


@router.post("", status_code=201, response_model=AppendResponse,
             summary="Enrol a patient: returns the COI id (answer.coi); the MRN is only kept as a pseudonym")
def enrol(body: Enrolment, principal: PrincipalDep, container: ContainerDep,
          idempotency_key: IdempotencyKey = None) -> AppendResponse:
    authorise(principal, CaseEnrolled.__name__)
    ctx = context_for(principal, site=COMMANDS[CaseEnrolled.__name__].site(body, body.site),
                      occurred_at=format_utc(body.occurred_at) if body.occurred_at else None,
                      idempotency_key=idempotency_key, request_body=body.model_dump(mode="json"), route="/v1/cases",
                      backfill_reason=body.backfill_reason)
    outcome = container.services.cases.enrol(
        ctx, kind=body.kind, product=body.product, treating_site=body.treating_site, mrn=body.mrn,
        collection_site=body.collection_site, protocol=body.protocol)
    container.metrics.events_appended.inc(len(outcome.result.receipts))
    return append_response(outcome)


@router.get("", summary="List and filter cases (no patient data)", response_model=CaseList)
def cases(principal: Reader, scope: Scope, container: ContainerDep,
          status: Annotated[str | None, Query(max_length=32)] = None,
          kind: Literal["autologous", "allogeneic", "donor"] | None = None,
          treating_site: Annotated[str | None, Query(max_length=128)] = None,
          product: Annotated[str | None, Query(max_length=128)] = None,
          q: Annotated[str | None, Query(max_length=MAX_QUERY, description=SEARCH_HELP)] = None,
          cursor: Cursor = None, limit: Limit = 50, min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        cois = matching_cois(conn, q, scope) if q and q.strip() else None
        return list_cases(conn, status=status, kind=kind, treating_site=treating_site, product=product,
                          cursor=cursor, limit=limit, scope=scope, cois=cois)


@router.get("/{coi}", summary="Case summary and status", response_model=CaseSummary)
def get_case(coi: str, principal: Reader, scope: Scope, container: ContainerDep,
             min_position: MinPosition = None) -> dict[str, Any]:
    case_in_scope(container, scope, coi.upper())
    case = container.services.reads().case(case_stream(coi.upper()))
    if case.version == 0:
        raise StreamNotFound(f"no case {coi}", code="CASE_NOT_FOUND")
    fresh(container, min_position)
    with container.engine.connect() as conn:
        row = case_summary(conn, case.coi or coi.upper()) or {}
    return case_view(case, row)


@router.get("/{coi}/genealogy", summary="Genealogy of a case: nodes and edges, up and down",
            response_model=Genealogy)
def case_genealogy(coi: str, principal: Reader, scope: Scope, container: ContainerDep,
                   min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    case_in_scope(container, scope, coi.upper())
    with container.engine.connect() as conn:
        return found(genealogy_for_coi(conn, coi.upper(), scope), f"case {coi}", "CASE_NOT_FOUND")
