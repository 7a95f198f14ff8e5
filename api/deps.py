"""FastAPI dependencies (``Annotated``): the container, the authenticated principal, its authority
(``api.authority.authorise``) and the ledger context of a write."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer

from ledger.domain.qualification import fold_qualification, unqualified_roles
from ledger.domain.tokens import is_service_account
from ledger.domain.users import password_change_due
from ledger.envelope import canonical
from ledger.errors import Forbidden, InvalidEvent, StorageUnavailable, StreamNotFound, Unauthorised
from ledger.services.executor import Context
from ledger.services.token_store import TOKEN_PREFIX, digest
from ledger.store.admission import has_control_character
from ledger.store.application import Claim
from ledger.streams import device_stream, user_stream
from ledger.timefmt import utc_now
from projections.scope_query import ReadScope, case_visible, unit_visible

from .authority import Principal, authorise, permits, read_scope
from .container import Container
from .principals import Holder

__all__ = ["Principal", "ReadScope", "authorise"]

oauth2 = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


# The dependencies are ``async def`` where they never block: FastAPI runs a plain ``def`` dependency
# in the thread pool, one hand-off per dependency per request (a fifth of a read's server CPU in
# B4's profile). What may block (a token not yet cached) goes to the pool itself.


async def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


async def refuse_control_characters(request: Request) -> None:
    """App-wide: no query or path parameter with a control character reaches a route or SQL
    (PostgreSQL text cannot hold U+0000)."""
    params = [*request.query_params.multi_items(), *request.path_params.items()]
    for name, value in params:
        if has_control_character(f"{name}{value}", multiline=False):
            raise InvalidEvent(f"parameter {name[:64]!r} holds a control character", code="CONTROL_CHARACTER")


async def get_principal(request: Request, container: ContainerDep,
                        token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    if not token:
        raise Unauthorised("a bearer token is required", code="UNAUTHENTICATED")
    holder = cached_holder(container, token)
    if holder is None:  # two queries: off the event loop
        holder = await run_in_threadpool(token_holder, container, token)
    return principal_of(request, container, holder)


def principal_for_token(request: Request, container: Container, token: str) -> Principal:
    """:func:`get_principal` for a caller on a worker thread (the portal's session cookie)."""
    return principal_of(request, container, token_holder(container, token))


def principal_of(request: Request, container: Container, holder: Holder | None) -> Principal:
    """The principal a token's holder acts as, judged now; refused when the token, device or
    account may no longer act."""
    record = holder.record if holder else None
    if holder is None or record is None or record.revoked:
        raise Unauthorised("the token is unknown or revoked", code="INVALID_TOKEN")
    if record.expires_at is not None and record.expires_at <= utc_now():
        raise Unauthorised("the token has expired", code="TOKEN_EXPIRED")
    if record.kind == "device":
        device = holder.device
        assert device is not None
        if device.version == 0 or device.deactivated:
            raise Unauthorised("the device is unknown or deactivated", code="INVALID_TOKEN")
        principal = Principal(record.principal, "device", ("device",), (device.site,) if device.site else ())
    else:
        user, qualification = holder.user, holder.qualification
        assert user is not None and qualification is not None
        if not user.active:
            raise Unauthorised("the account is deactivated or locked", code="ACCOUNT_INACTIVE")
        if record.kind == "integrator" and not is_service_account(user):
            raise Unauthorised("a long-lived token is void once its account holds a person's role",
                               code="INVALID_TOKEN")
        principal = Principal(user.user_id or record.principal, "user", tuple(user.roles), tuple(user.sites),
                              user.printed_name, unqualified_roles(
                                  user, qualification, utc_now(), container.services.identity.required_training))
        if record.kind == "user":
            require_password_current(request, user)
    request.state.principal_id = principal.id
    return principal


def cached_holder(container: Container, token: str) -> Holder | None:
    """The token's holder from the process's cache (``api.principals``), without blocking; None
    when it is not there (or the token is malformed: :func:`token_holder` says so)."""
    if container.principals is None or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return container.principals.get(digest(token))


def token_holder(container: Container, token: str) -> Holder | None:
    """The token's record and its holder's state: from the process's cache
    (``api.principals``), else two queries (then cached). None for an unknown token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    holder = cached_holder(container, token)
    if holder is not None:
        return holder
    cache = container.principals
    generation = cache.generation() if cache is not None else 0
    record = container.tokens.lookup(token)
    if record is None:
        return None  # unknown tokens are not kept: anyone could fill the cache with them
    reads = container.services.reads()
    if record.kind == "device":
        holder = Holder(record, device_stream(record.principal), device=reads.device(record.principal))
    else:
        stream = user_stream(record.principal)
        holder = Holder(record, stream, user=reads.user(record.principal),
                        qualification=fold_qualification(reads.envelopes(stream)))
    if cache is not None:
        cache.put(digest(token), holder, generation)
    return holder


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def client_address(request: Request) -> str | None:
    """The caller's address, for the sign-in throttle (behind a proxy: uvicorn's
    ``--proxy-headers`` with ``--forwarded-allow-ips`` puts the client's address here)."""
    return request.client.host if request.client else None


def password_change_route(endpoint):
    """Mark the one route a user whose password must be changed may still call."""
    endpoint.password_change_route = True
    return endpoint


def require_password_current(request: Request, user) -> None:
    """A person signed in with a temporary (admin-reset) or expired password may only change it:
    every other route answers 403 ``PASSWORD_CHANGE_REQUIRED``."""
    if password_change_due(user, utc_now()) and not getattr(request.scope.get("endpoint"),
                                                            "password_change_route", False):
        raise Forbidden("the password must be changed first: POST /v1/auth/password",
                        code="PASSWORD_CHANGE_REQUIRED")


def authorised(action: str):
    """A dependency: the signed-in principal, authorised for ``action`` (``authorise``)."""

    async def check(principal: PrincipalDep) -> Principal:
        return authorise(principal, action)

    return check


Reader = Annotated[Principal, Depends(authorised("read"))]
AuditReader = Annotated[Principal, Depends(authorised("read_audit"))]
Admin = Annotated[Principal, Depends(authorised("admin"))]
Scanner = Annotated[Principal, Depends(authorised("scan"))]
EpcisReader = Annotated[Principal, Depends(authorised("query_epcis"))]


async def get_read_scope(principal: PrincipalDep) -> ReadScope:
    return read_scope(principal)


Scope = Annotated[ReadScope, Depends(get_read_scope)]
"""What the signed-in principal may read (``api.authority.read_scope``): handed to every query."""

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[!-~]([ -~]*[!-~])?$",
    description="Retry-safe writes: the same key and body return the first answer; another body is refused (409)",
)]


def context_for(principal: Principal, *, site: str | None, occurred_at: str | None = None,
                idempotency_key: str | None = None, request_body: object = None, route: str = "",
                on_behalf: str | None = None, device_sig: dict | None = None,
                backfill_reason: str | None = None) -> Context:
    """The ledger context of one request: actor, site (authorised), idempotency claim, the site
    scope of its writes (``ledger.services.scope``: the principal's sites, narrowed to the ``site``
    the caller names; none for a principal bound to no site), and whether it may record a backfill
    (the executor decides whether it is one)."""
    scope = (site,) if site and principal.sites else principal.sites
    site = site or (principal.sites[0] if principal.sites else None)
    authorise(principal, None, site)
    claim = None
    if idempotency_key is not None:
        body = canonical({"route": route, "body": request_body})  # a 422 for what JSON cannot carry
        claim = Claim(f"{principal.id}\x00{idempotency_key}", hashlib.sha256(body).hexdigest())
    return Context(actor=principal.id, on_behalf=on_behalf, site=site, occurred_at=occurred_at,
                   device=principal.id if principal.kind == "device" else None, device_sig=device_sig,
                   claim=claim, scope=scope, may_backfill=permits(principal, "backfill"),
                   backfill_reason=backfill_reason)


MinPosition = Annotated[int | None, Query(ge=0, le=2**62, description="wait until this write is visible")]
Cursor = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def fresh(container: Container, min_position: int | None) -> None:
    """Read-your-writes: wait (a few seconds at most) until the read models have applied the
    write at ``min_position``; 503 if they lag behind."""
    if not min_position:
        return
    if min_position > container.ledger.last_position():
        raise InvalidEvent(f"no write has reached position {min_position} yet", code="UNKNOWN_POSITION")
    if not container.runner.wait_for(min_position, timeout=5.0):
        raise StorageUnavailable("the read models have not caught up yet; retry shortly", code="NOT_YET_VISIBLE")


def found(value: Any, what: str, code: str) -> Any:
    if value is None:
        raise StreamNotFound(f"no {what}", code=code)
    return value


def _visible(container: Container, scope: ReadScope, check: Any) -> bool:
    """``check(conn)`` in scope; on a miss, again once the read models have applied the whole log
    (a case or unit written a moment ago is in scope as soon as it is readable)."""
    if scope.everything:
        return True
    with container.engine.connect() as conn:
        if check(conn):
            return True
    if not container.runner.wait_for(container.ledger.last_position(), timeout=5.0):
        return False
    with container.engine.connect() as conn:
        return check(conn)


def case_in_scope(container: Container, scope: ReadScope, coi: str) -> str:
    """``coi`` if the case is in ``scope``; else 404 exactly as for an unknown case."""
    if not _visible(container, scope, lambda conn: case_visible(conn, scope, coi)):
        raise StreamNotFound(f"no case {coi}", code="CASE_NOT_FOUND")
    return coi


def unit_in_scope(container: Container, scope: ReadScope, unit_id: Any) -> None:
    """Nothing if the unit is in ``scope``; else 404 exactly as for an unknown unit."""
    if not _visible(container, scope, lambda conn: unit_visible(conn, scope, str(unit_id))):
        raise StreamNotFound(f"no unit {unit_id}", code="UNIT_NOT_FOUND")
