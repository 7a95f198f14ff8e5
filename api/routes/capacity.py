"""Capacity: slots per site, resource (apheresis chairs, manufacturing suites) and local day.
Declared for a range of days in one request by an administrator or a program manager (one bound
to sites: at its own); read per day (slots, booked, free) by every reader."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from ledger.domain.events_orders import CapacityDeclared, Resource, Slots
from ledger.domain.orders import capacity_days
from projections.orchestration_query import capacity

from ..deps import ContainerDep, IdempotencyKey, MinPosition, PrincipalDep, Reader, authorise, context_for, fresh
from ..requests import Ident
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1/capacity", tags=["planning master data"], responses=PROBLEMS)


class Declaration(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    site: Ident = Field(description="a site with a planning profile that has this capability")
    resource: Resource = Field(description="apheresis (chairs) or manufacturing (suites)")
    first: date = Field(alias="from", description="first local day")
    last: date = Field(alias="to", description="last local day (at most 366 days after `from`)")
    slots: Slots = Field(description="slots on each of those days (never below those booked)")


class Day(BaseModel):
    day: date
    resource: str
    slots: int
    booked: int
    free: int


class CapacityView(BaseModel):
    site: str
    days: list[Day]


@router.post("", status_code=201, response_model=AppendResponse,
             summary="Declare a site's slots of one resource for each local day of a range")
def declare(body: Declaration, principal: PrincipalDep, container: ContainerDep,
            idempotency_key: IdempotencyKey = None) -> AppendResponse:
    authorise(principal, CapacityDeclared.__name__, body.site)
    ctx = context_for(principal, site=body.site, idempotency_key=idempotency_key,
                      request_body=body.model_dump(mode="json", by_alias=True), route="/v1/capacity")
    return append_response(container.services.orders.declare_capacity(
        ctx, site=body.site, resource=body.resource, first=body.first, last=body.last, slots=body.slots))


@router.get("", summary="A site's capacity per local day and resource: slots, booked, free",
            response_model=CapacityView)
def read(principal: Reader, container: ContainerDep, site: Annotated[str, Query(min_length=1, max_length=128)],
         first: Annotated[date, Query(alias="from")], last: Annotated[date, Query(alias="to")],
         min_position: MinPosition = None) -> dict[str, Any]:
    capacity_days(first, last)  # the same bounds as a declaration
    fresh(container, min_position)
    with container.engine.connect() as conn:
        return {"site": site, "days": capacity(conn, site, first, last)}
