"""QA's work queue: every case in scope with its stage, open exceptions by severity, due date and figures."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ledger.timefmt import utc_now
from projections.review_queue_query import review_queue
from projections.search_query import MAX_QUERY, SEARCH_HELP, matching_cois

from ..deps import AuditReader, ContainerDep, Cursor, Limit, MinPosition, Scope, fresh
from ..responses import ReviewQueue
from ..schemas import PROBLEMS

router = APIRouter(prefix="/v1", tags=["exceptions"], responses=PROBLEMS)

Stage = Literal["awaiting_review", "awaiting_release", "released", "infused", "in_progress"]
Severity = Literal["coi_critical", "gmp", "informational"]


@router.get("/review-queue", response_model=ReviewQueue,
            summary="QA's work queue: one row per case in scope (stage, open exceptions by severity, due date, "
                    "figures), filtered, sorted and searched")
def queue(principal: AuditReader, scope: Scope, container: ContainerDep,
          stage: Stage | None = None,
          severity: Annotated[Severity | None, Query(description="only cases with an open exception of this "
                                                                 "severity")] = None,
          site: Annotated[str | None, Query(max_length=128, description="only cases that involve this site")] = None,
          q: Annotated[str | None, Query(max_length=MAX_QUERY, description=SEARCH_HELP)] = None,
          sort: Annotated[Literal["age", "due", "coi", "open"], Query(
              description="age: oldest open exception first; due: earliest expiry first; coi; open: most open "
                          "COI-critical, then GMP, then informational exceptions first")] = "age",
          cursor: Cursor = None, limit: Limit = 50, min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        cois = matching_cois(conn, q, scope) if q and q.strip() else None
        return review_queue(conn, now=utc_now(), stage=stage, severity=severity, site=site, cois=cois, sort=sort,
                            cursor=cursor, limit=limit, scope=scope)
