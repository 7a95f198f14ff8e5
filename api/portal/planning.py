"""The program pages: the capacity board (``/portal/capacity``), an order's planned vs actual
timeline (``/portal/orders/{id}``) and the program's figures (``/portal/program``). Read-scoped
like ``GET /v1/orders``: a reader bound to sites sees those sites' orders and capacity."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ledger.errors import LedgerError
from ledger.timefmt import utc_now
from projections.orchestration_query import actuals, order_row
from projections.program_query import board, figures, plan_slots

from ..routes.orders import order_sites, view
from ..routes.program import default_range
from . import board as drawing
from . import session
from .render import page

router = APIRouter(prefix="/portal", include_in_schema=False)
Day = Annotated[date | None, Query(alias="from")]


def _signed_in(request: Request):
    try:
        return session.current_principal(request)
    except session.SignedOut:
        return None


def _visible_row(conn, principal, order_id: str):
    row = order_row(conn, order_id[:128])
    sites = order_sites(principal)
    if row is None or not (sites is None or row["treating_site"] in sites or row["plant"] in sites):
        return None
    return row


@router.get("/capacity")
def capacity_board(request: Request, first: Day = None, last: Annotated[date | None, Query(alias="to")] = None,
                   order: Annotated[str | None, Query(max_length=128)] = None) -> Response:
    principal = _signed_in(request)
    if principal is None:
        return session.to_login(request)
    container = session.container_of(request)
    today = utc_now().date()
    try:
        first, last = default_range(first or today - timedelta(days=21), last or today + timedelta(days=35))
    except LedgerError as exc:
        return page(request, "missing.html", {"what": exc.detail}, principal=principal, status=422)
    container.runner.wait_for(container.ledger.last_position())
    with container.engine.connect() as conn:
        rows = board(conn, sites=order_sites(principal), first=first, last=last)
        row = _visible_row(conn, principal, order) if order else None
    if order and row is None:
        return page(request, "missing.html", {"what": f"No order {order[:128]}."}, principal=principal, status=404)
    now_slots = plan_slots(row["plan"]) if row else set()
    first_slots = plan_slots(row["first_plan"]) if row else set()
    drawn = drawing.build(rows, first, last, now_slots=now_slots, first_slots=first_slots)
    return page(request, "capacity.html", {"board": drawn, "first": first, "last": last, "order": row,
                                           "moved": row is not None and now_slots != first_slots},
                principal=principal)


@router.get("/orders/{order_id}")
def order_page(request: Request, order_id: str) -> Response:
    principal = _signed_in(request)
    if principal is None:
        return session.to_login(request)
    container = session.container_of(request)
    container.runner.wait_for(container.ledger.last_position())
    with container.engine.connect() as conn:
        row = _visible_row(conn, principal, order_id)
        if row is None:
            return page(request, "missing.html", {"what": f"No order {order_id[:128]}."}, principal=principal,
                        status=404)
        shown = view(conn, row)
        shown["actuals"] = actuals(conn, row["coi"])
    return page(request, "order.html", {"order": shown}, principal=principal)


@router.get("/program")
def program_page(request: Request, first: Day = None,
                 last: Annotated[date | None, Query(alias="to")] = None) -> Response:
    principal = _signed_in(request)
    if principal is None:
        return session.to_login(request)
    container = session.container_of(request)
    try:
        first, last = default_range(first, last)
    except LedgerError as exc:
        return page(request, "missing.html", {"what": exc.detail}, principal=principal, status=422)
    container.runner.wait_for(container.ledger.last_position())
    with container.engine.connect() as conn:
        found = figures(conn, sites=order_sites(principal), first=first, last=last)
    return page(request, "program.html", {"figures": found}, principal=principal)
