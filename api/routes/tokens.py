"""Long-lived tokens for devices and integrator accounts, listing and revocation.

People get tokens only by signing in (``/v1/auth/token``, ``/v1/auth/refresh``). Issuing a
long-lived token and revoking any token are events (``TokenIssued``, ``TokenRevoked``) on the
holder's stream. An admin may revoke any token; every principal may revoke its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from ledger.services.token_store import TokenRecord

from ..authority import authorise_account, permits
from ..deps import Admin, ContainerDep, PrincipalDep, authorise, context_for
from ..requests import Ident, Name, Reason
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses=PROBLEMS)


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: Ident | None = None
    user: Ident | None = Field(default=None, description="an integrator account (its only role: integrator)")
    days: int = Field(default=365, ge=1, le=3650, description="at most LEDGER_TOKEN_MAX_DAYS (365 by default)")
    label: Name | None = None


class IssuedToken(BaseModel):
    access_token: str
    token_id: str
    principal: str
    kind: str
    expires_in: int


class TokenInfo(BaseModel):
    """A token as listed: never the token itself nor its digest."""

    token_id: str
    principal: str
    kind: str
    label: str | None
    issued_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, record: TokenRecord) -> TokenInfo:
        return cls(token_id=record.token_id, principal=record.principal, kind=record.kind, label=record.label,
                   issued_at=record.issued_at, expires_at=record.expires_at, revoked_at=record.revoked_at)


@router.post("", status_code=201, response_model=IssuedToken,
             summary="Long-lived, revocable token for a device or an integrator account (never a person)")
def issue_token(body: TokenRequest, principal: Admin, container: ContainerDep) -> IssuedToken:
    """A person's account (any role but ``integrator``) is refused with ``403 PERSON_TOKEN_REFUSED``;
    more days than ``LEDGER_TOKEN_MAX_DAYS`` with ``422 TOKEN_LIFETIME_TOO_LONG``."""
    issued = container.services.access.issue_long_lived(
        context_for(principal, site=None), device=body.device, user=body.user, days=body.days, label=body.label)
    record = issued.record
    return IssuedToken(access_token=issued.token, token_id=record.token_id, principal=record.principal,
                       kind=record.kind, expires_in=body.days * 86400)


@router.get("", response_model=list[TokenInfo],
            summary="Tokens: an admin sees everyone's (or one principal's), anyone else their own")
def list_tokens(principal: PrincipalDep, container: ContainerDep,
                holder: Annotated[Ident | None, Query(alias="principal", description="only this principal's")] = None,
                ended: Annotated[bool, Query(description="include revoked and expired tokens")] = False,
                ) -> list[TokenInfo]:
    if holder is None and not permits(principal, "admin"):
        holder = principal.id
    if holder != principal.id:
        authorise(principal, "admin")
    records = container.services.access.store.listing(holder, include_ended=ended)
    return [TokenInfo.of(r) for r in records]


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


@router.post("/{token_id}/revoke", status_code=201, response_model=AppendResponse,
             summary="Revoke a token now (recorded as TokenRevoked): an admin any, anyone their own")
def revoke_token(token_id: Ident, body: Revocation, principal: PrincipalDep, container: ContainerDep) -> AppendResponse:
    access = container.services.access
    record = access.token(token_id)
    authorise_account(principal, record.principal, None, device=record.kind == "device")
    return append_response(access.revoke(context_for(principal, site=None), token_id=token_id, reason=body.reason))
