"""Read models: cases list, genealogy, custody, conditions, audit trail, review by exception.

Every read accepts ``min_position`` (a write's ``position``): the answer waits, a few seconds
at most, until the read models have applied it (read-your-writes); 503 if they lag behind.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from ledger.errors import InvalidEvent, StorageUnavailable, StreamNotFound
from ledger.timefmt import format_utc, utc_now
from projections.audit_query import audit_trail_csv, audit_trail_page
from projections.cases_query import list_cases
from projections.conditions_query import conditions_for_unit
from projections.custody_query import custody_timeline
from projections.exceptions_query import exceptions
from projections.genealogy_query import genealogy_for_coi, genealogy_for_unit

from ..container import Container
from ..deps import AuditReader, ContainerDep, Reader
from ..responses import AuditPage, CaseList, Conditions, Custody, Genealogy, ReviewException
from ..schemas import PROBLEMS

router = APIRouter(prefix="/v1", tags=["read models"], responses=PROBLEMS)

MinPosition = Annotated[int | None, Query(ge=0, le=2**62, description="wait until this write is visible")]
Cursor = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def fresh(container: Container, min_position: int | None) -> None:
    if not min_position:
        return
    if min_position > container.ledger.last_position():
        raise InvalidEvent(f"no write has reached position {min_position} yet", code="UNKNOWN_POSITION")
    if not container.runner.wait_for(min_position, timeout=5.0):
        raise StorageUnavailable("the read models have not caught up yet; retry shortly", code="NOT_YET_VISIBLE")


def _found(value: Any, what: str, code: str) -> Any:
    if value is None:
        raise StreamNotFound(f"no {what}", code=code)
    return value


@router.get("/cases", summary="List and filter cases (no patient data)",
            response_model=CaseList)
def cases(principal: Reader, container: ContainerDep, status: Annotated[str | None, Query(max_length=32)] = None,
          kind: Literal["autologous", "allogeneic", "donor"] | None = None,
          treating_site: Annotated[str | None, Query(max_length=128)] = None,
          product: Annotated[str | None, Query(max_length=128)] = None,
          cursor: Cursor = None, limit: Limit = 50, min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        return list_cases(conn, status=status, kind=kind, treating_site=treating_site, product=product,
                          cursor=cursor, limit=limit)


@router.get("/cases/{coi}/genealogy", summary="Genealogy of a case: nodes and edges, up and down",
            response_model=Genealogy)
def case_genealogy(coi: str, principal: Reader, container: ContainerDep,
                   min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        return _found(genealogy_for_coi(conn, coi.upper()), f"case {coi}", "CASE_NOT_FOUND")


@router.get("/units/{unit_id}/genealogy", summary="Genealogy of a unit: ancestors and descendants",
            response_model=Genealogy)
def unit_genealogy(unit_id: UUID, principal: Reader, container: ContainerDep,
                   min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        return _found(genealogy_for_unit(conn, str(unit_id)), f"unit {unit_id}", "UNIT_NOT_FOUND")


@router.get("/units/{unit_id}/custody", summary="Custody timeline: holders, transfers, shipments, gaps",
            response_model=Custody)
def custody(unit_id: UUID, principal: Reader, container: ContainerDep,
            min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        return _found(custody_timeline(conn, str(unit_id), now=utc_now()), f"unit {unit_id}", "UNIT_NOT_FOUND")


@router.get("/units/{unit_id}/conditions", summary="Temperature summary, excursions and readings",
            response_model=Conditions)
def conditions(unit_id: UUID, principal: Reader, container: ContainerDep, limit: Limit = 1000,
               cursor: Cursor = None, downsample: bool = False, min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        return _found(conditions_for_unit(conn, str(unit_id), limit=limit, cursor=cursor, downsample=downsample),
                      f"unit {unit_id}", "UNIT_NOT_FOUND")


def _filters(coi, unit_id, actor, type_, since, until) -> dict[str, Any]:
    return {"coi": coi, "unit_id": str(unit_id) if unit_id else None, "actor": actor, "type": type_,
            "since": format_utc(since) if since else None, "until": format_utc(until) if until else None}


@router.get("/audit-trail", summary="Part 11 audit trail (JSON pages, or CSV with format=csv)",
            response_model=AuditPage, responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
def audit_trail(
    principal: AuditReader, container: ContainerDep,
    coi: Annotated[str | None, Query(max_length=32)] = None, unit_id: UUID | None = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    type: Annotated[str | None, Query(max_length=64)] = None,  # noqa: A002 - the documented filter name
    since: datetime | None = None, until: datetime | None = None,
    cursor: Cursor = None, limit: Limit = 100, format: Literal["json", "csv"] = "json",  # noqa: A002
    min_position: MinPosition = None,
):
    fresh(container, min_position)
    filters = _filters(coi, unit_id, actor, type, since, until)
    with container.engine.connect() as conn:
        page = audit_trail_page(conn, filters, cursor, limit)  # also validates before any CSV is streamed
    if format == "csv":
        def lines():
            with container.engine.connect() as conn:
                yield from audit_trail_csv(conn, filters)

        return StreamingResponse(lines(), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'})
    return page


@router.get("/exceptions", summary="Review by exception: what QA must look at before release",
            response_model=list[ReviewException])
def review(principal: AuditReader, container: ContainerDep, coi: Annotated[str | None, Query(max_length=32)] = None,
           status: Literal["open", "resolved", "all"] = "open",
           handover_hours: Annotated[float, Query(gt=0, le=720)] = 2.0,
           min_position: MinPosition = None) -> list[dict[str, Any]]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        return exceptions(conn, coi=coi, status=status, now=utc_now(), handover_limit=timedelta(hours=handover_hours))
