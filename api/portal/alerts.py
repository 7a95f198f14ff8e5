"""The portal's alerts page: the alerts of the signed-in user's sites (read scope)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from projections.alerts_query import alerts

from ..authority import read_scope
from . import session
from .render import page

router = APIRouter(prefix="/portal", include_in_schema=False)


@router.get("/alerts")
def alerts_page(request: Request, state: Literal["open", "cleared", "all"] = "open") -> Response:
    try:
        principal = session.current_principal(request)
    except session.SignedOut:
        return session.to_login(request)
    with session.container_of(request).engine.connect() as conn:
        rows = alerts(conn, read_scope(principal), state=state)
    return page(request, "alerts.html", {"rows": rows, "state": state}, principal=principal)
