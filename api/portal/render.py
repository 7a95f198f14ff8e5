"""Templates and the headers every portal response carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from projections.alerts_query import alerts as alerts_in_scope
from projections.alerts_query import open_in_scope

from ..authority import read_scope
from ..deps import Principal
from . import text
from .session import container_of, may_audit, session_csrf

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
text.install(templates.env)

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def page(request: Request, name: str, context: dict[str, Any], *, principal: Principal | None = None,
         status: int = 200) -> Response:
    base: dict[str, Any] = {"principal": principal, "can_audit": bool(principal and may_audit(principal))}
    if principal is not None:
        base["csrf"] = session_csrf(request)
        base["bell"] = bell(request, principal)
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    return secure(response)


BELL_LIST = 5


def bell(request: Request, principal: Principal) -> dict[str, Any]:
    """The header's alert bell: how many alerts of the signed-in user's sites are open, the newest few."""
    scope = read_scope(principal)
    with container_of(request).engine.connect() as conn:
        return {"count": open_in_scope(conn, scope), "alerts": alerts_in_scope(conn, scope, limit=BELL_LIST)}
