"""Downloads with the portal session: GET only, under ``/portal/...``.

The API's own routes accept only bearer tokens; the portal never changes that. Instead each
download here either runs the same query the API runs (the CSV audit trail) or forwards the
request in process to the API route with the session's token as a bearer header (the dossier
and the EPCIS export, built by their own routes, which therefore apply their own permissions).
A route that this deployment does not have answers 404, and the case page offers no button.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from projections.audit_query import audit_trail_csv
from projections.cases_query import case_summary
from projections.scope_query import case_visible

from ..authority import read_scope
from . import session
from .render import page, secure

router = APIRouter(prefix="/portal/cases/{coi}", include_in_schema=False)

DOSSIER = "/v1/cases/{coi}/dossier"
EPCIS = "/v1/epcis/events"
PASSED_HEADERS = ("content-type", "content-disposition", "content-length", "etag", "last-modified")


def api_has(request: Request, path: str) -> bool:
    """Whether this deployment's API has ``GET path`` (read from its OpenAPI schema, built once)."""
    return "get" in request.app.openapi().get("paths", {}).get(path, {})


def available(request: Request) -> dict[str, bool]:
    return {"dossier": api_has(request, DOSSIER), "epcis": api_has(request, EPCIS)}


def _signed_in(request: Request, coi: str):
    """The principal and the case's COI (None: no such case, or none it may read)."""
    principal = session.current_principal(request)
    with session.container_of(request).engine.connect() as conn:
        found = case_summary(conn, coi.upper())
        if found is not None and not case_visible(conn, read_scope(principal), found["coi"]):
            found = None
    return principal, (found["coi"] if found else None)


@router.get("/audit-trail.csv")
def audit_csv(request: Request, coi: str) -> Response:
    try:
        principal, case = _signed_in(request, coi)
    except session.SignedOut:
        return session.to_login(request)
    if not session.may_audit(principal):
        return page(request, "missing.html", {"what": "Your role may not read the audit trail."},
                    principal=principal, status=403)
    if case is None:
        return page(request, "missing.html", {"what": f"No case with COI {coi[:64]}."}, principal=principal,
                    status=404)
    engine = session.container_of(request).engine

    def lines():
        with engine.connect() as conn:
            yield from audit_trail_csv(conn, {"coi": case}, read_scope(principal))

    return secure(StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="audit-trail-{case}.csv"'}))


async def _forward(request: Request, coi: str, path: str, params: dict[str, str], filename: str) -> Response:
    try:
        principal, case = _signed_in(request, coi)
    except session.SignedOut:
        return session.to_login(request)
    if case is None:
        return page(request, "missing.html", {"what": f"No case with COI {coi[:64]}."}, principal=principal,
                    status=404)
    transport = httpx.ASGITransport(app=request.app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {session.session_token(request)}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.internal") as client:
        answer = await client.get(path.format(coi=quote(case, safe="")), params=params, headers=headers)
    if answer.status_code != 200:
        what = {403: "Your role may not download this.", 404: "This download is not available."}.get(
            answer.status_code, f"The download failed ({answer.status_code}).")
        return page(request, "missing.html", {"what": what}, principal=principal,
                    status=answer.status_code if answer.status_code in (403, 404) else 502)
    passed = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_HEADERS}
    passed.setdefault("content-disposition", f'attachment; filename="{filename}"')
    return secure(Response(answer.content, status_code=200, headers=passed))


@router.get("/dossier.json")
async def dossier_json(request: Request, coi: str) -> Response:
    if not api_has(request, DOSSIER):
        return secure(Response("This deployment has no dossier route.", status_code=404, media_type="text/plain"))
    return await _forward(request, coi, DOSSIER, {}, f"dossier-{coi[:64]}.json")


@router.get("/dossier.pdf")
async def dossier_pdf(request: Request, coi: str) -> Response:
    if not api_has(request, DOSSIER):
        return secure(Response("This deployment has no dossier route.", status_code=404, media_type="text/plain"))
    return await _forward(request, coi, DOSSIER, {"format": "pdf"}, f"dossier-{coi[:64]}.pdf")


@router.get("/epcis.json")
async def epcis(request: Request, coi: str) -> Response:
    if not api_has(request, EPCIS):
        return secure(Response("This deployment has no EPCIS export.", status_code=404, media_type="text/plain"))
    return await _forward(request, coi, EPCIS, {"coi": coi.upper()}, f"epcis-{coi[:64]}.json")
