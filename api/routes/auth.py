"""POST /v1/auth/token: the OAuth2 password flow for people."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from ledger.domain.users import password_change_due
from ledger.timefmt import utc_now

from ..deps import ContainerDep, PrincipalDep, client_address, oauth2
from ..schemas import PROBLEMS

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=PROBLEMS)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    user_id: str
    roles: list[str]
    password_change_required: bool = False  # a temporary or expired password: the token may only change it


@router.post("/token", response_model=Token, summary="Sign in: user id + password -> bearer token")
def issue_token(form: Annotated[OAuth2PasswordRequestForm, Depends()], container: ContainerDep,
                request: Request) -> Token:
    """Every failure gets the same 401; failed attempts are throttled per client and account (429)."""
    user = container.services.identity.authenticate(form.username, form.password, client=client_address(request))
    minutes = container.settings.token_minutes
    token = container.tokens.issue(form.username, "user", ttl=timedelta(minutes=minutes))
    return Token(access_token=token, expires_in=minutes * 60, user_id=form.username, roles=list(user.roles),
                 password_change_required=password_change_due(user, utc_now()))


@router.post("/refresh", response_model=Token,
             summary="Exchange a live sign-in token for a new one (the old one is revoked)")
def refresh_token(principal: PrincipalDep, token: Annotated[str, Depends(oauth2)],
                  container: ContainerDep) -> Token:
    """Within ``LEDGER_SESSION_MAX_HOURS`` of the sign-in (then ``401 SESSION_EXPIRED``: sign in
    again); a token is refreshed once. Devices' and integrators' tokens are not refreshed."""
    issued = container.services.access.refresh(token)
    seconds = int((issued.record.expires_at - issued.record.issued_at).total_seconds())
    return Token(access_token=issued.token, expires_in=seconds, user_id=principal.id, roles=list(principal.roles))
