"""POST /v1/auth/token: the OAuth2 password flow for people."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from ..deps import ContainerDep
from ..schemas import PROBLEMS

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=PROBLEMS)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    user_id: str
    roles: list[str]


@router.post("/token", response_model=Token, summary="Sign in: user id + password -> bearer token")
def issue_token(form: Annotated[OAuth2PasswordRequestForm, Depends()], container: ContainerDep) -> Token:
    """Every failed attempt is recorded as ``AccessDenied``; the 5th in a row locks the account."""
    user = container.services.identity.authenticate(form.username, form.password)
    minutes = container.settings.token_minutes
    token = container.tokens.issue(form.username, "user", ttl=timedelta(minutes=minutes))
    return Token(access_token=token, expires_in=minutes * 60, user_id=form.username, roles=list(user.roles))
