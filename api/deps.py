"""FastAPI dependencies (``Annotated``): the container, the authenticated principal, role checks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer

from ledger.application import Claim
from ledger.envelope import canonical
from ledger.errors import Forbidden, Unauthorised
from ledger.services.executor import Context
from ledger.timefmt import utc_now

from .container import Container
from .policy import PERMISSIONS, allowed

oauth2 = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


@dataclass(frozen=True)
class Principal:
    id: str
    kind: str  # user | device
    roles: tuple[str, ...]
    sites: tuple[str, ...]
    printed_name: str | None = None

    def may(self, permitted: tuple[str, ...]) -> bool:
        return allowed(self.roles, permitted)

    def check_site(self, site: str | None) -> None:
        if site is not None and self.sites and site not in self.sites:
            raise Forbidden(f"{self.id} may not act at site {site!r}", code="SITE_FORBIDDEN")


def get_principal(request: Request, container: ContainerDep,
                  token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    if not token:
        raise Unauthorised("a bearer token is required", code="UNAUTHENTICATED")
    record = container.tokens.lookup(token)
    if record is None or record.revoked:
        raise Unauthorised("the token is unknown or revoked", code="INVALID_TOKEN")
    if record.expires_at is not None and record.expires_at <= utc_now():
        raise Unauthorised("the token has expired", code="TOKEN_EXPIRED")
    reads = container.services.reads()
    if record.kind == "device":
        device = reads.device(record.principal)
        if device.version == 0 or device.deactivated:
            raise Unauthorised("the device is unknown or deactivated", code="INVALID_TOKEN")
        principal = Principal(record.principal, "device", ("device",), (device.site,) if device.site else ())
    else:
        user = reads.user(record.principal)
        if not user.active:
            raise Unauthorised("the account is deactivated or locked", code="ACCOUNT_INACTIVE")
        principal = Principal(user.user_id or record.principal, "user", tuple(user.roles), tuple(user.sites),
                              user.printed_name)
    request.state.principal_id = principal.id
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(permission: str):
    """A dependency that lets through only the roles ``PERMISSIONS[permission]`` names."""
    permitted = PERMISSIONS[permission]

    def check(principal: PrincipalDep) -> Principal:
        if not principal.may(permitted):
            raise Forbidden(f"role(s) {', '.join(principal.roles)} may not {permission.replace('_', ' ')}")
        return principal

    return check


Reader = Annotated[Principal, Depends(require("read"))]
AuditReader = Annotated[Principal, Depends(require("read_audit"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Scanner = Annotated[Principal, Depends(require("scan"))]

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[!-~]([ -~]*[!-~])?$",
    description="Retry-safe writes: the same key and body return the first answer; another body is refused (409)",
)]


def context_for(principal: Principal, *, site: str | None, occurred_at: str | None = None,
                idempotency_key: str | None = None, request_body: object = None, route: str = "",
                on_behalf: str | None = None, device_sig: dict | None = None) -> Context:
    """The ledger context of one request: actor, site (checked), idempotency claim."""
    site = site or (principal.sites[0] if principal.sites else None)
    principal.check_site(site)
    claim = None
    if idempotency_key is not None:
        body = canonical({"route": route, "body": request_body})  # a 422 for what JSON cannot carry
        claim = Claim(f"{principal.id}\x00{idempotency_key}", hashlib.sha256(body).hexdigest())
    return Context(actor=principal.id, on_behalf=on_behalf, site=site, occurred_at=occurred_at,
                   device=principal.id if principal.kind == "device" else None, device_sig=device_sig,
                   claim=claim)
