"""Passwords: a person changes their own (``POST /v1/auth/password``); an administrator resets one.

A reset sets a temporary password and ends the user's sessions; until the user changes it, a
sign-in gives a token that may only call ``POST /v1/auth/password`` (``api.deps.require_password_current``).
No password ever reaches an event or a log: the events say only that a change or reset happened.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ..deps import Admin, ContainerDep, Principal, authorised, client_address, context_for, password_change_route
from ..requests import Reason, Secret
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1", tags=["auth"], responses=PROBLEMS)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: Secret = Field(description="the password (or temporary password) signed in with")
    new_password: Secret = Field(description="the new password; it must meet the policy (422 WEAK_PASSWORD)")


@router.post("/auth/password", status_code=201, response_model=AppendResponse,
             summary="Change your own password (the only route open while a change is required)")
@password_change_route
def change_password(body: PasswordChange, request: Request, container: ContainerDep,
                    principal: Annotated[Principal, Depends(authorised("change_own_password"))]) -> AppendResponse:
    return append_response(container.services.identity.change_password(
        context_for(principal, site=None), current=body.current_password, new=body.new_password,
        client=client_address(request)))


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Secret = Field(description="a temporary password, to be changed at the next sign-in")
    reason: Reason


@router.post("/users/{user_id}/password", status_code=201, response_model=AppendResponse,
             summary="Reset a user's password: a temporary one, to be changed at the next sign-in")
def reset_password(user_id: str, body: PasswordReset, principal: Admin, container: ContainerDep) -> AppendResponse:
    outcome = container.services.identity.reset_password(
        context_for(principal, site=None), user_id=user_id, password=body.password, reason=body.reason)
    container.tokens.revoke_all(user_id)
    return append_response(outcome)
