"""Courier lanes between sites with planning profiles: transit time, cut-off (origin local time)
and the weekdays they run. Defined (and defined again to change) by an administrator or a program
manager (one bound to sites: between its own); read by every reader."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ledger.domain.events_orders import LaneDefined, LocalTime, TransitHours, Weekday
from projections.orchestration_query import lanes as all_lanes

from ..deps import ContainerDep, IdempotencyKey, MinPosition, PrincipalDep, Reader, authorise, context_for, fresh
from ..requests import Ident
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1/lanes", tags=["planning master data"], responses=PROBLEMS)


class LaneBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lane: Ident = Field(description="the lane's id")
    origin: Ident = Field(description="where it departs (a site with a planning profile)")
    destination: Ident = Field(description="where it arrives")
    transit_hours: TransitHours = Field(description="hours from departure to arrival")
    cutoff: LocalTime = Field(description="departure time, HH:MM in the origin's local time")
    days: Annotated[list[Weekday], Field(min_length=1, max_length=7)] = Field(
        [0, 1, 2, 3, 4], description="weekdays it runs (Monday 0 ... Sunday 6)")


class LaneView(BaseModel):
    lane: str
    origin: str
    destination: str
    transit_hours: float
    cutoff: str
    days: list[int]


class LaneList(BaseModel):
    lanes: list[LaneView]


@router.post("", status_code=201, response_model=AppendResponse, summary="Define (or redefine) a courier lane")
def define(body: LaneBody, principal: PrincipalDep, container: ContainerDep,
           idempotency_key: IdempotencyKey = None) -> AppendResponse:
    # A site-bound manager defines lanes from or to one of its sites (and changes only lanes that
    # involve one of them: the executor's scope check).
    end = next((s for s in (body.origin, body.destination) if s in principal.sites), body.origin)
    authorise(principal, LaneDefined.__name__, end)
    ctx = context_for(principal, site=None, idempotency_key=idempotency_key,
                      request_body=body.model_dump(mode="json"), route="/v1/lanes")
    return append_response(container.services.orders.define_lane(ctx, **body.model_dump()))


@router.get("", summary="Every courier lane", response_model=LaneList)
def lanes(principal: Reader, container: ContainerDep, min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        found = all_lanes(conn)
    return {"lanes": [{"lane": lane.id, "origin": lane.origin, "destination": lane.destination,
                       "transit_hours": lane.transit_hours, "cutoff": lane.cutoff.strftime("%H:%M"),
                       "days": sorted(lane.days)} for lane in found]}
