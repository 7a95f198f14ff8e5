"""The portal's session: the API's own bearer token, carried in a cookie scoped to ``/portal``.

* Signing in calls the same ``authenticate()`` as ``POST /v1/auth/token`` (failures are
  recorded as ``AccessDenied`` and throttled per client and account) and issues the same kind of
  token; an account whose password must be changed is sent to the API to change it.
* The cookie is HttpOnly, SameSite=Strict, Secure when the request came over https or the
  service is configured as reached over HTTPS only (``LEDGER_HTTPS``), and its path is
  ``/portal``: the API routes never receive it and keep accepting bearer headers only.
* Idle timeout (``LEDGER_PORTAL_IDLE_MINUTES``): a second cookie holds the time of the session's
  last request, MACed with the session token under the token secret; a request later than the
  timeout (by the server clock), or without a valid one, revokes the token and goes to sign-in.
  Each request of a live session renews it (:class:`PortalActivity`, a middleware).
* Every request resolves the token exactly as the API does (:func:`api.deps.principal_of`):
  revoked, expired, deactivated or locked means signed out.
* POST forms carry a CSRF token: before sign-in a random value double-submitted in its own
  cookie; after sign-in an HMAC of the session token under the ledger's token secret.
* Signing out revokes the token server-side (not only the cookie).
* E-signatures in portal forms (21 CFR 11.200(a)(1)): the first signing of a session takes the
  user id and the password; once one succeeded (a cookie MACed with the session token says so),
  later forms offer the user id filled in and take the password again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.errors import LedgerError

from ..authority import permits
from ..container import Container
from ..deps import Principal, principal_for_token

COOKIE = "ledger_portal"
LOGIN_CSRF_COOKIE = "ledger_portal_login"
ACTIVITY_COOKIE = "ledger_portal_seen"
SIGNED_COOKIE = "ledger_portal_signed"
COOKIE_PATH = "/portal"


class SignedOut(Exception):
    """No valid session: the caller is sent to the sign-in page."""


def container_of(request: Request) -> Container:
    return request.app.state.container


def session_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def current_principal(request: Request) -> Principal:
    """The principal of the session cookie, checked exactly as a bearer token is."""
    token = session_token(request)
    if not token:
        raise SignedOut
    try:
        principal = principal_for_token(request, container_of(request), token)
    except LedgerError:
        raise SignedOut from None
    if not may_use_portal(principal):
        raise SignedOut
    if not _active(request, token):
        container_of(request).tokens.revoke(token)
        raise SignedOut
    request.state.portal_session = token
    return principal


def may_use_portal(principal: Principal) -> bool:
    return principal.kind == "user" and permits(principal, "read")


def may_audit(principal: Principal) -> bool:
    return permits(principal, "read_audit")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or container_of(request).settings.https


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=_secure(request))


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_secure(request))


def start_session(response: Response, request: Request, user_id: str) -> None:
    container = container_of(request)
    minutes = container.settings.token_minutes
    token = container.tokens.issue(user_id, "user", ttl=timedelta(minutes=minutes), label="portal")
    set_cookie(response, request, COOKIE, token, max_age=minutes * 60)
    _mark_active(response, request, token)
    clear_cookie(response, request, LOGIN_CSRF_COOKIE)


def end_session(response: Response, request: Request) -> None:
    """Revoke this session's token (only this one: the user's API tokens stay valid)."""
    token = session_token(request)
    if token:
        container_of(request).tokens.revoke(token)
    clear_cookie(response, request, COOKIE)
    clear_cookie(response, request, ACTIVITY_COOKIE)
    clear_cookie(response, request, SIGNED_COOKIE)


# -- idle timeout -------------------------------------------------------------------------------


def _now(request: Request) -> int:
    return int(container_of(request).ledger.clock().timestamp())  # the server clock


def _activity_mac(request: Request, token: str, seconds: str) -> str:
    key = container_of(request).settings.token_secret.get_secret_value().encode()
    return hmac.new(key, b"portal-seen\x00" + token.encode() + b"\x00" + seconds.encode(), hashlib.sha256).hexdigest()


def _mark_active(response: Response, request: Request, token: str) -> None:
    seconds = str(_now(request))
    set_cookie(response, request, ACTIVITY_COOKIE, f"{seconds}.{_activity_mac(request, token, seconds)}", None)


def _active(request: Request, token: str) -> bool:
    seconds, _, mac = (request.cookies.get(ACTIVITY_COOKIE) or "").partition(".")
    if not seconds.isdigit() or not hmac.compare_digest(mac, _activity_mac(request, token, seconds)):
        return False
    idle = container_of(request).settings.portal_idle_minutes * 60
    return _now(request) - int(seconds) <= idle


class PortalActivity:
    """Pure ASGI middleware: a portal request of a live session renews its last-activity cookie
    (not when the answer itself signs in or out, i.e. sets the session cookie)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def renewing(message: Message) -> None:
            token = scope.get("state", {}).get("portal_session")
            if token and message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if not any(cookie.startswith(f"{COOKIE}=") for cookie in headers.getlist("set-cookie")):
                    carrier = Response()
                    _mark_active(carrier, Request(scope), token)
                    for cookie in carrier.headers.getlist("set-cookie"):
                        headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, renewing)


# -- CSRF ---------------------------------------------------------------------------------------


def session_csrf(request: Request) -> str:
    token = session_token(request) or ""
    key = container_of(request).settings.token_secret.get_secret_value().encode()
    return hmac.new(key, b"portal-csrf\x00" + token.encode(), hashlib.sha256).hexdigest()


def check_session_csrf(request: Request, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session_csrf(request), submitted or "")


def login_csrf(request: Request) -> str:
    """The pre-session CSRF value (reuse the cookie's if there is one)."""
    existing = request.cookies.get(LOGIN_CSRF_COOKIE)
    return existing if existing and len(existing) <= 100 else secrets.token_urlsafe(24)


def check_login_csrf(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    return bool(cookie) and bool(submitted) and hmac.compare_digest(cookie, submitted or "")


# -- a series of signings (21 CFR 11.200(a)(1)) ----------------------------------------------------


def _signed_mac(request: Request, token: str) -> str:
    key = container_of(request).settings.token_secret.get_secret_value().encode()
    return hmac.new(key, b"portal-signed\x00" + token.encode(), hashlib.sha256).hexdigest()


def has_signed(request: Request) -> bool:
    """Whether this session has executed a signing already (with both components: user id and
    password). Its later signings are then offered with the user id filled in; the password is
    re-entered for every one. A new session (sign-in, idle timeout) starts a new series."""
    token = session_token(request)
    return bool(token) and hmac.compare_digest(request.cookies.get(SIGNED_COOKIE) or "", _signed_mac(request, token))


def mark_signed(response: Response, request: Request) -> None:
    token = session_token(request)
    if token:
        set_cookie(response, request, SIGNED_COOKIE, _signed_mac(request, token), None)


# -- redirects ----------------------------------------------------------------------------------


def safe_next(target: str | None) -> str:
    """Only a local portal path is a place to return to after sign-in."""
    if target and target.startswith("/portal/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/portal/cases"


def to_login(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/portal/login?next={quote(safe_next(here), safe='')}", status_code=303)
