"""GS1 EPCIS 2.0: POST /v1/epcis/capture and GET /v1/epcis/events (see docs/EPCIS.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ledger.errors import InvalidEvent, PayloadTooLarge, StreamNotFound
from projections.scope_query import visible_units

from ..authority import permits
from ..deps import ContainerDep, EpcisReader, PrincipalDep, Scope, fresh
from ..epcis import cbv
from ..epcis.capture import capture
from ..epcis.query import Filters, query, query_document
from ..epcis.sensors import utc
from ..epcis.validation import MAX_BYTES
from ..schemas import PROBLEMS

router = APIRouter(prefix="/v1/epcis", tags=["epcis"], responses=PROBLEMS)
LD_JSON = "application/ld+json"
Text = Annotated[str | None, Query(max_length=512)]

CAPTURE_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": (
        "an EPCISDocument, or one bare event as the EPCIS 2.0 REST binding allows")}},
    LD_JSON: {"schema": {"type": "object"}}}}}


@router.post("/capture", summary="Capture an EPCIS 2.0 document (or one event): validated, "
             "mapped onto domain commands, all or nothing; idempotent per document",
             status_code=201, openapi_extra=CAPTURE_BODY,
             responses={200: {"description": "this document was captured before: the first result"}})
async def post_capture(request: Request, principal: PrincipalDep, container: ContainerDep,
                       coi: Annotated[str | None, Query(max_length=32, description=(
                           "the case units commissioned by this document belong to"))] = None
                       ) -> JSONResponse:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BYTES:
            raise PayloadTooLarge(f"an EPCIS document may have at most {MAX_BYTES} bytes",
                                  code="EPCIS_TOO_LARGE")
    result, created = await run_in_threadpool(capture, container, principal, bytes(body), coi=coi)
    return JSONResponse(result, status_code=201 if created else 200)


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    moment = utc(value)
    if moment is None:
        raise InvalidEvent(f"{name} must be an RFC 3339 date-time with a zone", code="INVALID_QUERY")
    return moment


@router.get("/events", summary="EPCIS 2.0 query: a case's, a unit's or an EPC's events as an "
            "EPCISQueryDocument", response_class=JSONResponse,
            responses={200: {"content": {LD_JSON: {"schema": {"type": "object"}}}}})
def get_events(
    request: Request, principal: EpcisReader, visible: Scope, container: ContainerDep,
    coi: Annotated[str | None, Query(max_length=32)] = None, unit_id: UUID | None = None,
    epc: Text = None, eventType: Text = None, GE_eventTime: Text = None,  # noqa: N803 - EPCIS names
    LT_eventTime: Text = None, MATCH_epc: Text = None, EQ_bizStep: Text = None,  # noqa: N803
    perPage: Annotated[int, Query(ge=1, le=1000)] = 100,  # noqa: N803
    nextPageToken: Annotated[str | None, Query(max_length=200)] = None,  # noqa: N803
    min_position: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> JSONResponse:
    if sum(x is not None for x in (coi, unit_id, epc)) != 1:
        raise InvalidEvent("name exactly one of coi, unit_id or epc", code="INVALID_QUERY")
    fresh(container, min_position)
    scope: dict[str, Any] = {"coi": coi.upper()} if coi else {"unit_id": str(unit_id)} if unit_id else {}
    if epc is not None:
        from ..epcis.capture import resolver

        found = resolver(container)(epc)
        if not visible.everything:  # a unit out of scope is not named, nor counted as a match
            with container.engine.connect() as conn:
                found = [u for u in found if str(u) in visible_units(conn, visible, [str(u)])]
        if len(found) != 1:
            raise StreamNotFound(f"no unit carries {epc}" if not found else f"{epc} is ambiguous",
                                 code="EPC_NOT_FOUND")
        scope = {"unit_id": str(found[0])}
    step = cbv.term("bizStep", EQ_bizStep) if EQ_bizStep else None
    filters = Filters(
        event_types=frozenset(t.strip() for t in (eventType or "").split(",") if t.strip()),
        ge_time=_time(GE_eventTime, "GE_eventTime"), lt_time=_time(LT_eventTime, "LT_eventTime"),
        match_epc=tuple(e.strip() for e in (MATCH_epc or "").split(",") if e.strip()), biz_step=step)
    with container.engine.connect() as conn:
        events, token = query(conn, container.ledger, scope, filters, nextPageToken, perPage,
                              visible=visible, audit=permits(principal, "read_audit"))
    headers = {}
    if token:
        headers["Link"] = f'<{request.url.include_query_params(nextPageToken=token)}>; rel="next"'
    return JSONResponse(query_document(events, token), media_type=LD_JSON, headers=headers)
