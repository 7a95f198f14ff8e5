"""Review by exception: what QA must look at before release."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ledger.timefmt import utc_now
from projections.exceptions_query import exceptions

from ..deps import AuditReader, ContainerDep, MinPosition, Scope, fresh
from ..responses import ReviewException
from ..schemas import PROBLEMS

router = APIRouter(prefix="/v1", tags=["exceptions"], responses=PROBLEMS)


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
