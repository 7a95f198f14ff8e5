"""Deviations: opened by QA for exceptions classified ``deviation``, closed with a CAPA reference
(e-signed ``approved``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from ledger.datatypes import validated
from ledger.domain.events_case import CoiId
from ledger.domain.events_review import DeviationClosed, DeviationId, DeviationOpened, ExceptionId
from ledger.errors import StreamNotFound
from ledger.services.review import CloseDeviation, OpenDeviation

from ..deps import AuditReader, ContainerDep, IdempotencyKey, PrincipalDep, Scope, case_in_scope
from ..requests import Ident
from ..schemas import PROBLEMS, AppendResponse
from .exceptions import Signed, signed_command

router = APIRouter(prefix="/v1/deviations", tags=["exceptions"], responses=PROBLEMS)

DeviationPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]


class OpenBody(Signed):
    deviation_id: DeviationId = Field(description="QA's deviation number, e.g. DEV-2026-014")
    title: str = Field(min_length=1, max_length=2000, description="what deviated")
    coi: CoiId | None = Field(None, description="the case it concerns, if one")
    exception_ids: list[ExceptionId] = Field(default_factory=list, max_length=500,
                                             description="the exceptions it covers")


class CloseBody(Signed):
    capa: Ident = Field(description="the CAPA reference")
    outcome: str = Field(min_length=1, max_length=2000, description="the investigation's outcome")


class Deviation(BaseModel):
    deviation_id: str
    title: str
    coi: str | None = None
    exception_ids: list[str]
    state: Literal["open", "closed"]
    capa: str | None = None


@router.post("", status_code=201, response_model=AppendResponse, summary="QA opens a deviation")
def open_deviation(body: OpenBody, principal: PrincipalDep, container: ContainerDep,
                   idempotency_key: IdempotencyKey = None) -> AppendResponse:
    def data() -> dict[str, Any]:
        return validated(OpenDeviation, body.model_dump(include={"deviation_id", "title", "coi", "exception_ids"})
                         ).model_dump()

    return signed_command(container, principal, DeviationOpened.__name__, body, data, idempotency_key,
                          "/v1/deviations")


@router.post("/{deviation_id}/close", status_code=201, response_model=AppendResponse,
             summary="QA closes a deviation with its CAPA reference (e-signed `approved`)")
def close_deviation(deviation_id: DeviationPath, body: CloseBody, principal: PrincipalDep, container: ContainerDep,
                    idempotency_key: IdempotencyKey = None) -> AppendResponse:
    def data() -> dict[str, Any]:
        return validated(CloseDeviation, {"deviation_id": deviation_id, **body.model_dump(include={"capa", "outcome"})}
                         ).model_dump()

    return signed_command(container, principal, DeviationClosed.__name__, body, data, idempotency_key,
                          f"/v1/deviations/{deviation_id}/close")


@router.get("/{deviation_id}", response_model=Deviation, summary="A deviation: what it covers, open or closed")
def deviation(deviation_id: DeviationPath, principal: AuditReader, scope: Scope,
              container: ContainerDep) -> dict[str, Any]:
    state = container.services.review.deviation(deviation_id)
    if not state.opened or (not scope.everything and state.coi is None):
        raise StreamNotFound(f"no deviation {deviation_id}", code="DEVIATION_NOT_FOUND")
    if state.coi is not None:
        try:
            case_in_scope(container, scope, state.coi)
        except StreamNotFound:
            raise StreamNotFound(f"no deviation {deviation_id}", code="DEVIATION_NOT_FOUND") from None
    return {"deviation_id": state.deviation_id, "title": state.title, "coi": state.coi,
            "exception_ids": list(state.exception_ids), "state": "closed" if state.closed else "open",
            "capa": state.capa}
