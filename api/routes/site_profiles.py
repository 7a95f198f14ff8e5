"""Sites' planning profiles: what a registered site does (apheresis, manufacturing, QC,
infusion), its IANA time zone and its calendar (closed weekdays, holidays). Set by an
administrator or a program manager (one bound to sites: for its own); read by every reader."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from ledger.domain.events_orders import Capability, SiteProfileSet, TimeZone, Weekday
from ledger.errors import StreamNotFound
from projections.orchestration_query import site_profiles

from ..deps import ContainerDep, IdempotencyKey, MinPosition, PrincipalDep, Reader, authorise, context_for, fresh
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1/sites", tags=["planning master data"], responses=PROBLEMS)

SitePath = Annotated[str, Path(min_length=1, max_length=128, description="a registered site id")]


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    capabilities: Annotated[list[Capability], Field(min_length=1, max_length=4)] = Field(
        description="what the site does: apheresis, manufacturing, qc, infusion")
    tz: TimeZone = Field(description="IANA time zone name, e.g. Europe/Amsterdam: the site's local days")
    closed_weekdays: Annotated[list[Weekday], Field(max_length=7)] = Field(
        [5, 6], description="weekdays the site is closed (Monday 0 ... Sunday 6)")
    holidays: Annotated[list[date], Field(max_length=400)] = Field([], description="local days it is closed")


class ProfileView(Profile):
    site: str


@router.post("/{site_id}/profile", status_code=201, response_model=AppendResponse,
             summary="Set a registered site's planning profile: capabilities, time zone, calendar")
def set_profile(site_id: SitePath, body: Profile, principal: PrincipalDep, container: ContainerDep,
                idempotency_key: IdempotencyKey = None) -> AppendResponse:
    authorise(principal, SiteProfileSet.__name__, site_id)
    ctx = context_for(principal, site=site_id, idempotency_key=idempotency_key,
                      request_body=body.model_dump(mode="json"), route=f"/v1/sites/{site_id}/profile")
    return append_response(container.services.orders.set_site_profile(ctx, site=site_id, **body.model_dump()))


@router.get("/{site_id}/profile", summary="A site's planning profile", response_model=ProfileView)
def get_profile(site_id: SitePath, principal: Reader, container: ContainerDep,
                min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        found = site_profiles(conn, site_id)
    if not found:
        raise StreamNotFound(f"site {site_id} has no planning profile", code="SITE_NOT_FOUND")
    site = found[0]
    return {"site": site.id, "capabilities": sorted(site.capabilities), "tz": site.tz,
            "closed_weekdays": sorted(site.closed_weekdays), "holidays": sorted(site.holidays)}
