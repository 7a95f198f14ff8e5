"""The program's figures: needle-to-needle days (planned, actual), the on-time rate (orders kept
to their first booked plan) and slot utilisation, over the orders and capacity the reader may see
(the same scope as ``GET /v1/orders``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ledger.domain.orders import capacity_days
from ledger.domain.plan_rules import require_plan_years
from ledger.timefmt import utc_now
from projections.program_query import figures

from ..deps import ContainerDep, MinPosition, Reader, fresh
from ..schemas import PROBLEMS
from .orders import order_sites

router = APIRouter(prefix="/v1/program", tags=["orders"], responses=PROBLEMS)


class Summary(BaseModel):
    count: int
    median: float | None
    mean: float | None


class NeedleToNeedle(BaseModel):
    planned: Summary = Field(description="infusion window start - apheresis day of each held plan (days)")
    actual: Summary = Field(description="infused - collected, for infused cases (days)")


class OnTime(BaseModel):
    judged: int = Field(description="orders that hold or held a plan")
    on_time: int
    rate: float | None
    late_orders: list[str] = Field(description="orders whose infusion slipped past their first booked plan")


class Utilisation(BaseModel):
    slots: int
    booked: int
    rate: float | None


class Figures(BaseModel):
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    orders: int = Field(description="orders in scope, cancelled ones excluded")
    needle_to_needle_days: NeedleToNeedle
    on_time: OnTime
    slot_utilisation: dict[str, Utilisation] = Field(description="per resource, days from..to")


def default_range(first: date | None, last: date | None) -> tuple[date, date]:
    """Both given, or the 30 days before and after today."""
    today = utc_now().date()
    require_plan_years(*(day for day in (first, last) if day), code="CAPACITY_RANGE")
    first = first or today - timedelta(days=30)
    last = last or first + timedelta(days=60)
    capacity_days(first, last)  # the same bounds as capacity reads (at most 366 days, forwards)
    return first, last


@router.get("/figures", response_model=Figures, response_model_by_alias=True,
            summary="Needle-to-needle days, on-time rate and slot utilisation, read-scoped")
def program_figures(principal: Reader, container: ContainerDep,
                    first: Annotated[date | None, Query(alias="from")] = None,
                    last: Annotated[date | None, Query(alias="to")] = None,
                    min_position: MinPosition = None) -> dict[str, Any]:
    first, last = default_range(first, last)
    fresh(container, min_position)
    with container.engine.connect() as conn:
        return figures(conn, sites=order_sites(principal), first=first, last=last)
