"""The portal's pages: sign in and out, case search, the case page, static assets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from ledger.domain.users import password_change_due
from ledger.errors import LedgerError
from ledger.timefmt import utc_now
from projections.cases import STATUSES

from ..authority import read_scope
from ..deps import client_address
from ..policy import PERMISSIONS, allowed
from . import search, session
from .casedata import load_case
from .downloads import available
from .render import STATIC, page, secure

router = APIRouter(prefix="/portal", include_in_schema=False)

GENERIC_FAILURE = {"WRONG_PASSWORD", "INVALID_CREDENTIALS", "PASSWORD_NOT_SET"}
STATIC_FILES = {"portal.css": "text/css", "portal.js": "text/javascript"}
Text = Annotated[str, Form(max_length=200)]


@router.get("")
@router.get("/")  # typed by hand often; answered here rather than by an unmatched slash redirect
def home() -> RedirectResponse:
    return RedirectResponse("/portal/cases", status_code=303)


@router.get("/login")
def login_form(request: Request, next: Annotated[str | None, Query(max_length=500)] = None,
               signed_out: bool = False) -> Response:
    try:
        session.current_principal(request)
        return RedirectResponse(session.safe_next(next), status_code=303)
    except session.SignedOut:
        pass
    return _login_page(request, next, notice="You are signed out." if signed_out else None)


def _login_page(request: Request, next: str | None, *, error: str | None = None, notice: str | None = None,
                user_id: str = "", status: int = 200) -> Response:
    token = session.login_csrf(request)
    response = page(request, "login.html", {"login_csrf": token, "next": session.safe_next(next), "error": error,
                                            "notice": notice, "user_id": user_id}, status=status)
    session.set_cookie(response, request, session.LOGIN_CSRF_COOKIE, token, max_age=1800)
    return response


@router.post("/login")
def login(request: Request, username: Text, password: Text, csrf_token: Text,
          next: Annotated[str, Form(max_length=500)] = "/portal/cases") -> Response:
    if not session.check_login_csrf(request, csrf_token):
        return _login_page(request, next, error="The form expired. Please sign in again.", status=400)
    container = session.container_of(request)
    try:
        user = container.services.identity.authenticate(username, password, client=client_address(request))
    except LedgerError as exc:  # recorded as AccessDenied by the ledger before it is raised
        message = ("Wrong user id or password." if exc.code in GENERIC_FAILURE
                   else f"Sign-in refused: {exc.detail}")
        return _login_page(request, next, error=message, user_id=username,
                           status=429 if exc.status == 429 else 401)
    if "device" in user.roles or not allowed(user.roles, PERMISSIONS["read"]):
        return _login_page(request, next, error="This account cannot use the portal.", status=403)
    if password_change_due(user, utc_now()):
        return _login_page(request, next, status=403, error="Your password must be changed first "
                           "(POST /v1/auth/password, or ask an administrator).")
    response = RedirectResponse(session.safe_next(next), status_code=303)
    session.start_session(response, request, username)
    return secure(response)


@router.post("/logout")
def logout(request: Request, csrf_token: Text) -> Response:
    if session.session_token(request) and not session.check_session_csrf(request, csrf_token):
        return secure(Response("The form expired; reload the page and sign out again.", status_code=400))
    response = RedirectResponse("/portal/login?signed_out=true", status_code=303)
    session.end_session(response, request)
    return secure(response)


@router.get("/cases")
def cases(request: Request,
          q: Annotated[str | None, Query(max_length=200)] = None,
          status: Annotated[str | None, Query(max_length=32)] = None,
          site: Annotated[str | None, Query(max_length=128)] = None,
          since: Annotated[str | None, Query(max_length=10)] = None,
          until: Annotated[str | None, Query(max_length=10)] = None) -> Response:
    try:
        principal = session.current_principal(request)
    except session.SignedOut:
        return session.to_login(request)
    container = session.container_of(request)
    form = {"q": (q or "").strip(), "status": status or "", "site": (site or "").strip(),
            "since": since or "", "until": until or ""}
    with container.engine.connect() as conn:
        if form["q"]:
            hit = search.resolve(conn, form["q"], read_scope(principal))
            if hit.redirect:
                return secure(RedirectResponse(hit.redirect, status_code=303))
            return page(request, "cases.html", {"form": form, "statuses": STATUSES, "result": hit,
                                                "cases": [], "searched": True}, principal=principal)
        found, truncated, problem = search.filter_cases(
            conn, **{k: form[k] for k in ("status", "site", "since", "until")}, scope=read_scope(principal))
    return page(request, "cases.html", {"form": form, "statuses": STATUSES, "cases": found, "truncated": truncated,
                                        "problem": problem, "result": None,
                                        "searched": any(form.values())}, principal=principal)


@router.get("/cases/{coi}")
def case_page(request: Request, coi: str) -> Response:
    try:
        principal = session.current_principal(request)
    except session.SignedOut:
        return session.to_login(request)
    context = load_case(session.container_of(request), principal, coi[:64])
    if context is None:
        return page(request, "missing.html", {"what": f"No case with COI {coi[:64]}."}, principal=principal,
                    status=404)
    context["downloads"] = available(request)
    return page(request, "case.html", context, principal=principal)


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        return secure(Response("not found", status_code=404))
    response = FileResponse(STATIC / name, media_type=STATIC_FILES[name])
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
