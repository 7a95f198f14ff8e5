"""The Part 11 audit trail: JSON pages, or the whole filtered trail as CSV.

Each JSON row says whether it was checked against the sealed event at its position
(``verified``, ``problem``: :mod:`projections.audit_evidence`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from ledger.bootstrap import published_keys
from ledger.timefmt import format_utc
from projections.audit_evidence import check_rows
from projections.audit_query import audit_trail_csv, audit_trail_page

from ..deps import AuditReader, ContainerDep, Cursor, Limit, MinPosition, Scope, fresh
from ..responses import AuditPage
from ..schemas import PROBLEMS

router = APIRouter(prefix="/v1", tags=["audit trail"], responses=PROBLEMS)


def _filters(coi, unit_id, actor, type_, since, until) -> dict[str, Any]:
    return {"coi": coi, "unit_id": str(unit_id) if unit_id else None, "actor": actor, "type": type_,
            "since": format_utc(since) if since else None, "until": format_utc(until) if until else None}


@router.get("/audit-trail", summary="Part 11 audit trail (JSON pages, or CSV with format=csv)",
            response_model=AuditPage, responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
def audit_trail(
    principal: AuditReader, scope: Scope, container: ContainerDep,
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
        page = audit_trail_page(conn, filters, cursor, limit, scope)  # also validates before any CSV is streamed
        if format == "json":
            check_rows(conn, page["items"], published_keys(container.settings), filters)
    if format == "csv":
        def lines():
            with container.engine.connect() as conn:
                yield from audit_trail_csv(conn, filters, scope)

        return StreamingResponse(lines(), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'})
    return page
