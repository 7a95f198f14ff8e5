"""Templates and the headers every portal response carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from ..deps import Principal
from . import text
from .session import may_audit, session_csrf

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
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    return secure(response)
